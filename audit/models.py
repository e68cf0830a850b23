from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

GENESIS_HASH = "0" * 64


class AppendOnlyViolation(RuntimeError):
    """Something tried to change or delete a recorded audit event."""


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
    API_KEY_CREATED = "API_KEY_CREATED", "API key created"
    API_KEY_REVOKED = "API_KEY_REVOKED", "API key revoked"
    API_TOKEN_CREATED = "API_TOKEN_CREATED", "API token created"
    API_TOKEN_REVOKED = "API_TOKEN_REVOKED", "API token revoked"
    LOGIN_LOCKED_OUT = "LOGIN_LOCKED_OUT", "Sign-in locked out"
    INVITATION_SENT = "INVITATION_SENT", "Invitation sent"
    INVITATION_ACCEPTED = "INVITATION_ACCEPTED", "Invitation accepted"
    INVITATION_REVOKED = "INVITATION_REVOKED", "Invitation revoked"
    CATALOG_CHANGED = "CATALOG_CHANGED", "Model catalog changed"
    MODEL_RETIRED = "MODEL_RETIRED", "Model retired"
    PLAN_UPGRADE_REQUESTED = "PLAN_UPGRADE_REQUESTED", "Plan upgrade requested"
    USAGE_LIMIT_SET = "USAGE_LIMIT_SET", "Usage limit set"
    USAGE_LIMIT_REMOVED = "USAGE_LIMIT_REMOVED", "Usage limit removed"
    USAGE_LIMIT_THRESHOLD = "USAGE_LIMIT_THRESHOLD", "Usage limit threshold reached"
    PLAN_CEILING_SET = "PLAN_CEILING_SET", "Plan ceiling set"
    PLAN_CEILING_REMOVED = "PLAN_CEILING_REMOVED", "Plan ceiling removed"


def audit_action_choices() -> list[tuple[str, str]]:
    return AuditAction.choices


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyViolation("Audit events are append-only; they cannot be updated.")

    def bulk_update(self, objs, fields, batch_size=None):
        raise AppendOnlyViolation("Audit events are append-only; they cannot be updated.")

    def delete(self):
        raise AppendOnlyViolation("Audit events are append-only; they cannot be deleted.")

    def link_into_chain(
        self, *, event_id: int, chain_sequence: int, previous_hash: str, content_hash: str, chain_hash: str
    ) -> None:
        """The one write allowed after insert: the chain columns, once (the database trigger enforces it too)."""
        linked = models.QuerySet.update(
            self.filter(pk=event_id, chained_at__isnull=True),
            chain_sequence=chain_sequence, previous_hash=previous_hash, content_hash=content_hash,
            chain_hash=chain_hash, chained_at=timezone.now(),
        )
        if linked != 1:
            raise AppendOnlyViolation(f"Audit event {event_id} is already chained.")


class AuditEvent(models.Model):
    """One recorded change. Written in the same transaction as the change; never holds a secret.

    References to users, workspaces and keys carry no database constraint: the trail outlives what it describes.
    """

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # Choices by reference: a new action needs no migration.
    action = models.CharField(max_length=40, choices=audit_action_choices, db_index=True)
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

    # Set once, after commit, by the chaining task (see audit/services/chain.py); empty until then.
    chain_sequence = models.PositiveBigIntegerField(null=True, blank=True, editable=False)
    previous_hash = models.CharField(max_length=64, blank=True, editable=False)
    content_hash = models.CharField(max_length=64, blank=True, editable=False)
    chain_hash = models.CharField(max_length=64, blank=True, editable=False)
    chained_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        db_table = "byok_auditevent"  # the table predates the audit app (moved without its data)
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["owner", "id"], name="audit_owner_id"),
            models.Index(fields=["chained_at"], name="audit_chained_at"),
        ]
        constraints = [
            # A second link with the same place in one owner's chain would be a fork.
            models.UniqueConstraint(fields=["owner", "chain_sequence"], name="audit_chain_sequence_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.action} by {self.actor_label} at {self.created_at:%Y-%m-%d %H:%M:%S}"

    @property
    def chain_name(self) -> str:
        return audit_chain_name(owner_id=self.owner_id)

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyViolation("Audit events are append-only; a stored event cannot be saved again.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyViolation("Audit events are append-only; they cannot be deleted.")


def audit_chain_name(*, owner_id: int | None) -> str:
    """Each owner's events form one chain; events that concern no owner form the system chain."""
    return f"owner:{owner_id}" if owner_id is not None else "system"


def audit_chain_filter(*, owner_id: int | None) -> Q:
    return Q(owner__isnull=True) if owner_id is None else Q(owner_id=owner_id)


class AuditChainHead(models.Model):
    """The last link of one chain. Locking this row serialises chaining per owner across workers."""

    chain = models.CharField(max_length=40, unique=True)
    sequence = models.PositiveBigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default=GENESIS_HASH)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "byok_auditchainhead"

    def __str__(self) -> str:
        return f"{self.chain} at {self.sequence}"


class AuditSink(models.TextChoices):
    """Where events are shipped. The values are stored in AuditDelivery rows; each sink's shipping function is
    registered in audit/services/sinks.py (the owner-email one by the byok app)."""

    LOG = "log", "byok.audit logger"
    WEBHOOK = "webhook", "Webhook"
    OWNER_EMAIL = "owner_email", "Email to the key's owner"


class AuditDelivery(models.Model):
    """One event shipped to one sink. The unique row is the claim that makes shipping happen once per sink."""

    event = models.ForeignKey(AuditEvent, on_delete=models.PROTECT, related_name="deliveries")
    sink = models.CharField(max_length=16, choices=AuditSink.choices)
    delivered_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "byok_auditdelivery"
        constraints = [models.UniqueConstraint(fields=["event", "sink"], name="audit_delivery_once_per_sink")]

    def __str__(self) -> str:
        return f"event {self.event_id} to {self.sink}"
