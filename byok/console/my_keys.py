"""/manage/me/: any signed-in member's own page (members included: they never enter the rest of the console) —
their workspace API keys (create: shown once; list, with each key's calls this month; revoke) and their own calls
this month per workspace.

Every read is the user's own (keys they hold, calls they made, workspaces they belong to); every write is the
accounts services' (`api_key_create`, `api_key_revoke`), which check membership and audit."""

from django import forms
from django.contrib import messages
from django.db.models import Count, Q, Sum
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_variables

from accounts.models import ApiKey, Workspace
from accounts.services import api_key_create, api_key_revoke
from core.errors import DomainError

from ..models import UsageRecord
from .forms import add_domain_errors


class MyApiKeyCreateForm(forms.Form):
    workspace = forms.ModelChoiceField(queryset=Workspace.objects.none(), empty_label=None)
    name = forms.CharField(max_length=100, help_text='What calls it, e.g. "laptop" or "staging service".')

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["workspace"].queryset = Workspace.objects.filter(memberships__user=user).order_by("name")


def _this_month(now=None):
    """The start of the current month, in the console's time zone."""
    return timezone.localtime(now or timezone.now()).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


_TOTALS = {"calls": Count("id"), "byok": Count("id", filter=Q(source=UsageRecord.Source.BYOK)),
           "platform": Count("id", filter=Q(source=UsageRecord.Source.PLATFORM)),
           "tokens": Sum("input_tokens") + Sum("output_tokens"), "cost": Sum("estimated_cost")}


def my_usage(user, *, now=None) -> list[dict]:
    """The user's own calls this month, per workspace: calls (own keys / platform), tokens, estimated cost."""
    return list(UsageRecord.objects.filter(user=user, created_at__gte=_this_month(now))
                .values("workspace__name").annotate(**_TOTALS).order_by("workspace__name"))


def my_usage_by_key(user, *, now=None) -> dict[int, dict]:
    """The same totals per workspace API key the user called with, by key id (keys with no call this month absent)."""
    rows = (UsageRecord.objects.filter(user=user, api_key__isnull=False, created_at__gte=_this_month(now))
            .values("api_key_id").annotate(**_TOTALS).order_by("api_key_id"))
    return {row.pop("api_key_id"): row for row in rows}


@never_cache
@sensitive_variables("raw_key")
def my_keys_view(request: HttpRequest, *, console_site) -> HttpResponse:
    """`console_site` (the site whose URLs route here) renders the page."""
    if not request.user.is_authenticated:
        return HttpResponseRedirect(f"{reverse('console:invitation_sign_in')}?next={request.path}")
    user, raw_key, created = request.user, None, None
    form = MyApiKeyCreateForm(user=user)
    if request.method == "POST" and "revoke" in request.POST:
        key = ApiKey.objects.filter(user=user, workspace__isnull=False, pk=request.POST.get("revoke")).first()
        if key is not None:
            try:
                api_key_revoke(key=key, actor=user)
            except DomainError as exc:
                messages.error(request, exc.message)
            else:
                messages.success(request, f"“{key.name}” ({key.key_hint}) is revoked: calls with it are refused "
                                          f"from now on.")
        return HttpResponseRedirect(request.path)
    if request.method == "POST":
        form = MyApiKeyCreateForm(request.POST, user=user)
        if form.is_valid():
            try:
                created, raw_key = api_key_create(workspace=form.cleaned_data["workspace"], user=user,
                                                  name=form.cleaned_data["name"], actor=user)
            except DomainError as exc:
                add_domain_errors(form, exc)
            else:
                form = MyApiKeyCreateForm(user=user)
    keys = list(ApiKey.objects.filter(user=user, workspace__isnull=False).select_related("workspace")
                .order_by("revoked_at", "-created_at"))
    by_key = my_usage_by_key(user)
    for key in keys:
        key.this_month = by_key.get(key.pk)
    return console_site.render(request, "byok_console/my_keys.html", {
        "title": "Your API keys", "form": form, "keys": keys, "created": created, "raw_key": raw_key,
        "usage": my_usage(user), "now": timezone.now()})
