from datetime import datetime, timedelta

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from ..crypto import EncryptedField, EncryptedFieldsQuerySet, keyring
from ..providers.base import Credentials, InferenceProfile, Provider
from ..providers.registry import get_provider, session_refreshing_providers


def key_status(key, *, byok_allowed: bool, now: datetime | None = None) -> str:
    """A key's status from its state (a ProviderKey, or the resolver's read of one), in order of precedence."""
    now = now or timezone.now()
    if not key.enabled:
        return ProviderKey.Status.DISABLED
    if not byok_allowed:
        return ProviderKey.Status.PLAN_INACTIVE
    if key.expires_at and key.expires_at <= now:
        return ProviderKey.Status.EXPIRED
    if key.failing_since:
        return ProviderKey.Status.FAILING
    return ProviderKey.Status.ACTIVE


def _rotation_age() -> timedelta:
    return timedelta(days=settings.BYOK_ROTATION_REMINDER_DAYS)


class ProviderKeyQuerySet(EncryptedFieldsQuerySet):
    def session_refreshing(self) -> "ProviderKeyQuerySet":
        """Keys whose provider refreshes their sessions (long-term Bedrock keys): the rule of
        `ProviderKey.refreshes_session`, as a query."""
        condition = Q(pk__in=[])
        for provider, credential_types in session_refreshing_providers().items():
            condition |= Q(provider=provider, credential_type__in=credential_types)
        return self.filter(condition)

    def rotation_due(self, *, now: datetime) -> "ProviderKeyQuerySet":
        """The rule of `ProviderKey.rotation_due`, as a query."""
        return self.exclude(credential_type__in=_NO_ROTATION).annotate(
            rotation_since=Coalesce("rotated_at", "created_at")).filter(rotation_since__lte=now - _rotation_age())


def is_exclusive(key) -> bool:
    """The one rule of exclusive keys: a key whose fallback mode is "none" never falls back to platform credentials.
    `key`: a ProviderKey, the gateway's KeyState, or None (no key: nothing is exclusive)."""
    return key is not None and key.fallback_mode == ProviderKey.FallbackMode.NONE


class ProviderKey(models.Model):
    """An owner's credentials for one provider. The secret is one encrypted value; everything else is plain."""

    class CredentialType(models.TextChoices):
        LONG_TERM = "long_term", "Long-term"
        TEMPORARY = "temporary", "Temporary"
        API_KEY = "api_key", "API key"
        ROLE = "role", "IAM role"

    class FallbackMode(models.TextChoices):
        PLATFORM = "platform", "Fall back to platform credentials"
        NONE = "none", "Exclusive: never fall back"

    class Scope(models.TextChoices):
        ALL_WORKSPACES = "all_workspaces", "All my workspaces"
        SELECTED = "selected", "Selected workspaces"
        API_KEYS = "api_keys", "Selected API keys"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        DISABLED = "disabled", "Disabled"
        EXPIRED = "expired", "Expired"
        FAILING = "failing", "Failing"
        PLAN_INACTIVE = "plan_inactive", "Plan inactive"

    class TestStatus(models.TextChoices):
        OK = "ok", "Passed"
        FAILED = "failed", "Failed"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="provider_keys")
    provider = models.CharField(max_length=32, help_text="A provider id from byok/providers/registry.py.")
    family = models.CharField(max_length=32, editable=False, help_text="Provider family (bedrock covers both kinds).")
    name = models.CharField(max_length=100, help_text='A label, e.g. "Production key".')
    secret = EncryptedField(help_text="All credential fields, encrypted together.")
    key_hint = models.CharField(max_length=64)
    credential_type = models.CharField(max_length=16, choices=CredentialType.choices)
    inference_profile = models.CharField(
        max_length=16, blank=True, help_text="For providers with inference profiles (Bedrock); validated by the provider.",
    )
    regions = models.JSONField(default=list, blank=True, help_text="Regions with their own credential set.")
    region_hints = models.JSONField(
        default=dict, blank=True,
        help_text="{region: hint} of the regional credential set serving each of those regions (not secret): what "
        "responses and usage name when that set serves, read without decrypting anything.")
    enabled = models.BooleanField(default=True)
    fallback_mode = models.CharField(max_length=16, choices=FallbackMode.choices, default=FallbackMode.PLATFORM)
    scope = models.CharField(max_length=16, choices=Scope.choices, default=Scope.ALL_WORKSPACES)
    priority = models.PositiveSmallIntegerField(
        default=0, help_text="Order among the owner's keys of the family and scope: lower serves first; a key-level "
        "failure moves the call to the next key before any platform fallback.")
    weight = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(1000)],
        help_text="Share of calls among keys of equal priority (3 and 1: three calls in four go to the first).")
    workspaces = models.ManyToManyField("accounts.Workspace", blank=True, related_name="provider_keys")
    api_keys = models.ManyToManyField(
        "accounts.ApiKey", blank=True, related_name="provider_keys",
        help_text="For scope api_keys: the workspace API keys (of the owner's workspaces) whose calls this key serves.")
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    rotated_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_test_status = models.CharField(max_length=8, choices=TestStatus.choices, blank=True)
    last_tested_at = models.DateTimeField(null=True, blank=True)
    last_test_summary = models.JSONField(default=dict, blank=True)
    failing_since = models.DateTimeField(
        null=True, blank=True, help_text="Set while the provider rejects these credentials (refresh or calls)."
    )
    failure_reason = models.CharField(max_length=255, blank=True)
    breaker_open_until = models.DateTimeField(
        null=True, blank=True, help_text="While failing, BYOK is skipped until then; the next call probes the key."
    )
    model_breakers = models.JSONField(
        default=dict, blank=True,
        help_text="Breakers of single models ({model id: {since, reason, until}}): a model this key cannot use "
        "(no access) is skipped without taking its other models offline. Key-wide failures use failing_since.")
    unreachable_since = models.DateTimeField(
        null=True, blank=True, help_text="Set while calls on the key fail for a network reason (the provider could "
        "not be reached): an incident for the owner, not a breaker; calls keep trying the key and the next it serves "
        "clears it.")
    session_secret = EncryptedField(null=True, blank=True, help_text="STS session credentials, encrypted.")
    session_token_expires_at = models.DateTimeField(null=True, blank=True)

    objects = ProviderKeyQuerySet.as_manager()

    class Meta:
        ordering = ["owner_id", "provider", "name"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="providerkey_unique_name_per_owner"),
        ]
        indexes = [models.Index(fields=["session_token_expires_at"], name="providerkey_session_expiry")]

    def __str__(self) -> str:
        return f"{self.name} ({self.key_hint})"

    def __repr__(self) -> str:
        return f"<ProviderKey {self.pk} {self.provider} {self.key_hint}>"

    @property
    def provider_spec(self) -> Provider:
        return get_provider(self.provider)

    @property
    def profile(self) -> InferenceProfile | None:
        return self.provider_spec.inference_profiles.get(self.inference_profile)

    @property
    def refreshes_session(self) -> bool:
        """Calls use a session byok obtains and refreshes (long-term Bedrock keys): the one rule, asked everywhere."""
        return self.provider_spec.refreshes_session(self.credential_type)

    def rotation_due(self, *, now: datetime) -> bool:
        """A long-lived key with a secret, older than BYOK_ROTATION_REMINDER_DAYS since it was created or last rotated."""
        return (self.credential_type not in _NO_ROTATION
                and (self.rotated_at or self.created_at) <= now - _rotation_age())

    @sensitive_variables("credentials")
    def set_credentials(self, credentials: Credentials) -> None:
        self.secret = keyring().encrypt_json(credentials.to_json())

    def get_credentials(self) -> Credentials:
        return Credentials(self.provider_spec, keyring().decrypt_json(self.secret))

    def set_session(self, session: dict | None, expires_at: datetime | None) -> None:
        self.session_secret = keyring().encrypt_json(session) if session else None
        self.session_token_expires_at = expires_at

    def get_session(self) -> dict | None:
        return keyring().decrypt_json(self.session_secret) if self.session_secret else None

    def status_for(self, *, byok_allowed: bool, now: datetime | None = None) -> str:
        """Derived status; `byok_allowed` is the owner's plan right (passed in so lists need no extra query)."""
        return key_status(self, byok_allowed=byok_allowed, now=now)

    @property
    def status(self) -> str:
        return self.status_for(byok_allowed=self.owner.plan.byok_allowed)


# Temporary credentials expire instead; a role holds no secret of the owner's to rotate.
_NO_ROTATION = (ProviderKey.CredentialType.TEMPORARY, ProviderKey.CredentialType.ROLE)


class RoleExternalId(models.Model):
    """The one external ID of an owner: the condition of their roles' trust policies that only byok, acting for
    this owner, meets (so no other byok customer can have byok assume this owner's role). Not a secret, never
    edited: generated once, shown in the console."""

    owner = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="role_external_id")
    external_id = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.external_id


class CredentialReminder(models.Model):
    """The daily credential reminder sent to an owner: the row is the claim that stops a re-run from emailing twice."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    sent_on = models.DateField()
    key_ids = models.JSONField(default=list, help_text="The keys the email listed (by id; it showed their hints).")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["owner", "sent_on"], name="credentialreminder_one_per_owner_per_day"),
        ]
