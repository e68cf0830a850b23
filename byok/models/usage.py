from django.conf import settings
from django.db import models


class UsageRecord(models.Model):
    """One LLM call: who made it, on which credentials, what it cost. Never holds a prompt or a secret."""

    class Source(models.TextChoices):
        BYOK = "byok", "Owner's key (billed to their provider account)"
        PLATFORM = "platform", "Platform credentials (platform credits)"

    created_at = models.DateTimeField(auto_now_add=True)
    workspace = models.ForeignKey("accounts.Workspace", on_delete=models.CASCADE, related_name="usage_records")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    provider = models.CharField(max_length=32)
    model = models.CharField(max_length=128)
    source = models.CharField(max_length=16, choices=Source.choices)
    key_id = models.BigIntegerField(null=True, blank=True)
    api_key_id = models.BigIntegerField(
        null=True, blank=True,
        help_text="The workspace API key the call was made with (empty for calls on a session or an API token).")
    key_hint = models.CharField(max_length=64, blank=True)
    task = models.CharField(max_length=16)
    input_tokens = models.PositiveIntegerField(default=0, help_text="Input at the full rate (no cache write or read).")
    output_tokens = models.PositiveIntegerField(default=0, help_text="Output, reasoning included.")
    cache_write_5m_tokens = models.PositiveIntegerField(default=0)
    cache_write_1h_tokens = models.PositiveIntegerField(default=0)
    cache_read_tokens = models.PositiveIntegerField(default=0)
    reasoning_tokens = models.PositiveIntegerField(default=0, help_text="The part of the output spent reasoning.")
    latency_ms = models.PositiveIntegerField(default=0)
    fallback_reason = models.CharField(max_length=64, blank=True)
    credits_charged = models.PositiveIntegerField(default=0)
    call_id = models.UUIDField(
        null=True, blank=True, unique=True, editable=False,
        help_text="The call's id, given when it was made: a record written twice (a replayed batch) is stored once.")
    estimated_cost = models.DecimalField(
        max_digits=14, decimal_places=8, null=True, blank=True,
        help_text="USD at the catalog's prices at call time (byok.catalog.pricing.usage_cost); empty when the "
                  "catalog has no price for the model.")

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["workspace", "created_at"], name="usage_workspace_time"),
            models.Index(fields=["owner", "created_at"], name="usage_owner_time"),
        ]


class UsageDeadLetter(models.Model):
    """A call's usage that could not be written (its workspace was deleted while the call was in flight, a value
    out of range): parked here with the reason, so the rest of its batch lands. Holds what a UsageRecord holds (no
    prompt, no secret), as JSON."""

    created_at = models.DateTimeField(auto_now_add=True)
    call_id = models.UUIDField(unique=True, editable=False)
    reason = models.TextField()
    entry = models.JSONField()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "usage dead letter"


TOKENS_PER_CREDIT = 1000  # a platform credit buys this many tokens (input and output alike), rounded up per call


class PlatformCreditUsage(models.Model):
    """Platform credits an owner used in a month (1 credit = TOKENS_PER_CREDIT tokens). BYOK calls never add to it."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    month = models.DateField(help_text="First day of the month.")
    used = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner", "month"], name="credit_usage_unique_owner_month")]
