from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models


MONEY_METRICS = ("money_per_day", "money_per_month")


def limit_words(metric: str, value: int) -> str:
    """A limit as people read it: "100 requests per minute", "$0.03 per day (UTC)"."""
    if metric in MONEY_METRICS:
        return f"${value / 100:,.2f} per {metric.rsplit('_', 1)[1]} (UTC)"
    return f"{value:,} {metric.split('_')[0]} per minute"


class UsageLimit(models.Model):
    """A limit an owner sets on calls made on their account: on the owner (every workspace), one workspace, one
    member in a workspace, or one workspace API key. Counted in the shared cache (byok.gateway.limits)."""

    class Metric(models.TextChoices):
        REQUESTS_PER_MINUTE = "requests_per_minute", "Requests per minute"
        TOKENS_PER_MINUTE = "tokens_per_minute", "Tokens per minute"
        MONEY_PER_DAY = "money_per_day", "US cents per day (UTC)"
        MONEY_PER_MONTH = "money_per_month", "US cents per month (UTC)"

    class Subject(models.TextChoices):
        OWNER = "owner", "All my workspaces"
        WORKSPACE = "workspace", "A workspace"
        MEMBER = "member", "A member in a workspace"
        API_KEY = "api_key", "A workspace API key"

    class FailMode(models.TextChoices):
        OPEN = "open", "Serve when the counter is unreachable"
        CLOSED = "closed", "Refuse when the counter is unreachable"

    class OnExceed(models.TextChoices):
        REFUSE = "refuse", "Refuse the call (429)"
        PLATFORM = "platform", "Serve it on platform credits"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="usage_limits")
    subject = models.CharField(max_length=16, choices=Subject.choices)
    workspace = models.ForeignKey("accounts.Workspace", null=True, blank=True, on_delete=models.CASCADE,
                                  related_name="usage_limits")
    member = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                               related_name="+")
    api_key = models.ForeignKey("accounts.ApiKey", null=True, blank=True, on_delete=models.CASCADE,
                                related_name="usage_limits")
    metric = models.CharField(max_length=24, choices=Metric.choices)
    value = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    fail_mode = models.CharField(max_length=8, choices=FailMode.choices, default=FailMode.OPEN)
    on_exceed = models.CharField(
        max_length=8, choices=OnExceed.choices, default=OnExceed.REFUSE,
        help_text="Past the limit: refuse, or serve on platform credentials counted against platform credits (the "
                  "call leaves the owner's keys, within their geography; an exclusive key refuses).")
    thresholds = models.JSONField(
        default=list, blank=True,
        help_text="Percentages of the limit (e.g. [80]) at which the owner hears once per period: e-mail, the audit "
                  "trail (USAGE_LIMIT_THRESHOLD) and the webhook sink.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["owner_id", "subject", "metric", "id"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "subject", "workspace", "member", "api_key", "metric"],
                                    name="usagelimit_one_per_subject_and_metric", nulls_distinct=False),
        ]

    def __str__(self) -> str:
        return f"{limit_words(self.metric, self.value)} on {self.subject}"


class PlanCeiling(models.Model):
    """A staff-set ceiling of one metric for the owners on a plan: no owner limit may exceed it, and an owner without
    a limit of that metric on their whole account is held to it (byok.gateway.limits counts it per owner)."""

    plan = models.ForeignKey("accounts.Plan", on_delete=models.CASCADE, related_name="limit_ceilings")
    metric = models.CharField(max_length=24, choices=UsageLimit.Metric.choices)
    value = models.PositiveIntegerField(validators=[MinValueValidator(1)],
                                        help_text="Requests, tokens, or US cents for money budgets.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["plan__ordering", "metric"]
        constraints = [models.UniqueConstraint(fields=["plan", "metric"], name="planceiling_one_per_metric")]

    def __str__(self) -> str:
        return f"{self.plan}: at most {limit_words(self.metric, self.value)}"
