from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models


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
        return f"{self.get_metric_display()} ≤ {self.value} on {self.subject}"
