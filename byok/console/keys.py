"""Provider keys in the owner console: the list with its badges and filter, add / change, and the buttons
(test, enable, disable, refresh session, rotate, revert to platform keys)."""

import json
import math
import re

from django.contrib import admin, messages
from django.contrib.admin import SimpleListFilter
from django.core.exceptions import PermissionDenied
from django.db.models import Value
from django.http import HttpResponseRedirect
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html, format_html_join

from core.errors import DomainError

from ..catalog.selectors import catalog_model, lifecycle_notices
from ..errors import ConnectionTestFailed
from ..gateway.serving import (
    failure_words,
    family_name,
    key_outage,
    key_traffic,
    platform_configured,
    residency,
    serving_for,
    serving_sentence,
    what_serves_key_workspaces,
    what_serves_next,
)
from ..models import ProviderKey
from ..providers.registry import FAMILIES, PROVIDERS
from ..services.connection import (
    TooManyConnectionTests,
    connection_test,
    current_tier_models,
    provider_key_test_connection,
)
from ..services.keys import (
    byok_revert_to_platform,
    provider_key_create,
    provider_key_delete,
    provider_key_disable,
    provider_key_enable,
    provider_key_rotate,
    provider_key_update,
    regional_set_text,
    regional_sets,
)
from ..services.roles import owner_external_id, platform_aws_account_id
from ..services.sessions import SessionRefreshOutcome, session_refresh_now
from .forms import (
    ADD_REGION,
    RevertConfirmForm,
    add_domain_errors,
    key_form_class,
    kept_restore,
    kept_seal,
    regional_credentials,
    regional_formset,
    rotate_form_class,
    typed_values,
)
from .scope import console_provider_keys, console_provider_keys_with_status
from .site import (
    ConsoleModelAdmin,
    object_action,
    plan_context,
    plan_required_message,
    posted,
    sensitive_post,
)

_CLAUDE = re.compile(r"claude-(?P<family>[a-z]+)-(?P<major>\d+)-(?P<minor>\d)(?:-|$)")
_KNOWN = {"gpt-5": "GPT-5", "gpt-5-mini": "GPT-5 mini", "deepseek-chat": "DeepSeek-V3 (chat)",
          "deepseek-reasoner": "DeepSeek-R1 (reasoner)", "mistral-medium-latest": "Mistral Medium",
          "mistral-large-latest": "Mistral Large", "grok-4": "Grok 4", "grok-4-fast": "Grok 4 Fast",
          "glm-4.5-air": "GLM-4.5-Air", "glm-4.6": "GLM-4.6", "llama-3.1-8b-instant": "Llama 3.1 8B Instant",
          "llama-3.3-70b-versatile": "Llama 3.3 70B Versatile"}
TIER_NAMES = {"standard": "standard tier", "complex": "complex tier"}


def model_display_name(model_id: str) -> str:
    """"Claude Sonnet 4.5" for any Bedrock or Anthropic id of it (with or without a profile prefix); the catalog's
    other models by their usual names; an unknown id as itself."""
    match = _CLAUDE.search(model_id)
    if match:
        return f"Claude {match['family'].capitalize()} {match['major']}.{match['minor']}"
    return _KNOWN.get(model_id, model_id)


def check_label(check: dict) -> str:
    """A check's name for people: "Claude Sonnet 4.5 (standard tier)" instead of `model:standard`."""
    name = check.get("name", "")
    if name.startswith("model:") and check.get("target"):
        tier = name.partition(":")[2].partition("@")[0]
        return f"{model_display_name(check['target'])} ({TIER_NAMES.get(tier, tier)})"
    return name


def test_outcome(data: dict) -> dict:
    """A connection test result (fresh, from a failed save, or the summary stored on the key) for the templates."""
    tested_at = data.get("tested_at")
    checks = [{**c, "label": check_label(c)} for c in data.get("checks", [])]
    provider = PROVIDERS.get(data.get("provider", ""))
    return {**data, "checks": checks, "account_label": provider.account_label if provider else "Account",
            "tested_at": parse_datetime(tested_at) if isinstance(tested_at, str) else tested_at}


def article(word: str) -> str:
    """ "an" before a vowel sound ("an AWS Bedrock key", "an OpenAI key"), else "a"."""
    return "an" if word[:1].upper() in "AEIOU" else "a"


def adding_region(data) -> bool:
    """The "Add region" button: show the form again with one more regional row, save nothing, check nothing."""
    return data is not None and ADD_REGION in data


def submitted_and_valid(data, form, formset=None) -> bool:
    """A POST whose form (and formset, when the page has one) is valid."""
    return data is not None and form.is_valid() and (formset is None or formset.is_valid())


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


def rotation_message(key: ProviderKey, stored_sets: list[dict], removed: list[str]) -> str:
    """What a rotation did, regional sets included: which stayed, which went, which are new."""
    gone = [regional_set_text(e) for e in stored_sets if set(removed) & set(e["regions"])]
    before = {regional_set_text(e) for e in stored_sets}
    kept = [t for t in map(regional_set_text, regional_sets(key)) if t in before]
    added = [t for t in map(regional_set_text, regional_sets(key)) if t not in before]
    parts = [f"“{key.name}” is rotated: the new credentials passed the test and the old secret is gone."]
    if kept:
        parts.append(f"Regional sets kept: {'; '.join(kept)}.")
    if gone:
        parts.append(f"Regional sets removed: {'; '.join(gone)}.")
    if added:
        parts.append(f"Regional sets added: {'; '.join(added)}.")
    return " ".join(parts)


class ProviderFilter(SimpleListFilter):
    """The providers of the keys listed, by their display names ("AWS Bedrock (API key)", not its id)."""

    title = "provider"
    parameter_name = "provider"

    def lookups(self, request, model_admin):
        present = set(model_admin.get_queryset(request).values_list("provider", flat=True))
        return [(p.id, p.name) for p in PROVIDERS.values() if p.id in present]

    def queryset(self, request, queryset):
        return queryset.filter(provider=self.value()) if self.value() else queryset


class KeyStatusFilter(SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return ProviderKey.Status.choices

    def queryset(self, request, queryset):
        if self.value() in ProviderKey.Status.values:
            return console_provider_keys_with_status(queryset, self.value())
        return queryset


def scope_text(key: ProviderKey, viewer_id: int | None) -> str:
    """"All my workspaces" for the owner; "All of olivia's workspaces" for anyone else (an admin)."""
    if key.scope != ProviderKey.Scope.ALL_WORKSPACES:
        return key.get_scope_display()
    return key.get_scope_display() if key.owner_id == viewer_id else f"All of {key.owner.username}'s workspaces"


def key_badges(key: ProviderKey, *, now) -> list[tuple[str, str]]:
    """(css class, text) of each badge: the status, then reminders about the session and rotation."""
    status = key.status_for(byok_allowed=key.owner.plan.byok_allowed, now=now)
    outage = key_outage(key, now=now) if status == ProviderKey.Status.ACTIVE else None
    if outage is not None:  # the key is fine but the model standard calls use is not: they fall back
        badges = [("failing", f"standard calls fall back: {failure_words(outage.reason)}")]
    else:
        badges = [(status, ProviderKey.Status(status).label)]
    if key.session_token_expires_at and key.session_token_expires_at > now:
        hours = math.ceil((key.session_token_expires_at - now).total_seconds() / 3600)
        badges.append(("session", f"session expires in {hours} h"))
    if key.rotation_due(now=now):
        badges.append(("rotation-due", "rotation due"))
    return badges


def badges_html(badges: list[tuple[str, str]]) -> str:
    return format_html_join(" ", '<span class="byok-badge byok-badge-{}">{}</span>', badges)


class ProviderKeyConsoleAdmin(ConsoleModelAdmin):
    list_display = ["name", "provider_name", "key_hint", "badges", "last_test", "serves"]
    list_filter = [ProviderFilter, KeyStatusFilter]
    search_fields = ["name", "key_hint"]
    actions = ["enable_keys", "disable_keys"]
    change_list_template = "byok_console/providerkey_change_list.html"

    def get_queryset(self, request):
        # Who is looking, on each row: the list's columns say "All my workspaces" only to the key's owner.
        return (console_provider_keys(self.access(request)).annotate(viewer_id=Value(request.user.pk))
                .prefetch_related("api_keys__workspace"))

    def has_add_permission(self, request) -> bool:
        return self.access(request).is_owner and plan_required_message(request.user) is None

    def has_change_permission(self, request, obj=None) -> bool:
        """Only the owner changes their keys; workspace admins see them read-only."""
        if obj is None:
            return self.access(request).is_owner
        return obj.owner_id == request.user.pk

    has_delete_permission = has_change_permission

    def action_object(self, request, object_id) -> ProviderKey:
        """One of the user's own keys: 404 unless visible to this user, 403 for a key they only see."""
        key = self.get_object(request, object_id)
        if not self.has_change_permission(request, key):
            raise PermissionDenied
        return key

    # -- list --------------------------------------------------------------------------------------------------

    @admin.display(description="provider", ordering="provider")
    def provider_name(self, key: ProviderKey) -> str:
        return key.provider_spec.name

    @admin.display(description="status")
    def badges(self, key: ProviderKey) -> str:
        return badges_html(key_badges(key, now=timezone.now()))

    @admin.display(description="last test · real calls", ordering="last_tested_at")
    def last_test(self, key: ProviderKey) -> str:
        """The last test and, when later, what real calls did: neither hides the other."""
        tested = "never tested"
        if key.last_tested_at:
            mark = "✓" if key.last_test_status == ProviderKey.TestStatus.OK else "✗"
            tested = f"{mark} tested {timezone.localtime(key.last_tested_at):%Y-%m-%d %H:%M %Z}"
        traffic = key_traffic(key)
        if traffic is None or (key.last_tested_at and traffic["at"] <= key.last_tested_at):
            return tested
        return format_html("{}<br>{} {}", tested, "✓" if traffic["ok"] else "✗", traffic["text"])

    @admin.display(description="serves")
    def serves(self, key: ProviderKey) -> str:
        if key.scope == ProviderKey.Scope.ALL_WORKSPACES:
            return scope_text(key, key.viewer_id)
        if key.scope == ProviderKey.Scope.API_KEYS:  # prefetched by the selector
            return ", ".join(f"API key {a.name} ({a.workspace.name})" for a in key.api_keys.all())
        return ", ".join(w.name for w in key.workspaces.all())  # prefetched by the selector


    def changelist_view(self, request, extra_context=None):
        access = self.access(request)
        context = {**plan_context(request, access),
                   "can_revert": access.is_owner and plan_required_message(request.user) is None,
                   "read_only_note": None if access.is_owner else
                   "These are your workspace owners' keys that serve the workspaces you administer: read-only, "
                   "only an owner adds, tests, rotates or reverts their keys.",
                   "model_notices": lifecycle_notices(workspace_ids=access.workspace_ids),
                   **(extra_context or {})}
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

    delete_confirmation_template = "byok_console/key_delete_confirm.html"

    def delete_view(self, request, object_id, extra_context=None):
        key = self.get_object(request, object_id)
        context = {"title": f"Delete {key.name}?", "after_delete": self._after_delete_text(key),
                   **(extra_context or {})}
        return super().delete_view(request, object_id, extra_context=context)

    def _after_delete_text(self, key: ProviderKey) -> str:
        """What would serve the key's workspaces once it is gone: the rules applied without it."""
        workspaces = list(key.owner.owned_workspaces.all()) if key.scope == ProviderKey.Scope.ALL_WORKSPACES \
            else list(key.workspaces.all())
        others = [k for k in ProviderKey.objects.filter(owner_id=key.owner_id, family=key.family).exclude(pk=key.pk)
                  .prefetch_related("workspaces")]
        platform: dict = {}
        servings = [serving_for(workspace=w, family=key.family, keys=others,
                                byok_allowed=key.owner.plan.byok_allowed, platform=platform) for w in workspaces]
        return serving_sentence(servings).replace(" now ", " will ")

    def delete_model(self, request, obj):
        workspaces = None if obj.scope == ProviderKey.Scope.ALL_WORKSPACES else list(obj.workspaces.all())
        provider_key_delete(key=obj, actor=request.user)
        request._byok_after_delete = what_serves_next(owner=request.user, families=[obj.family],
                                                      workspaces=workspaces)

    def response_delete(self, request, obj_display, obj_id):
        response = super().response_delete(request, obj_display, obj_id)
        if getattr(request, "_byok_after_delete", ""):
            messages.info(request, request._byok_after_delete)
        return response

    def delete_queryset(self, request, queryset):
        for key in queryset.filter(owner=request.user):
            provider_key_delete(key=key, actor=request.user)

    # -- urls ----------------------------------------------------------------------------------------------------

    def get_urls(self):
        return [
            self.view_path("revert/", self.revert_view, "revert"),
            self.view_path("<path:object_id>/test/", self.test_view, "test"),
            self.view_path("<path:object_id>/rotate/", self.rotate_view, "rotate"),
            self.view_path("<path:object_id>/enable/", self.enable_view, "enable"),
            self.view_path("<path:object_id>/disable/", self.disable_view, "disable"),
            self.view_path("<path:object_id>/refresh-session/", self.refresh_session_view, "refresh_session"),
            *super().get_urls(),
        ]

    # -- add -----------------------------------------------------------------------------------------------------

    @sensitive_post
    def add_view(self, request, form_url="", extra_context=None):
        if not self.access(request).is_owner:
            raise PermissionDenied
        if plan_required_message(request.user):
            return self.render(request, "byok_console/plan_required.html",
                               {"title": "Add a provider key", **plan_context(request, self.access(request))},
                               status=403)
        provider = PROVIDERS.get(request.GET.get("provider", ""))
        if provider is None:
            return self.render(request, "byok_console/key_provider_choice.html",
                               {"title": "Add a provider key: choose the provider", "providers": PROVIDERS.values()})
        form_class = key_form_class(provider, editing=False)
        data = kept_restore(posted(request), form_class, user_id=request.user.pk)
        form = form_class(data, owner=request.user)
        kept = kept_seal(form, user_id=request.user.pk)
        formset = regional_formset(provider, data, add_row=adding_region(data))
        test = parse_preview = None
        if adding_region(data):
            form = form_class(initial=typed_values(form), owner=request.user)
        elif data is not None and "_parse" in data:
            parse_preview = self._parse_only(provider, form)
        elif data is not None and "_test" in data:
            test = self._test_only(request, provider, form, formset)
        elif submitted_and_valid(data, form, formset):
            def create():
                return provider_key_create(
                    owner=request.user, actor=request.user, provider=provider.id, credentials=form.credentials(),
                    regional_credentials=regional_credentials(formset) if formset else None, **form.key_settings())

            key, test = run_key_service(create, form=form, formset=formset)
            if key is not None:
                return self.redirect_to_change(request, key, f"The connection test passed and “{key.name}” is saved.")
        return self.render(request, "byok_console/key_add.html", {
            "title": f"Add {article(provider.name)} {provider.name} key", "provider": provider, "form": form,
            "formset": formset, "test": test, "fresh_test": test is not None, "tested_only": "_test" in request.POST,
            "parse_preview": parse_preview, "accepts_paste": "pasted" in form.fields, "kept": kept,
            **self._access_help(provider, form, owner=request.user)})

    def _parse_only(self, provider, form) -> dict | None:
        """The "Parse" button: what the pasted credentials hold, masked (the key id's hint; whether a secret and a
        session token are there), before anything is tested or saved. The paste is not written back."""
        form.is_valid()
        form.errors.clear()
        try:
            preview = provider.paste_preview(form.data.get("pasted", ""))
        except DomainError as exc:
            for message in exc.fields.get("text", [exc.message]):
                form.add_error("pasted" if "pasted" in form.fields else None, message)
            return None
        return {**preview, "problems": [f"{name.removeprefix('credentials.')}: {reason}"
                                        for name, reasons in preview["problems"].items() for reason in reasons]}

    def _test_only(self, request, provider, form, formset) -> dict | None:
        """The "Test" button: run the connection test on the typed credentials (throttled like every test) and
        save nothing. Only the credential fields (and the profile) need to be valid: the name and the rest wait for
        "Test and save". The result, or the validation/throttle error placed on the form."""
        form.is_valid()
        for settings_field in ("name", "fallback_mode", "scope", "priority", "weight", "workspaces", "api_keys"):
            form.errors.pop(settings_field, None)
        if form.errors or (formset is not None and not formset.is_valid()):
            return None
        try:
            profile = provider.profile_for(form.cleaned_data.get("inference_profile", ""))
            cleaned = provider.clean(form.credentials(), inference_profile=profile,
                                     regional_credentials=regional_credentials(formset) if formset else None)
            result = connection_test(provider=provider.id, credentials=cleaned.credentials,
                                     inference_profile=profile, actor=request.user, owner_id=request.user.pk)
        except DomainError as exc:
            add_domain_errors(form, exc, formset)
            return None
        return test_outcome(result.as_dict())

    def _access_help(self, provider, form=None, key: ProviderKey | None = None, *, owner=None) -> dict:
        """The provider's access policy for every inference profile (the page shows the chosen one) and the
        model-access steps; for a role, also the owner's external ID and the exact trust policy. Nothing for
        providers without profiles."""
        if not provider.inference_profiles:
            return {}
        chosen = (form["inference_profile"].value() if form is not None and "inference_profile" in form.fields
                  else None) or (key.inference_profile if key else None)
        help_ = {
            "chosen": chosen,
            "policies": [{"profile": p, "json": json.dumps(provider.access_policy(p.id), indent=2)}
                         for p in provider.inference_profiles.values()],
            "models": list(current_tier_models(provider).values()),
            "retiring": self._retiring_tier_models(provider),
            "role": None,
        }
        if provider.assumes_role and owner is not None:
            external_id = owner_external_id(owner)
            platform_account = platform_aws_account_id(provider)
            help_["role"] = {
                "external_id": external_id, "platform_account": platform_account,
                "trust_json": json.dumps(provider.trust_policy(platform_account_id=platform_account,
                                                               external_id=external_id), indent=2),
            }
        return {"access_help": help_}

    @staticmethod
    def _retiring_tier_models(provider) -> list[dict]:
        """The tier models with a retirement day and a replacement: the owner enables the replacement ahead of it."""
        retiring = []
        for tier, model_id in current_tier_models(provider).items():
            model = catalog_model(provider.family, model_id)
            replacement = catalog_model(provider.family, model.replacement_id) if model and model.replacement_id \
                else None
            if model and model.retires_on and replacement and not replacement.retired:
                retiring.append({"tier": tier, "model": model, "replacement": replacement})
        return retiring

    # -- change ------------------------------------------------------------------------------------------------

    @sensitive_post
    def change_view(self, request, object_id, form_url="", extra_context=None):
        key = self.get_object(request, object_id)
        can_change = self.has_change_permission(request, key)
        if request.method == "POST" and not can_change:
            raise PermissionDenied
        data = posted(request)
        form = formset = test = kept = None
        if can_change:
            form_class = key_form_class(key.provider_spec, editing=True)
            data = kept_restore(data, form_class, user_id=request.user.pk)
            form = form_class(data, owner=request.user, initial={
                "name": key.name, "inference_profile": key.inference_profile, "fallback_mode": key.fallback_mode,
                "scope": key.scope, "priority": key.priority, "weight": key.weight,
                "workspaces": list(key.workspaces.all()), "api_keys": list(key.api_keys.all())})
            kept = kept_seal(form, user_id=request.user.pk)
            formset = regional_formset(key.provider_spec, data, add_row=adding_region(data))
            if adding_region(data):
                form = form_class(initial=typed_values(form), owner=request.user)
        if not adding_region(data) and submitted_and_valid(data, form, formset):
            regional = regional_credentials(formset) if formset else None
            settings_ = form.key_settings()

            def update():
                return provider_key_update(key=key, actor=request.user, credentials=form.credentials(),
                                           regional_credentials=regional, **settings_)

            saved, test = run_key_service(update, form=form, formset=formset)
            if saved is not None:
                return self.redirect_to_change(request, key, f"“{key.name}” is saved.")
        return self._render_change(request, key, form=form, formset=formset, test=test, kept=kept)

    def _render_change(self, request, key, *, form=None, formset=None, test=None, fresh_test=False, kept=None):
        return self.render(request, "byok_console/key_change.html", {
            "title": str(key), "key": key, "form": form, "formset": formset, "kept": kept,
            "can_change": self.has_change_permission(request, key),
            "scope_text": scope_text(key, request.user.pk),
            "residency": residency(key),
            "can_refresh_session": key.refreshes_session,
            "badges": badges_html(key_badges(key, now=timezone.now())),
            "traffic": key_traffic(key),
            "test": test or (test_outcome(key.last_test_summary) if key.last_test_summary else None),
            "fresh_test": fresh_test or test is not None or request.GET.get("tested") == "1",
            "workspaces": [w.name for w in key.workspaces.all()] if key.owner_id == request.user.pk else [],
            "api_keys": [f"{a.name} ({a.key_hint})" for a in key.api_keys.select_related("workspace")]
            if key.owner_id == request.user.pk else [],
            "model_notices": [n for n in lifecycle_notices(workspace_ids=self.access(request).workspace_ids)
                              if n.model.family == key.family],
            **self._access_help(key.provider_spec, form, key, owner=key.owner)})

    # -- buttons -----------------------------------------------------------------------------------------------

    def test_view(self, request, object_id):
        """POST runs the test, keeps its result on the key and redirects to the key's page, which shows it
        (post-redirect-get: reloading never re-runs a test nor shows a blank 405). A GET just goes there."""
        key = self.action_object(request, object_id)
        if request.method != "POST":
            return HttpResponseRedirect(self.url("change", key.pk) + "#test-result")
        try:
            result = provider_key_test_connection(key=key, actor=request.user)
        except TooManyConnectionTests as exc:
            return self.redirect_to_change(request, key, exc.message, level=messages.ERROR)
        if result.ok:
            messages.success(request, "Connection test passed.")
        else:
            messages.error(request, f"Connection test failed: {result.hint}")
        return HttpResponseRedirect(self.url("change", key.pk) + "?tested=1#test-result")

    @object_action
    def enable_view(self, request, key):
        provider_key_enable(key=key, actor=request.user)
        return self.redirect_to_change(request, key, f"“{key.name}” is enabled. {what_serves_key_workspaces(key)}")

    @object_action
    def disable_view(self, request, key):
        provider_key_disable(key=key, actor=request.user)
        return self.redirect_to_change(request, key, f"“{key.name}” is disabled. {what_serves_key_workspaces(key)} "
                                                     f"The secret is kept for re-enabling.")

    @object_action
    def refresh_session_view(self, request, key):
        if not key.refreshes_session:
            raise PermissionDenied  # temporary credentials and API keys have no session to refresh
        outcome = session_refresh_now(key=key, actor=request.user)
        if outcome.status == SessionRefreshOutcome.REFRESHED:
            return self.redirect_to_change(request, key, f"New session token, valid until "
                                                         f"{timezone.localtime(outcome.expires_at):%Y-%m-%d %H:%M %Z}.")
        hint = outcome.failure.hint if outcome.failure else outcome.reason
        return self.redirect_to_change(request, key, f"The session was not refreshed ({outcome.reason}): {hint}",
                                       level=messages.ERROR)

    @sensitive_post
    def rotate_view(self, request, object_id):
        key = self.action_object(request, object_id)
        stored_sets = regional_sets(key)
        form_class = rotate_form_class(key.provider_spec, regional_sets=stored_sets)
        data = kept_restore(posted(request), form_class, user_id=request.user.pk)
        form = form_class(data)
        kept = kept_seal(form, user_id=request.user.pk)
        formset = regional_formset(key.provider_spec, data, add_row=adding_region(data))
        test = None
        if adding_region(data):
            form = form_class(initial=typed_values(form))
        elif submitted_and_valid(data, form, formset):
            removed = form.cleaned_data.get("remove_regional_sets", [])

            def rotate():
                return provider_key_rotate(key=key, actor=request.user, credentials=form.credentials(),
                                           regional_credentials=regional_credentials(formset) if formset else None,
                                           remove_regional_sets=removed)

            rotated, test = run_key_service(rotate, form=form, formset=formset)
            if rotated is not None:
                return self.redirect_to_change(request, key, rotation_message(key, stored_sets, removed))
        return self.render(request, "byok_console/key_rotate.html", {
            "title": f"Rotate {key.name}", "original": key, "key": key, "form": form, "formset": formset,
            "test": test, "stored_sets": [regional_set_text(entry) for entry in stored_sets], "kept": kept})

    @sensitive_post
    def revert_view(self, request):
        if not self.access(request).is_owner:
            raise PermissionDenied
        form = RevertConfirmForm(posted(request))
        if form.is_valid():
            families = set(ProviderKey.objects.filter(owner=request.user).values_list("family", flat=True))
            deleted = byok_revert_to_platform(owner=request.user, actor=request.user, confirm=True)
            messages.success(request, f"Reverted to platform keys: {deleted} stored key(s) deleted. "
                                      f"{what_serves_next(owner=request.user, families=families)}".strip())
            return HttpResponseRedirect(self.url("changelist"))
        keys = list(ProviderKey.objects.filter(owner=request.user).only("name", "provider", "family", "key_hint"))
        after = [{"family": family_name(f), "platform": platform_configured(f)}
                 for f in sorted({k.family for k in keys}, key=FAMILIES.index)]
        return self.render(request, "byok_console/revert_confirm.html",
                           {"title": "Revert to platform keys", "form": form, "keys": keys, "after": after})
