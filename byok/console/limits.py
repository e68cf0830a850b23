"""Limits in the owner console: the owner's limits and their plan's ceilings, each limit's page with its use now and
its last 30 days, and adding, changing and deleting limits (each a service call: audited, in force in every process
at once). A limit is on the owner's account: workspace admins see none."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from core.errors import DomainError

from ..gateway.limits import used_now
from ..models import UsageLimit
from ..models.limits import MONEY_METRICS, limit_words
from ..selectors import plan_ceilings
from ..services.limits import usage_limit_remove, usage_limit_set
from .forms import UsageLimitForm, add_domain_errors
from .limit_rows import amount_words, history_rows, limit_rows, past_limit_words, subject_words, unreachable_words
from .scope import console_usage_limits
from .site import ConsoleModelAdmin, posted


class UsageLimitConsoleAdmin(ConsoleModelAdmin):
    list_display = ["on", "limit_text", "used_this_period", "past_the_limit", "when_unreachable"]
    list_display_links = ["limit_text"]
    ordering = ["subject", "metric", "id"]
    change_list_template = "byok_console/usagelimit_change_list.html"

    def get_queryset(self, request):
        return console_usage_limits(self.access(request))

    def has_module_permission(self, request) -> bool:
        return self.access(request).is_owner

    def has_view_permission(self, request, obj=None) -> bool:
        return self.access(request).is_owner

    def has_add_permission(self, request) -> bool:
        return self.access(request).is_owner

    def has_change_permission(self, request, obj=None) -> bool:
        return self.access(request).is_owner and (obj is None or obj.owner_id == request.user.pk)

    has_delete_permission = has_change_permission

    # -- list --------------------------------------------------------------------------------------------------

    @admin.display(description="on")
    def on(self, limit: UsageLimit) -> str:
        return subject_words(limit)

    @admin.display(description="limit", ordering="metric")
    def limit_text(self, limit: UsageLimit) -> str:
        return limit_words(limit.metric, limit.value)

    @admin.display(description="used this period")
    def used_this_period(self, limit: UsageLimit) -> str:
        return amount_words(limit.metric, used_now(limit))

    @admin.display(description="past the limit")
    def past_the_limit(self, limit: UsageLimit) -> str:
        return past_limit_words(limit)

    @admin.display(description="when the counter is unreachable")
    def when_unreachable(self, limit: UsageLimit) -> str:
        return unreachable_words(limit)

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(request, extra_context={
            "title": "Limits", "plan": request.user.plan.name,
            "plan_rows": [row for row in limit_rows(request.user) if row["limit"] is None],
            "ceilings": [limit_words(c.metric, c.value) for c in plan_ceilings(request.user.plan_id).values()],
            **(extra_context or {})})

    # -- add and change ----------------------------------------------------------------------------------------

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        data = posted(request)
        form = UsageLimitForm(data, owner=request.user)
        if data is not None and form.is_valid():
            try:
                limit = usage_limit_set(owner=request.user, actor=request.user, **form.limit_settings())
            except DomainError as exc:
                add_domain_errors(form, exc)
            else:
                return self.redirect_to_change(request, limit, f"The limit of {limit_words(limit.metric, limit.value)}"
                                                               f" on {subject_words(limit)} is set.")
        return self.render(request, "byok_console/usagelimit_add.html", {"title": "Add a limit", "form": form},
                           status=400 if data is not None else 200)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        limit = self.get_object(request, object_id)
        data = posted(request)
        form = UsageLimitForm(data, owner=request.user, editing=True, initial={
            "value": limit.value, "on_exceed": limit.on_exceed, "fail_mode": limit.fail_mode,
            "thresholds": ", ".join(str(p) for p in limit.thresholds)})
        if data is not None and form.is_valid():
            try:
                usage_limit_set(owner=request.user, actor=request.user, subject=limit.subject, metric=limit.metric,
                                workspace=limit.workspace, member=limit.member, api_key=limit.api_key,
                                **form.limit_settings())
            except DomainError as exc:
                add_domain_errors(form, exc)
            else:
                limit.refresh_from_db()
                return self.redirect_to_change(request, limit, f"The limit on {subject_words(limit)} is now "
                                                               f"{limit_words(limit.metric, limit.value)}.")
        ceiling = plan_ceilings(request.user.plan_id).get(limit.metric)
        return self.render(request, "byok_console/usagelimit_change.html", {
            "title": f"{limit_words(limit.metric, limit.value)} on {subject_words(limit)}", "original": limit,
            "limit": limit, "form": form, "on": subject_words(limit), "words": limit_words(limit.metric, limit.value),
            "used_now": amount_words(limit.metric, used_now(limit)), "past_limit": past_limit_words(limit),
            "unreachable": unreachable_words(limit), "history": history_rows(limit), "today": timezone.now(),
            "per_minute": limit.metric not in MONEY_METRICS, "month": limit.metric == UsageLimit.Metric.MONEY_PER_MONTH,
            "ceiling": limit_words(limit.metric, ceiling.value) if ceiling else None,
            "plan": request.user.plan.name}, status=400 if data is not None else 200)

    # -- delete ------------------------------------------------------------------------------------------------

    def delete_model(self, request, obj):
        usage_limit_remove(limit=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for limit in queryset.filter(owner=request.user):
            usage_limit_remove(limit=limit, actor=request.user)
