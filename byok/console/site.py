"""The owner console's AdminSite and the base of its ModelAdmins, with the helpers they share.

Thin like the rest of the surfaces: every read starts from a scoped selector (scope.py), every write is a
service call, and a service's domain error becomes a form error or an admin message. Buttons that act are
POST-only admin views (like Django's UserAdmin password view) with `sensitive_post_parameters`; `object_action`
gives them the object they act on, and `run_and_redirect` / `redirect_to_change` end them.
"""

import csv
import itertools
from datetime import date
from functools import wraps
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import SimpleListFilter
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from accounts.models import Plan, User, Workspace
from accounts.services import plan_upgrade_request
from core.errors import DomainError

from ..catalog.selectors import catalog_read
from ..errors import PlanRequired
from ..services.keys import require_byok_plan
from .forms import ConsoleAuthenticationForm, UsageRangeForm
from .home import console_home
from .invitations import InvitationSignInView, invitation_sign_up_view, invitation_view
from .my_keys import my_keys_view
from .scope import (
    ConsoleAccess,
    console_access,
    console_usage,
    console_usage_breakdown,
    console_usage_export_rows,
    usage_range_default,
)

sensitive_post = method_decorator(sensitive_post_parameters())
post_only = method_decorator(require_POST)


def posted(request: HttpRequest):
    """The submitted data to bind a form to, or None on a GET (an unbound form)."""
    return request.POST if request.method == "POST" else None


def sandbox_url() -> str | None:
    """Where provider calls go when the simulator (or any endpoint override) is configured."""
    endpoints = settings.BYOK_ENDPOINTS
    if not endpoints:
        return None
    parts = urlsplit(endpoints.get("BYOK_BEDROCK_ENDPOINT_URL") or next(iter(endpoints.values())))
    return f"{parts.scheme}://{parts.netloc}"


def plan_required_message(user: User) -> str | None:
    """Why this owner cannot add keys, in the service's own words; None when their plan allows BYOK."""
    try:
        require_byok_plan(user)
    except PlanRequired as exc:
        return exc.message
    return None


def owner_plan_message(request: HttpRequest, access: ConsoleAccess) -> str | None:
    """The plan message for pages that offer adding keys: only owners add keys, so admins never see it."""
    return plan_required_message(request.user) if access.is_owner else None


def upgrade_plans(user: User) -> list[dict]:
    """The plans that add bring-your-own-key, and what each adds over the user's plan (for the upgrade panel)."""
    current = user.plan
    return [{"code": plan.code, "name": plan.name,
             "price": f"${plan.monthly_price:,} a month" if plan.monthly_price is not None else "Price on request",
             "adds": ["bring your own provider keys (AWS Bedrock, Google Vertex AI, Anthropic, OpenAI and "
                      "OpenAI-compatible): your calls billed by your provider, not counted against credits",
                      f"{plan.monthly_platform_credits:,} platform credits a month (you have "
                      f"{current.monthly_platform_credits:,})"]}
            for plan in Plan.objects.filter(byok_allowed=True).order_by("ordering", "code")]


def plan_context(request: HttpRequest, access: ConsoleAccess) -> dict:
    """What `_plan.html` needs: the plan message, and the upgrades a Free owner may request."""
    message = owner_plan_message(request, access)
    return {"plan_message": message, "upgrade_plans": upgrade_plans(request.user) if message else []}


class OwnerConsoleSite(admin.AdminSite):
    site_header = "byok owner console"
    site_title = "byok owner console"
    index_title = "Bring your own key"
    site_url = None
    login_form = ConsoleAuthenticationForm
    login_template = "byok_console/login.html"
    index_template = "byok_console/index.html"

    def access(self, request: HttpRequest) -> ConsoleAccess:
        # Asked several times per page (permission, each model's rights): one query per request and user.
        cached = getattr(request, "_console_access", None)
        if cached is None or cached.user_id != request.user.pk:
            cached = request._console_access = console_access(request.user)
        return cached

    def has_permission(self, request: HttpRequest) -> bool:
        """Owners and admins of a workspace; `is_staff` plays no part."""
        return self.access(request).allowed

    def each_context(self, request: HttpRequest) -> dict:
        return {**super().each_context(request), "byok_console": True, "byok_sandbox_url": sandbox_url()}

    def render(self, request: HttpRequest, template: str, context: dict, *, status: int = 200) -> TemplateResponse:
        """A console page of our own (not a stock admin view), with the site's context around `context`."""
        request.current_app = self.name
        return TemplateResponse(request, template, {**self.each_context(request), **context}, status=status)

    def index(self, request, extra_context=None):
        """The home page: what serves each of the viewer's workspaces now, usage, incidents, what expires soon."""
        access = self.access(request)
        return self.render(request, self.index_template, {
            "title": self.index_title, **plan_context(request, access),
            "is_owner": access.is_owner, "is_admin": bool(access.administered),
            **console_home(access), **(extra_context or {})})

    def get_urls(self):
        return [
            path("usage/", self.admin_view(self.usage_view), name="usage"),
            path("usage/csv/", self.admin_view(self.usage_csv_view), name="usage_csv"),
            path("plan/upgrade/", self.admin_view(self.plan_upgrade_view), name="plan_upgrade"),
            # An invitation's link is for whoever holds it, members included: not behind `admin_view`.
            path("me/", my_keys_view, {"console_site": self}, name="my_api_keys"),
            path("invitations/sign-in/", InvitationSignInView.as_view(console_site=self), name="invitation_sign_in"),
            path("invitations/<str:token>/", invitation_view, {"console_site": self}, name="invitation_accept"),
            path("invitations/<str:token>/sign-up/", invitation_sign_up_view, {"console_site": self},
                 name="invitation_sign_up"),
            *super().get_urls(),
        ]

    @method_decorator(require_POST)
    def plan_upgrade_view(self, request: HttpRequest) -> HttpResponse:
        """An owner without BYOK asks for a plan with it: staff are told (and the request audited)."""
        if not self.access(request).is_owner:
            raise PermissionDenied
        try:
            plan_upgrade_request(user=request.user, plan_code=request.POST.get("plan", ""))
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, "Your request is sent: staff will move your account to the plan you chose. "
                                      "Keys can be added as soon as it includes bring-your-own-key.")
        return HttpResponseRedirect(reverse("console:index"))

    def _usage_range(self, request: HttpRequest) -> tuple[UsageRangeForm, date, date]:
        """The range asked for (?since=&until=), or this month so far when none is, or when it is invalid (the form
        then carries the errors)."""
        default_since, default_until = usage_range_default()
        asked = "since" in request.GET or "until" in request.GET
        form = UsageRangeForm(request.GET if asked else None,
                              initial={"since": default_since, "until": default_until})
        if asked and form.is_valid():
            return form, form.cleaned_data["since"], form.cleaned_data["until"]
        return form, default_since, default_until

    def usage_view(self, request: HttpRequest) -> TemplateResponse:
        access = self.access(request)
        form, since, until = self._usage_range(request)
        catalog = catalog_read()  # prices what caching saved, on every table alike
        return self.render(request, "byok_console/usage.html", {
            "title": "Usage", "form": form, "since_day": since, "until_day": until,
            "csv_query": urlencode({"since": since.isoformat(), "until": until.isoformat()}),
            **console_usage(access, since_day=since, until_day=until, catalog=catalog),
            **console_usage_breakdown(access, since=since, until=until, catalog=catalog)},
            status=400 if form.is_bound and not form.is_valid() else 200)

    def usage_csv_view(self, request: HttpRequest) -> HttpResponse:
        """The range's usage as CSV, streamed from a grouped query read in chunks: counts and names, no provider
        key (the workspace API key's name and hint, as the API key list shows them)."""
        form, since, until = self._usage_range(request)
        if form.is_bound and not form.is_valid():
            return HttpResponse(" ".join(e for errors in form.errors.values() for e in errors), status=400,
                                content_type="text/plain; charset=utf-8")
        rows = console_usage_export_rows(self.access(request), since=since, until=until)
        writer = csv.writer(_Echo())
        header = ["date", "workspace", "member", "api_key", "api_key_hint", "source", "provider", "model", "calls",
                  "input_tokens", "output_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens",
                  "cache_read_tokens", "credits_charged", "estimated_cost_usd_own_keys",
                  "estimated_cost_usd_platform", "cache_saved_usd"]
        lines = itertools.chain([writer.writerow(header)],
                                (writer.writerow([_csv_cell(v) for v in row]) for row in rows))
        response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="byok-usage-{since}-to-{until}.csv"'
        return response


console_site = OwnerConsoleSite(name="console")


class _Echo:
    """A file for csv.writer that hands each line back instead of storing it (Django's streaming CSV recipe)."""

    def write(self, value: str) -> str:
        return value


def _csv_cell(value):
    """Counts as they are; text that a spreadsheet would run as a formula (=, +, -, @ …) quoted with a '."""
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def object_action(view):
    """A button's view: POST only, and called with the object its URL names (`action_object`: 404 unless the
    user sees it, 403 unless they may act on it) instead of the id."""

    @post_only
    @wraps(view)
    def action(self, request, object_id, **kwargs):
        return view(self, request, self.action_object(request, object_id), **kwargs)

    return action


class ManagedWorkspaceFilter(SimpleListFilter):
    """Only the workspaces this user owns or administers are offered (the stock FK filter would list every one)."""

    title = "workspace"
    parameter_name = "workspace"

    def lookups(self, request, model_admin):
        return [(w.pk, w.name) for w in Workspace.objects.filter(pk__in=model_admin.access(request).workspace_ids)]

    def queryset(self, request, queryset):
        return queryset.filter(workspace_id=self.value()) if self.value() else queryset


class ConsoleModelAdmin(admin.ModelAdmin):
    """Rights come from the console's scoping, not Django's model permissions (owners are not staff)."""

    def access(self, request) -> ConsoleAccess:
        return self.admin_site.access(request)

    def has_module_permission(self, request) -> bool:
        return self.access(request).allowed

    def has_view_permission(self, request, obj=None) -> bool:
        return self.access(request).allowed

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def changelist_view(self, request, extra_context=None):
        # "Provider keys", not Django's "Select provider key to change".
        return super().changelist_view(request, extra_context={
            "title": self.opts.verbose_name_plural[:1].upper() + self.opts.verbose_name_plural[1:],
            **(extra_context or {})})

    def get_object(self, request, object_id, from_field=None):
        # Another owner's id answers 404, not the stock admin's "perhaps it was deleted" redirect.
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404(f"No {self.opts.verbose_name} with this id.")
        return obj

    def action_object(self, request, object_id):
        """The object an `object_action` view acts on; ModelAdmins with stricter rules check them here."""
        return self.get_object(request, object_id)

    # -- urls ----------------------------------------------------------------------------------------------------

    def url_name(self, name: str) -> str:
        return f"{self.opts.app_label}_{self.opts.model_name}_{name}"

    def view_path(self, route: str, view, name: str):
        """A custom view's URL, behind the site's login and permission check, named like the stock admin's."""
        return path(route, self.admin_site.admin_view(view), name=self.url_name(name))

    def url(self, name: str, *args) -> str:
        return reverse(f"{self.admin_site.name}:{self.url_name(name)}", args=args)

    # -- responses -----------------------------------------------------------------------------------------------

    def render(self, request, template: str, context: dict, *, status: int = 200) -> TemplateResponse:
        return self.admin_site.render(request, template, {"opts": self.opts, **context}, status=status)

    def redirect_to_change(self, request, obj, message: str | None = None, *,
                           level: int = messages.SUCCESS) -> HttpResponseRedirect:
        """Back to the object's page, with the message (if any) shown there."""
        if message:
            messages.add_message(request, level, message)
        return HttpResponseRedirect(self.url("change", obj.pk))

    def run_and_redirect(self, request, obj, write) -> HttpResponse:
        """Run a service call (`write` returns the success message); its domain error (ownership rules, already
        a member …) becomes an error message instead. Either way, back to the object's page."""
        try:
            message = write()
        except DomainError as exc:
            return self.redirect_to_change(request, obj, exc.message, level=messages.ERROR)
        return self.redirect_to_change(request, obj, message)
