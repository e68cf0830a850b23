"""Forms of the owner console, built from the provider catalog: a page shows exactly one provider's fields.

Forms only collect input; the services validate it (one source of truth) and their domain errors are put back
on the field they name with `add_domain_errors`.
"""

import time

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.forms.utils import pretty_name
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from accounts.forms import LockoutMessageMixin
from accounts.models import ApiKey, Membership, User, Workspace
from core.errors import DomainError

from ..crypto import keyring
from ..models import ProviderKey, UsageLimit
from ..providers.base import CredentialField, CredentialsInvalid, Provider, hint
from ..services.keys import WEIGHT_MAX
from .scope import console_access

KEEP_HELP = "Leave blank to keep the stored value."


class ConsoleAuthenticationForm(LockoutMessageMixin, AuthenticationForm):
    """Sign-in for workspace owners and admins; not `is_staff` like the staff admin's form. Locked-out sign-ins
    are refused with their own message (accounts/lockout.py)."""

    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        if not console_access(user).allowed:
            raise ValidationError(
                "This console is for workspace owners and admins. Members use byok through their workspace, with "
                "the API keys they create at /manage/me/; ask your workspace owner for changes.",
                code="not_owner",
            )


class InvitationSignUpForm(forms.Form):
    """A new account on an invitation's link: the e-mail address is the invitation's (shown, not asked)."""

    username = forms.CharField(max_length=150, widget=forms.TextInput(attrs={"autocomplete": "username"}),
                               help_text="Letters, digits and @/./+/-/_ only.")
    password = forms.CharField(strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
                               help_text="At least 8 characters, not only digits, not a common password, not like "
                                         "your username or e-mail address.")
    password_again = forms.CharField(label="Password again", strip=False,
                                     widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))

    def clean(self):
        data = super().clean()
        if data.get("password") and data.get("password_again") and data["password"] != data["password_again"]:
            self.add_error("password_again", "The two passwords differ.")
        return data


class NoEchoTextInput(forms.TextInput):
    """Visible while typing, never written back into a page: a full access key id is shown only as its hint."""

    def format_value(self, value):
        return None


class NoEchoTextarea(forms.Textarea):
    """For a pasted file (a service-account key, a credentials file): multi-line, never written back into a page."""

    def format_value(self, value):
        return None


KEPT = "_kept"  # the sealed non-echoed fields of the last submit
KEPT_SECONDS = 1800


def _kept_names(form_class) -> list[str]:
    """The fields never written back into a page (the access key id, a paste, a key file): carried sealed."""
    return [name for name, field in form_class.base_fields.items()
            if isinstance(field.widget, (NoEchoTextInput, NoEchoTextarea))]


@sensitive_variables("sealed", "data")
def kept_restore(data, form_class, *, user_id: int):
    """The submitted data with each blank non-echoed field filled from the last submit's sealed values (the same
    user's, at most KEPT_SECONDS old): what was typed or pasted before a Test, Parse or refusal need not be again."""
    if data is None or not data.get(KEPT):
        return data
    try:
        sealed = keyring().decrypt_json(data[KEPT])
    except Exception:  # noqa: BLE001  (tampered, or sealed under a retired key: nothing is kept)
        return data
    if sealed.get("user") != user_id or time.time() - sealed.get("at", 0) > KEPT_SECONDS:
        return data
    data = data.copy()
    for name in _kept_names(form_class):
        if name in sealed["values"] and not str(data.get(name) or "").strip():
            data[name] = sealed["values"][name]
    return data


@sensitive_variables("values")
def kept_seal(form, *, user_id: int) -> dict | None:
    """For a page shown again: the non-echoed fields submitted, sealed with the encryption keyring (ciphertext only
    in the page), and a masked preview of each ("Access Key ID: AKIA…7XQ2"); None when none was submitted."""
    if not form.is_bound:
        return None
    values = {name: form.data[name].strip() for name in _kept_names(type(form))
              if isinstance(form.data.get(name), str) and form.data[name].strip()}
    if not values:
        return None
    return {"token": keyring().encrypt_json({"user": user_id, "at": time.time(), "values": values}),
            "fields": [(form.fields[name].label, _masked(form.provider, name, value)) for name, value in values.items()]}


@sensitive_variables("value")
def _masked(provider: Provider, name: str, value: str) -> str:
    if name == "pasted":
        try:
            preview = provider.paste_preview(value)
        except CredentialsInvalid:
            return "pasted text (not readable as credentials)"
        return (f"pasted {preview['format']}: key {preview['access_key_id']}, secret "
                f"{'present' if preview['has_secret_access_key'] else 'missing'}, session token "
                f"{'present' if preview['has_session_token'] else 'none'}")
    if "\n" in value or len(value) > 200:
        return f"{len(value.splitlines())} lines (hidden)"
    return hint(value)


def _credential_formfield(spec: CredentialField, *, required: bool, keep_hint: str = "") -> forms.Field:
    help_text = " ".join(t for t in (spec.help, keep_hint) if t)
    if spec.kind == "textarea":
        return forms.CharField(label=spec.label, required=required, help_text=help_text, strip=True,
                               max_length=spec.max_length,
                               widget=NoEchoTextarea(attrs={"autocomplete": "off", "rows": 8, "spellcheck": "false"}))
    if spec.secret:
        # Never rendered back: a redisplayed form (after an error) shows the field empty again.
        return forms.CharField(label=spec.label, required=required, help_text=help_text, strip=True,
                               widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}))
    if spec.kind == "choice":
        blank = [("", "— keep the stored value —" if keep_hint else "—")]
        return forms.ChoiceField(label=spec.label, required=required, help_text=help_text,
                                 choices=blank + [(c, c) for c in spec.choices])
    if spec.kind == "date":
        return forms.CharField(label=spec.label, required=required, help_text=help_text, strip=True,
                               widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": "2027-05-31"}))
    return forms.CharField(label=spec.label, required=required, help_text=help_text, strip=True,
                           widget=NoEchoTextInput(attrs={"autocomplete": "off"}))


class KeyFormBase(forms.Form):
    """Settings of a key; `key_form_class` adds the provider's credential fields."""

    provider: Provider
    credential_names: tuple[str, ...] = ()

    def credentials(self) -> dict[str, str]:
        """The credential values typed in; blank ones are left out (on edit, the stored value stays)."""
        return {n: self.cleaned_data[n] for n in self.credential_names if self.cleaned_data.get(n)}


class KeySettingsMixin(forms.Form):
    name = forms.CharField(max_length=100, help_text='A label for you, e.g. "Production key".')
    fallback_mode = forms.ChoiceField(choices=ProviderKey.FallbackMode.choices, initial=ProviderKey.FallbackMode.PLATFORM,
                                      widget=forms.RadioSelect,
                                      help_text="What happens when your key fails: platform credentials take over, "
                                                "or calls fail (exclusive).")
    scope = forms.ChoiceField(choices=ProviderKey.Scope.choices, initial=ProviderKey.Scope.ALL_WORKSPACES,
                              widget=forms.RadioSelect)
    priority = forms.IntegerField(
        min_value=0, max_value=32767, required=False,
        help_text="Order among your keys of this provider and scope: lower serves first, and a failing key hands the "
                  "call to the next before platform credentials. Claude tiers (standard, complex) follow it across "
                  "your Anthropic, Bedrock and Vertex keys. Blank on a new key: after your others.")
    weight = forms.IntegerField(min_value=1, max_value=WEIGHT_MAX, initial=1, required=False,
                                help_text="Share of calls among keys of equal priority (3 and 1: three in four).")
    workspaces = forms.ModelMultipleChoiceField(queryset=Workspace.objects.none(), required=False,
                                                widget=forms.CheckboxSelectMultiple,
                                                help_text="Only with “Selected workspaces”.")
    api_keys = forms.ModelMultipleChoiceField(
        queryset=ApiKey.objects.none(), required=False, widget=forms.CheckboxSelectMultiple, label="API keys",
        help_text="Only with “Selected API keys”: calls made with these workspace API keys use this key (e.g. one key "
                  "for staging callers, another for production); other calls in their workspaces do not.")

    def __init__(self, *args, owner: User, **kwargs):
        super().__init__(*args, **kwargs)
        # Foreign-key choices come from the owner's own workspaces, never from the whole table.
        self.fields["workspaces"].queryset = Workspace.objects.filter(owner=owner)
        self.fields["api_keys"].queryset = (ApiKey.objects.filter(workspace__owner=owner, revoked_at__isnull=True)
                                            .select_related("workspace").order_by("workspace__name", "name"))
        self.fields["api_keys"].label_from_instance = lambda k: f"{k.workspace.name}: {k.name} ({k.key_hint})"

    def key_settings(self) -> dict:
        data = {f: self.cleaned_data[f] for f in ("name", "fallback_mode", "scope", "workspaces", "api_keys")}
        data.update({f: self.cleaned_data[f] for f in ("priority", "weight") if self.cleaned_data[f] is not None})
        if "inference_profile" in self.fields:
            data["inference_profile"] = self.cleaned_data["inference_profile"]
        return data


def _profile_field(provider: Provider) -> forms.ChoiceField:
    return forms.ChoiceField(
        label="Inference profile", initial=provider.default_inference_profile, widget=forms.RadioSelect,
        choices=[(p.id, f"{p.name} — {p.purpose}") for p in provider.inference_profiles.values()],
        help_text=f"Where {provider.name.split(' (')[0]} may run your requests. The policy below follows the "
                  f"profile you choose.",
    )


def _accepts_paste(provider: Provider) -> bool:
    return any(spec.name == "pasted" for spec in provider.credential_fields)


def key_form_class(provider: Provider, *, editing: bool) -> type[KeyFormBase]:
    """The add form (required fields as the catalog says) or the edit form (blank credential fields keep)."""
    fields: dict[str, forms.Field] = {}
    if provider.inference_profiles:
        fields["inference_profile"] = _profile_field(provider)
    pastes = _accepts_paste(provider)  # typed fields or a paste: the service says which is missing
    for spec in provider.credential_fields:
        fields[spec.name] = _credential_formfield(spec, required=spec.required and not editing and not pastes,
                                                  keep_hint=KEEP_HELP if editing else "")
    names = tuple(s.name for s in provider.credential_fields)
    attrs = {**fields, "provider": provider, "credential_names": names,
             "field_order": ["name", "inference_profile", *names, "fallback_mode", "scope", "priority", "weight",
                            "workspaces", "api_keys"]}
    return type(f"{provider.id.title()}KeyForm", (KeySettingsMixin, KeyFormBase), attrs)


def rotate_form_class(provider: Provider, *, regional_sets: list[dict] = ()) -> type[KeyFormBase]:
    """The new credentials; a choice or date left blank (region, expiry) is kept from the old ones. With the key's
    stored `regional_sets` (hints, from `regional_sets(key)`), one "remove" box per set: unticked sets stay."""
    pastes = _accepts_paste(provider)
    fields = {
        spec.name: _credential_formfield(spec, required=spec.required and spec.kind not in ("choice", "date")
                                         and not pastes,
                                         keep_hint=KEEP_HELP if spec.kind in ("choice", "date") else "")
        for spec in provider.credential_fields
    }
    attrs = {**fields, "provider": provider, "credential_names": tuple(fields)}
    if regional_sets:
        attrs["remove_regional_sets"] = forms.MultipleChoiceField(
            label="Remove regional sets", required=False, widget=forms.CheckboxSelectMultiple,
            choices=[(entry["regions"][0], f"Remove the set for {', '.join(entry['regions'])} ({entry['hint']})")
                     for entry in regional_sets],
            help_text="Unticked sets stay, with their own secrets, beside the new main credentials.")
    return type(f"{provider.id.title()}RotateForm", (KeyFormBase,), attrs)


class RegionalCredentialsForm(forms.Form):
    """One extra credential set, used for the regions listed instead of the main set; `regional_formset` adds the
    provider's fields."""

    def entry(self) -> dict | None:
        data = {k: v for k, v in self.cleaned_data.items() if v and k != "DELETE"}
        return data or None


class RegionalFormSet(forms.BaseFormSet):
    """The per-region sets: rows added with the server-side "Add region" button, each with a "remove" box."""

    def add_fields(self, form, index):
        super().add_fields(form, index)
        if "DELETE" in form.fields:
            form.fields["DELETE"].label = "Remove this set"
        if index is not None:  # each set's labels name it: "Set 2: Access Key ID", never the same label twice
            for name, field in form.fields.items():
                field.label = f"Set {index + 1}: {field.label or pretty_name(name)}"

    @property
    def can_add(self) -> bool:
        return self.total_form_count() < self.max_num


ADD_REGION = "_add_region"


def typed_values(form: forms.Form) -> dict:
    """What was typed into a bound form, field by field (as its widgets read it), to show again unbound."""
    return {name: form[name].data for name in form.fields if name != "DELETE"}


def regional_formset(provider: Provider, data, *, add_row: bool = False) -> RegionalFormSet | None:
    """The provider's extra per-region credential sets, or None for providers without them.

    With `add_row` (the "Add region" button), the rows typed so far come back unbound (no error shown yet; rows
    ticked "remove" are dropped) with one more empty row. Secret fields are never written back into a page, so
    they come back empty."""
    if not provider.regional_credential_fields:
        return None
    fields = {"regions": forms.MultipleChoiceField(choices=[(r, r) for r in provider.regions], required=False,
                                                   widget=forms.SelectMultiple(attrs={"size": 4}))}
    # Every field optional: an empty row is no set; the service validates what is filled in.
    fields.update({spec.name: _credential_formfield(spec, required=False) for spec in provider.regional_credential_fields})
    form_class = type(f"{provider.id.title()}RegionalCredentialsForm", (RegionalCredentialsForm,), fields)
    formset_class = forms.formset_factory(form_class, formset=RegionalFormSet, extra=1, can_delete=True,
                                          max_num=len(provider.regions))
    if add_row and data is not None:
        typed = formset_class(data, prefix="regional")
        rows = [typed_values(form) for form in typed.forms if not form["DELETE"].data]
        return formset_class(initial=rows, prefix="regional")
    return formset_class(data, prefix="regional")


def regional_credentials(formset) -> list[dict] | None:
    """The regional sets filled in and not removed, or None when none was (on edit: keep the stored sets).

    Remembers which row each set came from, so that the service's `regional_credentials.<n>` errors land on it."""
    filled = [(form, entry) for form in formset.forms
              if not form.cleaned_data.get("DELETE") and (entry := form.entry())]
    formset.entry_forms = [form for form, _ in filled]
    return [entry for _, entry in filled] or None


def add_domain_errors(form: forms.Form, exc: DomainError, formset=None) -> None:
    """Put each of the service's field errors (`credentials.secret_access_key`, `regional_credentials.0.regions`,
    `scope` …) on the matching field; what matches no field goes to the top of the form."""
    for path, messages in exc.fields.items():
        target_form, field_name = form, path.removeprefix("credentials.")
        if path.startswith("regional_credentials.") and formset is not None:
            index, _, field_name = path.removeprefix("regional_credentials.").partition(".")
            rows = getattr(formset, "entry_forms", formset.forms)
            if index.isdigit() and int(index) < len(rows):
                target_form = rows[int(index)]
        for message in messages:
            if field_name in target_form.fields:
                target_form.add_error(field_name, message)
            else:
                form.add_error(None, f"{path}: {message}" if path else message)
    if not exc.fields:
        form.add_error(None, exc.message)


class UsageLimitForm(forms.Form):
    """A limit on calls made on the owner's account. Editing changes what the limit does, not what it counts: the
    subject and metric fields are left out (another subject or metric is another limit)."""

    subject = forms.ChoiceField(choices=UsageLimit.Subject.choices, initial=UsageLimit.Subject.OWNER,
                                widget=forms.RadioSelect, label="On")
    workspace = forms.ModelChoiceField(queryset=Workspace.objects.none(), required=False,
                                       help_text="For “A workspace” and “A member in a workspace”.")
    member = forms.ModelChoiceField(queryset=User.objects.none(), required=False, to_field_name="username",
                                    help_text="For “A member in a workspace”: a member of that workspace.")
    api_key = forms.ModelChoiceField(queryset=ApiKey.objects.none(), required=False, label="API key",
                                     help_text="For “A workspace API key”.")
    metric = forms.ChoiceField(choices=UsageLimit.Metric.choices, label="Limit of")
    value = forms.IntegerField(min_value=1, max_value=2_000_000_000, label="Limit",
                               help_text="Requests or tokens per minute, or US cents per day or month (UTC) for a "
                                         "budget: 2500 is $25.00.")
    on_exceed = forms.ChoiceField(choices=UsageLimit.OnExceed.choices, initial=UsageLimit.OnExceed.REFUSE,
                                  widget=forms.RadioSelect, label="Past the limit")
    fail_mode = forms.ChoiceField(choices=UsageLimit.FailMode.choices, initial=UsageLimit.FailMode.OPEN,
                                  widget=forms.RadioSelect, label="When the counter is unreachable")
    thresholds = forms.CharField(required=False, label="Notify me at",
                                 help_text="Percentages of the limit, e.g. “80, 95”: you hear once per period by "
                                           "e-mail, in the audit trail and on the webhook.")

    SUBJECT_FIELDS = ("subject", "workspace", "member", "api_key", "metric")

    def __init__(self, *args, owner: User, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if editing:
            for name in self.SUBJECT_FIELDS:
                del self.fields[name]
            return
        # Choices come from the owner's own workspaces, never from the whole table.
        self.fields["workspace"].queryset = Workspace.objects.filter(owner=owner)
        self.fields["member"].queryset = (User.objects.filter(memberships__workspace__owner=owner).distinct()
                                          .order_by("username"))
        self.fields["member"].label_from_instance = lambda user: user.get_username()
        self.fields["api_key"].queryset = (ApiKey.objects.filter(workspace__owner=owner, revoked_at__isnull=True)
                                           .select_related("workspace").order_by("workspace__name", "name"))
        self.fields["api_key"].label_from_instance = lambda k: f"{k.workspace.name}: {k.name} ({k.key_hint})"

    def clean_thresholds(self) -> list[int]:
        words = self.cleaned_data["thresholds"].replace(",", " ").replace("%", " ").split()
        if not all(word.isdigit() for word in words):
            raise ValidationError("Whole percentages, separated by commas (e.g. 80, 95).")
        return [int(word) for word in words]

    def limit_settings(self) -> dict:
        """The service's arguments: the subject's only on a new limit."""
        names = [name for name in (*self.SUBJECT_FIELDS, "value", "on_exceed", "fail_mode", "thresholds")
                 if name in self.fields]
        return {name: self.cleaned_data[name] for name in names}


class RevertConfirmForm(forms.Form):
    confirm = forms.BooleanField(
        label="I understand this deletes my stored credentials",
        error_messages={"required": "Tick the box to confirm: this deletes your stored credentials."},
    )


class InvitationForm(forms.Form):
    """Invite someone by e-mail. Admins invite members only: the role field offers them nothing else."""

    email = forms.EmailField(label="E-mail", max_length=254)
    role = forms.ChoiceField(choices=[(Membership.Role.MEMBER, "Member"), (Membership.Role.ADMIN, "Admin")],
                             initial=Membership.Role.MEMBER)

    def __init__(self, *args, may_invite_admins: bool, **kwargs):
        super().__init__(*args, **kwargs)
        if not may_invite_admins:
            self.fields["role"].choices = [(Membership.Role.MEMBER, "Member")]


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(choices=[(Membership.Role.MEMBER, "Member"), (Membership.Role.ADMIN, "Admin")])


class UsageRangeForm(forms.Form):
    """The usage page's date range: both days included, at most a year, not starting in the future."""

    MAX_DAYS = 366

    since = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        cleaned = super().clean()
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until:
            if since > until:
                raise ValidationError("“From” must be on or before “To”.", code="order")
            if (until - since).days + 1 > self.MAX_DAYS:
                raise ValidationError(f"Choose at most {self.MAX_DAYS} days.", code="too_long")
            if since > timezone.localdate():
                raise ValidationError("“From” is in the future: there is no usage yet.", code="future")
        return cleaned
