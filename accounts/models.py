import hashlib

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q

FREE_PLAN_CODE = "free"


class Plan(models.Model):
    """A subscription. A workspace's BYOK rights come from its owner's plan."""

    code = models.SlugField(max_length=32, unique=True, help_text="Stable identifier, e.g. business.")
    name = models.CharField(max_length=64)
    byok_allowed = models.BooleanField(default=False, help_text="Owners on this plan may bring their own keys.")
    monthly_platform_credits = models.PositiveIntegerField(
        default=0, help_text="Platform-credential usage included per month, in credits (1 credit = 1,000 tokens)."
    )
    monthly_price = models.DecimalField(
        max_digits=9, decimal_places=2, null=True, blank=True,
        help_text="USD a month, shown to owners choosing a plan; empty: the console says the price is on request.")
    ordering = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["ordering", "code"]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    # The plan is referenced by its code so that the default needs no query.
    plan = models.ForeignKey(
        Plan, to_field="code", on_delete=models.PROTECT, default=FREE_PLAN_CODE, related_name="users"
    )

    @classmethod
    def from_db(cls, db, field_names, values):
        # Remembered so that a save can tell a (de)activation apart (accounts.signals: API keys stop working).
        user = super().from_db(db, field_names, values)
        user._loaded_is_active = user.__dict__.get("is_active")
        return user


class Workspace(models.Model):
    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=64, unique=True)
    owner = models.ForeignKey(User, on_delete=models.PROTECT, related_name="owned_workspaces")
    members = models.ManyToManyField(User, through="Membership", related_name="workspaces")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        ADMIN = "admin", "Admin"
        MEMBER = "member", "Member"

    # Roles that see a workspace's usage, audit trail and (in the owner console) its keys.
    MANAGING_ROLES = (Role.OWNER, Role.ADMIN)

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["workspace", "user"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "user"], name="membership_unique_per_workspace_user"),
            models.UniqueConstraint(
                fields=["workspace"], condition=Q(role="owner"), name="membership_one_owner_per_workspace"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.workspace} ({self.role})"


class ApiKey(models.Model):
    """A byok key: a member's workspace API key (bound to one workspace, for the gateway and the official SDKs), or a
    user's control-plane API token (no workspace: `POST /api/v1/auth/token/`, acting as the user on the whole API).
    One model, one lookup, one cache (byok.gateway.auth) and one invalidation for both: a workspace of None is what
    makes a token (`is_token`).

    The key itself (`byok_` + 32 random bytes, urlsafe) is shown once, when it is created, and stored only as its
    SHA-256. A plain, unsalted, fast hash is enough here, unlike for passwords: the key has 256 bits of randomness,
    so there is nothing to guess from the hash and no point in slowing guesses down, and a deterministic hash is what
    lets a call find its key with one indexed lookup.
    """

    PREFIX = "byok_"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="api_keys", null=True, blank=True,
                                  help_text="The key's workspace; empty for a control-plane API token.")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_keys",
                             help_text="The member who owns the key (the user of a token); calls made with it are theirs.")
    name = models.CharField(max_length=100)
    key_hint = models.CharField(max_length=16, help_text="The visible prefix and the last 4 characters.")
    key_hash = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the key, hex.")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "API key"
        indexes = [models.Index(fields=["workspace", "user"], name="apikey_workspace_user")]

    def __str__(self) -> str:
        return f"{self.name} ({self.key_hint})"

    @staticmethod
    def hash_of(raw_key: str) -> str:
        """How a key is stored and looked up."""
        return hashlib.sha256(raw_key.encode()).hexdigest()

    @property
    def is_token(self) -> bool:
        """A control-plane API token (no workspace) rather than a workspace API key."""
        return self.workspace_id is None


class Invitation(models.Model):
    """An invitation to join a workspace, sent by e-mail as a link that carries a random token.

    Like an API key, the token itself is shown once (in the e-mail) and stored only as its SHA-256; the link works
    for any signed-in user whose e-mail address matches `email` (case-insensitive), until it expires, is revoked
    or is used.
    """

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        ACCEPTED = "accepted", "Accepted"
        REVOKED = "revoked", "Revoked"
        EXPIRED = "expired", "Expired"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=16, choices=[(Membership.Role.MEMBER, "Member"), (Membership.Role.ADMIN, "Admin")],
                            default=Membership.Role.MEMBER)
    token_hash = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the link's token, hex.")
    invited_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["workspace", "email"], name="invitation_workspace_email")]

    def __str__(self) -> str:
        return f"{self.email} to {self.workspace} ({self.role})"

    @staticmethod
    def hash_of(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    def state_at(self, now) -> str:
        if self.accepted_at is not None:
            return self.State.ACCEPTED
        if self.revoked_at is not None:
            return self.State.REVOKED
        if self.expires_at <= now:
            return self.State.EXPIRED
        return self.State.PENDING
