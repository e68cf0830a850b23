"""The owner console at /manage/: a second AdminSite for workspace owners (and their workspace admins, read-only).

Thin like the rest of the surfaces: every read starts from a scoped selector (scope.py), every write is a
service call, and a service's domain error becomes a form error or an admin message. Buttons that act are
POST-only admin views (like Django's UserAdmin password view) with `sensitive_post_parameters`.
"""

import json
import math
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import SimpleListFilter
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.decorators import method_decorator
from django.utils.html import format_html, format_html_join
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from accounts.models import User, Workspace
from accounts.services import (
    membership_add,
    membership_remove,
    membership_role_change,
    workspace_ownership_transfer,
)
from audit.models import AuditEvent
from core.errors import DomainError

from ..errors import ConnectionTestFailed, PlanRequired
from ..models import ProviderKey
from ..providers.bedrock import INFERENCE_PROFILES, iam_policy
from ..providers.registry import PROVIDERS
from ..services.connection import provider_key_test_connection, throttle_connection_tests
from ..services.keys import (
    byok_revert_to_platform,
    provider_key_create,
    provider_key_delete,
    provider_key_disable,
    provider_key_enable,
    provider_key_rotate,
    provider_key_update,
    require_byok_plan,
)
from ..services.sessions import SessionRefreshOutcome, session_refresh_now
from .forms import (
    ConsoleAuthenticationForm,
    MemberAddForm,
    MemberRoleForm,
    RegionalCredentialsFormSet,
    RevertConfirmForm,
    add_domain_errors,
    key_form_class,
    regional_credentials,
    rotate_form_class,
    supports_inference_profiles,
    supports_regional_credentials,
)
from .scope import (
    ConsoleAccess,
    console_access,
    console_audit_events,
    console_provider_keys,
    console_provider_keys_with_status,
    console_usage,
    console_workspaces,
)

sensitive_post = method_decorator(sensitive_post_parameters())
post_only = method_decorator(require_POST)


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


def test_outcome(data: dict) -> dict:
    """A connection test result (fresh, from a failed save, or the summary stored on the key) for the templates."""
    tested_at = data.get("tested_at")
    return {**data, "tested_at": parse_datetime(tested_at) if isinstance(tested_at, str) else tested_at}


def run_key_service(write, *, form, formset=None):
    """Call a key service for a submitted form: (its result, None), or (None, the failed test to show) with the
    service's errors placed on the form's fields."""
    try:
        return write(), None
    except ConnectionTestFailed as exc:
        form.add_error(None, exc.message)
        return None, test_outcome(exc.details["test"])
    except DomainError as exc:
        add_domain_errors(form, exc, formset)
        return None, None


class OwnerConsoleSite(admin.AdminSite):
    site_header = "byok owner console"
    site_title = "byok owner console"
    index_title = "Bring your own key"
    site_url = None
    login_form = ConsoleAuthenticationForm
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

    def index(self, request, extra_context=None):
        access = self.access(request)
        context = {"plan_message": plan_required_message(request.user) if access.is_owner else None,
                   "is_owner": access.is_owner, **(extra_context or {})}
        return super().index(request, extra_context=context)

    def get_urls(self):
        return [path("usage/", self.admin_view(self.usage_view), name="usage"), *super().get_urls()]

    def usage_view(self, request: HttpRequest) -> TemplateResponse:
        request.current_app = self.name
        context = {**self.each_context(request), "title": "Usage this month", **console_usage(self.access(request))}
        return TemplateResponse(request, "byok_console/usage.html", context)


console_site = OwnerConsoleSite(name="console")


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

    def get_object(self, request, object_id, from_field=None):
        # Another owner's id answers 404, not the stock admin's "perhaps it was deleted" redirect.
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404(f"No {self.opts.verbose_name} with this id.")
        return obj

    def render(self, request, template: str, context: dict, *, status: int = 200) -> TemplateResponse:
        request.current_app = self.admin_site.name
        context = {**self.admin_site.each_context(request), "opts": self.opts, **context}
        return TemplateResponse(request, template, context, status=status)

    def url(self, name: str, *args) -> str:
        info = self.opts.app_label, self.opts.model_name
        return reverse(f"{self.admin_site.name}:{info[0]}_{info[1]}_{name}", args=args)


# --- Provider keys ---------------------------------------------------------------------------------------------


class KeyStatusFilter(SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return ProviderKey.Status.choices

    def queryset(self, request, queryset):
        if self.value() in ProviderKey.Status.values:
            return console_provider_keys_with_status(queryset, self.value())
        return queryset


def rotation_reminder_days() -> int:
    return getattr(settings, "BYOK_ROTATION_REMINDER_DAYS", 90)


def key_badges(key: ProviderKey, *, now) -> list[tuple[str, str]]:
    """(css class, text) of each badge: the status, then reminders about the session and rotation."""
    status = key.status_for(byok_allowed=key.owner.plan.byok_allowed, now=now)
    badges = [(status, ProviderKey.Status(status).label)]
    if key.session_token_expires_at and key.session_token_expires_at > now:
        hours = math.ceil((key.session_token_expires_at - now).total_seconds() / 3600)
        badges.append(("session", f"session expires in {hours} h"))
    if (key.rotated_at or key.created_at) <= now - timedelta(days=rotation_reminder_days()):
        badges.append(("rotation-due", "rotation due"))
    return badges


def is_session_refreshable(key: ProviderKey) -> bool:
    """Only long-term AKIA Bedrock keys get session tokens from STS."""
    return key.provider == "bedrock" and key.credential_type == ProviderKey.CredentialType.LONG_TERM


def badges_html(badges: list[tuple[str, str]]) -> str:
    return format_html_join(" ", '<span class="byok-badge byok-badge-{}">{}</span>', badges)


@admin.register(ProviderKey, site=console_site)
class ProviderKeyConsoleAdmin(ConsoleModelAdmin):
    list_display = ["name", "provider_name", "key_hint", "badges", "last_test", "serves"]
    list_filter = ["provider", KeyStatusFilter]
    search_fields = ["name", "key_hint"]
    actions = ["enable_keys", "disable_keys"]
    change_list_template = "byok_console/providerkey_change_list.html"

    def get_queryset(self, request):
        return console_provider_keys(self.access(request))

    def has_add_permission(self, request) -> bool:
        return self.access(request).is_owner and plan_required_message(request.user) is None

    def has_change_permission(self, request, obj=None) -> bool:
        """Only the owner changes their keys; workspace admins see them read-only."""
        if obj is None:
            return self.access(request).is_owner
        return obj.owner_id == request.user.pk

    has_delete_permission = has_change_permission

    # -- list --------------------------------------------------------------------------------------------------

    @admin.display(description="provider", ordering="provider")
    def provider_name(self, key: ProviderKey) -> str:
        return key.provider_spec.name

    @admin.display(description="status")
    def badges(self, key: ProviderKey) -> str:
        return badges_html(key_badges(key, now=timezone.now()))

    @admin.display(description="last test", ordering="last_tested_at")
    def last_test(self, key: ProviderKey) -> str:
        if not key.last_tested_at:
            return "never"
        mark = "✓" if key.last_test_status == ProviderKey.TestStatus.OK else "✗"
        return format_html("{} {}", mark, timezone.localtime(key.last_tested_at).strftime("%Y-%m-%d %H:%M"))

    @admin.display(description="serves")
    def serves(self, key: ProviderKey) -> str:
        if key.scope == ProviderKey.Scope.ALL_WORKSPACES:
            return key.get_scope_display()
        return ", ".join(w.name for w in key.workspaces.all())  # prefetched by the selector

    def changelist_view(self, request, extra_context=None):
        access = self.access(request)
        context = {"plan_message": plan_required_message(request.user) if access.is_owner else None,
                   "can_revert": access.is_owner, **(extra_context or {})}
        return super().changelist_view(request, extra_context=context)

    @admin.action(description="Enable selected keys", permissions=["change"])
    def enable_keys(self, request, queryset):
        for key in queryset.filter(owner=request.user):
            provider_key_enable(key=key, actor=request.user)
        messages.success(request, "Enabled the selected keys.")

    @admin.action(description="Disable selected keys", permissions=["change"])
    def disable_keys(self, request, queryset):
        for key in queryset.filter(owner=request.user):
            provider_key_disable(key=key, actor=request.user)
        messages.success(request, "Disabled the selected keys; their secrets are kept for re-enabling.")

    def delete_model(self, request, obj):
        provider_key_delete(key=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for key in queryset.filter(owner=request.user):
            provider_key_delete(key=key, actor=request.user)

    # -- urls ----------------------------------------------------------------------------------------------------

    def get_urls(self):
        wrap = self.admin_site.admin_view
        info = self.opts.app_label, self.opts.model_name
        return [
            path("revert/", wrap(self.revert_view), name="%s_%s_revert" % info),
            path("<path:object_id>/test/", wrap(self.test_view), name="%s_%s_test" % info),
            path("<path:object_id>/rotate/", wrap(self.rotate_view), name="%s_%s_rotate" % info),
            path("<path:object_id>/enable/", wrap(self.enable_view), name="%s_%s_enable" % info),
            path("<path:object_id>/disable/", wrap(self.disable_view), name="%s_%s_disable" % info),
            path("<path:object_id>/refresh-session/", wrap(self.refresh_session_view),
                 name="%s_%s_refresh_session" % info),
            *super().get_urls(),
        ]

    def _own_key(self, request, object_id) -> ProviderKey:
        key = self.get_object(request, object_id)  # 404 unless visible to this user
        if not self.has_change_permission(request, key):
            raise PermissionDenied
        return key

    # -- add -----------------------------------------------------------------------------------------------------

    @sensitive_post
    def add_view(self, request, form_url="", extra_context=None):
        if not self.access(request).is_owner:
            raise PermissionDenied
        plan_message = plan_required_message(request.user)
        if plan_message:
            return self.render(request, "byok_console/plan_required.html",
                               {"title": "Add a provider key", "plan_message": plan_message}, status=403)
        provider = PROVIDERS.get(request.GET.get("provider", ""))
        if provider is None:
            return self.render(request, "byok_console/key_provider_choice.html",
                               {"title": "Add a provider key: choose the provider", "providers": PROVIDERS.values()})
        data = request.POST if request.method == "POST" else None
        form = key_form_class(provider, editing=False)(data, owner=request.user)
        formset = RegionalCredentialsFormSet(data, prefix="regional") if supports_regional_credentials(provider) else None
        test = None
        if data is not None and form.is_valid() and (formset is None or formset.is_valid()):
            def create():
                throttle_connection_tests(user=request.user, owner=request.user)
                return provider_key_create(
                    owner=request.user, actor=request.user, provider=provider.id, credentials=form.credentials(),
                    regional_credentials=regional_credentials(formset) if formset else None, **form.key_settings())

            key, test = run_key_service(create, form=form, formset=formset)
            if key is not None:
                messages.success(request, f"The connection test passed and “{key.name}” is saved.")
                return HttpResponseRedirect(self.url("change", key.pk))
        return self.render(request, "byok_console/key_add.html", {
            "title": f"Add a {provider.name} key", "provider": provider, "form": form, "formset": formset,
            "test": test, **self._bedrock_help(provider, form)})

    def _bedrock_help(self, provider, form=None, key: ProviderKey | None = None) -> dict:
        """The IAM policy of every profile (the page shows the chosen one) and the model-access steps."""
        if not supports_inference_profiles(provider):
            return {}
        chosen = (form["inference_profile"].value() if form is not None and "inference_profile" in form.fields
                  else None) or (key.inference_profile if key else None)
        return {"bedrock_help": {
            "chosen": chosen,
            "policies": [{"profile": p, "json": json.dumps(iam_policy(p), indent=2)} for p in INFERENCE_PROFILES.values()],
            "models": list(provider.models.values()),
        }}

    # -- change ------------------------------------------------------------------------------------------------

    @sensitive_post
    def change_view(self, request, object_id, form_url="", extra_context=None):
        key = self.get_object(request, object_id)
        can_change = self.has_change_permission(request, key)
        if request.method == "POST" and not can_change:
            raise PermissionDenied
        data = request.POST if request.method == "POST" else None
        form = formset = test = None
        if can_change:
            form = key_form_class(key.provider_spec, editing=True)(data, owner=request.user, initial={
                "name": key.name, "inference_profile": key.inference_profile, "fallback_mode": key.fallback_mode,
                "scope": key.scope, "workspaces": list(key.workspaces.all())})
            if supports_regional_credentials(key.provider_spec):
                formset = RegionalCredentialsFormSet(data, prefix="regional")
        if data is not None and form.is_valid() and (formset is None or formset.is_valid()):
            regional = regional_credentials(formset) if formset else None
            settings_ = form.key_settings()

            def update():
                if form.credentials() or regional is not None or settings_.get("inference_profile",
                                                                                key.inference_profile) != key.inference_profile:
                    throttle_connection_tests(user=request.user, owner=request.user)  # the service tests first
                return provider_key_update(key=key, actor=request.user, credentials=form.credentials(),
                                           regional_credentials=regional, **settings_)

            saved, test = run_key_service(update, form=form, formset=formset)
            if saved is not None:
                messages.success(request, f"“{key.name}” is saved.")
                return HttpResponseRedirect(self.url("change", key.pk))
        return self._render_change(request, key, form=form, formset=formset, test=test)

    def _render_change(self, request, key, *, form=None, formset=None, test=None, fresh_test=False):
        return self.render(request, "byok_console/key_change.html", {
            "title": str(key), "key": key, "form": form, "formset": formset,
            "can_change": self.has_change_permission(request, key),
            "can_refresh_session": is_session_refreshable(key),
            "badges": badges_html(key_badges(key, now=timezone.now())),
            "test": test or (test_outcome(key.last_test_summary) if key.last_test_summary else None),
            "fresh_test": fresh_test or test is not None,
            "workspaces": [w.name for w in key.workspaces.all()] if key.owner_id == request.user.pk else [],
            **self._bedrock_help(key.provider_spec, form, key)})

    # -- buttons -----------------------------------------------------------------------------------------------

    @post_only
    def test_view(self, request, object_id):
        key = self._own_key(request, object_id)
        try:
            throttle_connection_tests(user=request.user, owner=key.owner)
        except DomainError as exc:
            messages.error(request, exc.message)
            return HttpResponseRedirect(self.url("change", key.pk))
        result = provider_key_test_connection(key=key, actor=request.user)
        key.refresh_from_db()
        if result.ok:
            messages.success(request, "Connection test passed.")
        else:
            messages.error(request, f"Connection test failed: {result.hint}")
        return self._render_change(request, key, test=test_outcome(result.as_dict()), fresh_test=True)

    @post_only
    def enable_view(self, request, object_id):
        key = provider_key_enable(key=self._own_key(request, object_id), actor=request.user)
        messages.success(request, f"“{key.name}” is enabled.")
        return HttpResponseRedirect(self.url("change", key.pk))

    @post_only
    def disable_view(self, request, object_id):
        key = provider_key_disable(key=self._own_key(request, object_id), actor=request.user)
        messages.success(request, f"“{key.name}” is disabled; calls use platform credentials or fail, "
                                  f"as its fallback mode says. The secret is kept for re-enabling.")
        return HttpResponseRedirect(self.url("change", key.pk))

    @post_only
    def refresh_session_view(self, request, object_id):
        key = self._own_key(request, object_id)
        if not is_session_refreshable(key):
            raise PermissionDenied  # temporary credentials and API keys have no session to refresh
        outcome = session_refresh_now(key=key, actor=request.user)
        if outcome.status == SessionRefreshOutcome.REFRESHED:
            messages.success(request, f"New session token, valid until "
                                      f"{timezone.localtime(outcome.expires_at):%Y-%m-%d %H:%M %Z}.")
        else:
            hint = outcome.failure.hint if outcome.failure else outcome.reason
            messages.error(request, f"The session was not refreshed ({outcome.reason}): {hint}")
        return HttpResponseRedirect(self.url("change", key.pk))

    @sensitive_post
    def rotate_view(self, request, object_id):
        key = self._own_key(request, object_id)
        data = request.POST if request.method == "POST" else None
        form = rotate_form_class(key.provider_spec)(data)
        formset = RegionalCredentialsFormSet(data, prefix="regional") if supports_regional_credentials(
            key.provider_spec) else None
        test = None
        if data is not None and form.is_valid() and (formset is None or formset.is_valid()):
            def rotate():
                throttle_connection_tests(user=request.user, owner=key.owner)
                return provider_key_rotate(key=key, actor=request.user, credentials=form.credentials(),
                                           regional_credentials=regional_credentials(formset) if formset else None)

            rotated, test = run_key_service(rotate, form=form, formset=formset)
            if rotated is not None:
                messages.success(request, f"“{key.name}” is rotated: the new credentials passed the test and the "
                                          f"old secret is gone.")
                return HttpResponseRedirect(self.url("change", key.pk))
        return self.render(request, "byok_console/key_rotate.html", {
            "title": f"Rotate {key.name}", "original": key, "key": key, "form": form, "formset": formset,
            "test": test})

    @sensitive_post
    def revert_view(self, request):
        if not self.access(request).is_owner:
            raise PermissionDenied
        form = RevertConfirmForm(request.POST if request.method == "POST" else None)
        if form.is_valid():
            deleted = byok_revert_to_platform(owner=request.user, actor=request.user, confirm=True)
            messages.success(request, f"Reverted to platform keys: {deleted} stored key(s) deleted. Every workspace "
                                      f"now uses platform credentials.")
            return HttpResponseRedirect(self.url("changelist"))
        keys = ProviderKey.objects.filter(owner=request.user).only("name", "provider", "key_hint")
        return self.render(request, "byok_console/revert_confirm.html",
                           {"title": "Revert to platform keys", "form": form, "keys": keys})


# --- Workspaces and members ------------------------------------------------------------------------------------


@admin.register(Workspace, site=console_site)
class WorkspaceConsoleAdmin(ConsoleModelAdmin):
    list_display = ["name", "slug", "owner", "your_role", "member_count"]
    search_fields = ["name", "slug"]

    def get_queryset(self, request):
        return console_workspaces(self.access(request))

    @admin.display(description="members", ordering="member_count")
    def member_count(self, workspace) -> int:
        return workspace.member_count

    @admin.display(description="your role")
    def your_role(self, workspace) -> str:
        return "Owner" if workspace.owned_by_viewer else "Admin"

    def get_urls(self):
        wrap = self.admin_site.admin_view
        info = self.opts.app_label, self.opts.model_name
        return [
            path("<path:object_id>/members/add/", wrap(self.member_add_view), name="%s_%s_member_add" % info),
            path("<path:object_id>/members/<int:user_id>/role/", wrap(self.member_role_view),
                 name="%s_%s_member_role" % info),
            path("<path:object_id>/members/<int:user_id>/remove/", wrap(self.member_remove_view),
                 name="%s_%s_member_remove" % info),
            path("<path:object_id>/members/<int:user_id>/make-owner/", wrap(self.ownership_transfer_view),
                 name="%s_%s_ownership_transfer" % info),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        workspace = self.get_object(request, object_id)
        if request.method == "POST":
            raise PermissionDenied  # each change is its own POST view below
        return self.render(request, "byok_console/workspace_change.html", {
            "title": workspace.name, "workspace": workspace,
            "memberships": workspace.memberships.all(), "add_form": MemberAddForm(),
            "roles": MemberRoleForm.base_fields["role"].choices,
            "is_owner": workspace.owner_id == request.user.pk})

    def _member_of(self, workspace, user_id) -> User:
        membership = next((m for m in workspace.memberships.all() if m.user_id == user_id), None)
        if membership is None:
            raise Http404("Not a member of this workspace.")
        return membership.user

    def _done(self, request, workspace, action) -> HttpResponse:
        """Run a membership service; its domain error (ownership rules, already a member …) becomes a message."""
        try:
            message = action()
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, message)
        return HttpResponseRedirect(self.url("change", workspace.pk))

    @post_only
    def member_add_view(self, request, object_id):
        workspace = self.get_object(request, object_id)
        form = MemberAddForm(request.POST)
        if not form.is_valid():
            for errors in form.errors.values():
                messages.error(request, " ".join(errors))
            return HttpResponseRedirect(self.url("change", workspace.pk))
        user, role = form.cleaned_data["user"], form.cleaned_data["role"]

        def add():
            membership_add(workspace=workspace, user=user, role=role, actor=request.user)
            return f"{user.username} joined {workspace.name} as {role}."

        return self._done(request, workspace, add)

    @post_only
    def member_role_view(self, request, object_id, user_id):
        workspace = self.get_object(request, object_id)
        user = self._member_of(workspace, user_id)
        form = MemberRoleForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Choose member or admin.")
            return HttpResponseRedirect(self.url("change", workspace.pk))

        def change():
            membership_role_change(workspace=workspace, user=user, role=form.cleaned_data["role"], actor=request.user)
            return f"{user.username} is now {form.cleaned_data['role']} of {workspace.name}."

        return self._done(request, workspace, change)

    @post_only
    def member_remove_view(self, request, object_id, user_id):
        workspace = self.get_object(request, object_id)
        user = self._member_of(workspace, user_id)

        def remove():
            membership_remove(workspace=workspace, user=user, actor=request.user)
            return f"{user.username} was removed from {workspace.name}."

        return self._done(request, workspace, remove)

    @post_only
    def ownership_transfer_view(self, request, object_id, user_id):
        workspace = self.get_object(request, object_id)
        if workspace.owner_id != request.user.pk:
            raise PermissionDenied  # only the owner hands over the workspace
        user = self._member_of(workspace, user_id)

        def transfer():
            workspace_ownership_transfer(workspace=workspace, new_owner=user, actor=request.user)
            return f"{user.username} now owns {workspace.name}; you stay on as an admin."

        return self._done(request, workspace, transfer)


# --- Audit trail -----------------------------------------------------------------------------------------------


class AuditWorkspaceFilter(SimpleListFilter):
    """Only the workspaces this user may see are offered (the stock FK filter would list every workspace)."""

    title = "workspace"
    parameter_name = "workspace"

    def lookups(self, request, model_admin):
        return [(w.pk, w.name) for w in Workspace.objects.filter(pk__in=model_admin.access(request).workspace_ids)]

    def queryset(self, request, queryset):
        return queryset.filter(workspace_id=self.value()) if self.value() else queryset


@admin.register(AuditEvent, site=console_site)
class AuditEventConsoleAdmin(ConsoleModelAdmin):
    list_display = ["created_at", "action", "actor_label", "target_hint", "workspace"]
    list_filter = ["action", AuditWorkspaceFilter, "created_at"]
    search_fields = ["actor_label", "target_hint"]
    date_hierarchy = "created_at"
    ordering = ["-created_at", "-id"]
    # Columns as text: no widget, and no query per foreign key on the detail page.
    readonly_fields = ["created_at", "action", "actor_label", "actor_ip", "workspace", "target_hint", "details",
                       "request_id", "chain_sequence", "chained_at"]
    fields = readonly_fields

    def get_queryset(self, request):
        return console_audit_events(self.access(request))
