from django.conf import settings
from django.db import models


class AuditAction(models.TextChoices):
    KEY_CREATED = "KEY_CREATED", "Key created"
    KEY_UPDATED = "KEY_UPDATED", "Key updated"
    KEY_ROTATED = "KEY_ROTATED", "Key rotated"
    KEY_ENABLED = "KEY_ENABLED", "Key enabled"
    KEY_DISABLED = "KEY_DISABLED", "Key disabled"
    KEY_DELETED = "KEY_DELETED", "Key deleted"
    BYOK_REVERTED = "BYOK_REVERTED", "Reverted to platform keys"
    CONNECTION_TESTED = "CONNECTION_TESTED", "Connection tested"
    SESSION_REFRESHED = "SESSION_REFRESHED", "Session refreshed"
    SESSION_REFRESH_FAILED = "SESSION_REFRESH_FAILED", "Session refresh failed"
    KEY_EXPIRED = "KEY_EXPIRED", "Key expired"
    FALLBACK_ACTIVATED = "FALLBACK_ACTIVATED", "Fell back to platform credentials"
    BYOK_RECOVERED = "BYOK_RECOVERED", "Back on own credentials"
    PLAN_CHANGED = "PLAN_CHANGED", "Plan changed"
    MEMBER_ADDED = "MEMBER_ADDED", "Member added"
    MEMBER_REMOVED = "MEMBER_REMOVED", "Member removed"
    MEMBER_ROLE_CHANGED = "MEMBER_ROLE_CHANGED", "Member role changed"
    OWNERSHIP_TRANSFERRED = "OWNERSHIP_TRANSFERRED", "Ownership transferred"
    ENCRYPTION_KEY_ROTATED = "ENCRYPTION_KEY_ROTATED", "Encryption key rotated"


class AuditEvent(models.Model):
    """One recorded change. Written in the same transaction as the change; never holds a secret.

    References to users, workspaces and keys carry no database constraint: the trail outlives what it describes.
    """

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    action = models.CharField(max_length=40, choices=AuditAction.choices, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.DO_NOTHING, db_constraint=False,
        related_name="+",
    )
    actor_label = models.CharField(max_length=150, help_text="Username, or system:<task> for the system.")
    actor_ip = models.GenericIPAddressField(null=True, blank=True)
    actor_user_agent = models.CharField(max_length=512, blank=True)
    request_id = models.CharField(max_length=64, blank=True, db_index=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.DO_NOTHING, db_constraint=False,
        related_name="+",
    )
    workspace = models.ForeignKey(
        "accounts.Workspace", null=True, blank=True, on_delete=models.DO_NOTHING, db_constraint=False,
        related_name="+",
    )
    target_key_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    target_hint = models.CharField(max_length=64, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["owner", "id"], name="audit_owner_id")]

    def __str__(self) -> str:
        return f"{self.action} by {self.actor_label} at {self.created_at:%Y-%m-%d %H:%M:%S}"
