"""The model catalog as data: which models each provider family offers, which serves each tier now, what they cost
and when they go away. Providers keep code defaults (byok/providers/*.py); the gateway asks the catalog first
(byok/catalog/selectors.py)."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q


class Model(models.Model):
    """One model of a provider family (`bedrock` covers IAM, API-key and role keys; each OpenAI-compatible provider is
    its own family). At most one current (not retired) model per family serves each tier: database constraints."""

    class Kind(models.TextChoices):
        CHAT = "chat", "Chat"
        EMBEDDING = "embedding", "Embedding"

    class Status(models.TextChoices):
        AVAILABLE = "available", "Available"
        DEPRECATED = "deprecated", "Deprecated"
        RETIRED = "retired", "Retired"

    family = models.CharField(max_length=32, help_text="Provider family: bedrock, anthropic, openai, mistral, …")
    model_id = models.CharField(max_length=128, help_text="The base model id, e.g. anthropic.claude-sonnet-4-5-…")
    profile_ids = models.JSONField(default=dict, blank=True,
                                   help_text='Bedrock: inference profile -> model id, e.g. {"eu": "eu.anthropic…"}.')
    display_name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.CHAT,
                            help_text="Chat models answer /v1/chat/completions and /v1/messages; embedding models "
                                      "/v1/embeddings.")
    serves_standard = models.BooleanField(default=False, help_text="Serves the standard tier now.")
    serves_complex = models.BooleanField(default=False, help_text="Serves the complex tier now.")
    serves_embedding = models.BooleanField(default=False, help_text="Serves the embedding tier now.")
    aliases = models.JSONField(default=list, blank=True, help_text="Other ids providers answer with for it.")
    context_window = models.PositiveIntegerField(null=True, blank=True, help_text="Tokens.")
    max_output_tokens = models.PositiveIntegerField(null=True, blank=True, help_text="Tokens one answer may hold.")
    input_price_per_mtok = models.DecimalField(max_digits=14, decimal_places=6, null=True, blank=True,
                                               help_text="USD per million input tokens.")
    output_price_per_mtok = models.DecimalField(max_digits=14, decimal_places=6, null=True, blank=True,
                                                help_text="USD per million output tokens (reasoning included).")
    cache_write_5m_price_per_mtok = models.DecimalField(
        max_digits=14, decimal_places=6, null=True, blank=True,
        help_text="USD per million tokens written to a 5-minute cache; empty: the input price.")
    cache_write_1h_price_per_mtok = models.DecimalField(
        max_digits=14, decimal_places=6, null=True, blank=True,
        help_text="USD per million tokens written to a 1-hour cache; empty: the 5-minute price.")
    cache_read_price_per_mtok = models.DecimalField(
        max_digits=14, decimal_places=6, null=True, blank=True,
        help_text="USD per million tokens read from the cache; empty: the input price.")
    long_context_prices = models.JSONField(
        default=dict, blank=True, help_text='Above a prompt size every token costs more: {"above": 200000, '
                                            '"input": "6", "output": "22.5", …} (USD per million).')
    profile_prices = models.JSONField(default=dict, blank=True,
                                      help_text='Bedrock: inference profile -> prices where they differ, e.g. '
                                                '{"us": {"input": "3.3", …}}.')
    staff_overrides = models.JSONField(
        default=list, blank=True, help_text="Fields staff set in /admin/: the catalog sync leaves them as they are.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.AVAILABLE)
    deprecated_on = models.DateField(null=True, blank=True)
    retires_on = models.DateField(null=True, blank=True, help_text="On this day its tiers move to the replacement.")
    replacement = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    TIER_FIELDS = {"standard": "serves_standard", "complex": "serves_complex", "embedding": "serves_embedding"}

    class Meta:
        ordering = ["family", "model_id"]
        constraints = [
            models.UniqueConstraint(fields=["family", "model_id"], name="catalog_model_unique_id_per_family"),
            models.UniqueConstraint(fields=["family"], condition=Q(serves_standard=True) & ~Q(status="retired"),
                                    name="catalog_one_current_standard_model_per_family",
                                    violation_error_message="Another current model of this family already serves "
                                                            "the standard tier: take the tier from it first."),
            models.UniqueConstraint(fields=["family"], condition=Q(serves_complex=True) & ~Q(status="retired"),
                                    name="catalog_one_current_complex_model_per_family",
                                    violation_error_message="Another current model of this family already serves "
                                                            "the complex tier: take the tier from it first."),
            models.UniqueConstraint(fields=["family"], condition=Q(serves_embedding=True) & ~Q(status="retired"),
                                    name="catalog_one_current_embedding_model_per_family",
                                    violation_error_message="Another current model of this family already serves "
                                                            "the embedding tier: take the tier from it first."),
        ]

    def __str__(self) -> str:
        return f"{self.display_name} ({self.family})"

    @property
    def tiers(self) -> list[str]:
        return [tier for tier, field_name in self.TIER_FIELDS.items() if getattr(self, field_name)]

    def clean(self):
        if self.status == self.Status.RETIRED and self.tiers:
            raise ValidationError("A retired model serves no tier: move its tiers to its replacement.")
        embedding = self.kind == self.Kind.EMBEDDING
        if any((tier == "embedding") != embedding for tier in self.tiers):
            raise ValidationError("Embedding models serve the embedding tier only, chat models the chat tiers only.")
        if self.replacement_id and self.replacement_id == self.pk:
            raise ValidationError({"replacement": "A model cannot replace itself."})
        if self.replacement is not None and self.replacement.family != self.family:
            raise ValidationError({"replacement": "The replacement must be of the same provider family."})
        if self.deprecated_on and self.retires_on and self.retires_on < self.deprecated_on:
            raise ValidationError({"retires_on": "A model retires after it is deprecated."})

    def ids(self) -> set[str]:
        """Every id a call may report for it: the base id, its per-profile ids and its aliases."""
        return {self.model_id, *self.profile_ids.values(), *self.aliases}


class ModelNotice(models.Model):
    """An owner was told a model their traffic used is deprecated or retiring: the row stops a second e-mail."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    model = models.ForeignKey(Model, on_delete=models.CASCADE, related_name="notices")
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner", "model"], name="modelnotice_once_per_owner_model")]
