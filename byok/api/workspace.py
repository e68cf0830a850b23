"""What members of a workspace use: the gateway, the effective BYOK status, its test, and usage."""

import re
from datetime import timedelta

from django.http import Http404
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.selectors import ApiKeyPrincipal, can_manage_workspace, workspaces_visible_to
from core.parsers import JSONParser
from core.serializers import StrictInput

from ..gateway.clients import platform_credentials
from ..gateway import bridge
from ..gateway.resolve import NotAMemberOfWorkspace, Resolution, Source, credentials_resolve
from ..gateway.status import byok_status
from ..models import ProviderKey, UsageRecord
from ..providers.translate import RequestInvalid
from ..providers.base import TIERS
from ..providers.registry import PROVIDER_CHOICES, get_provider
from ..selectors import platform_credits_remaining, usage_summary
from ..services.connection import connection_test, provider_key_test_connection
from .connection import ConnectionCheckOutput, ConnectionTestOutput

MAX_MESSAGES = 200
MAX_CONTENT = 200_000


def calling_api_key_id(request) -> int | None:
    """The workspace API key the request is authenticated with (byok.api.authentication), or None (a session, an API
    token): provider keys scoped to API keys serve only calls made with those keys."""
    principal = getattr(request, "auth", None)
    if isinstance(principal, ApiKeyPrincipal) and not principal.is_token:
        return principal.api_key_id
    return None


def _resolve(request, slug: str, provider: str | None = None) -> Resolution:
    """`provider` from the query string: absent means the owner's; any value, blank included, must be a provider."""
    try:
        return credentials_resolve(user=request.user, workspace_slug=slug,
                                   family=get_provider(provider).family if provider is not None else None,
                                   api_key_id=calling_api_key_id(request))
    except NotAMemberOfWorkspace:
        raise Http404 from None


PROVIDER_PARAMETER = OpenApiParameter("provider", str, enum=[choice for choice, _ in PROVIDER_CHOICES],
                                      description="A provider id (default: the owner's)")


class CompletionUsageOutput(serializers.Serializer):
    input_tokens = serializers.IntegerField()
    output_tokens = serializers.IntegerField()


class CompletionOutput(serializers.Serializer):
    output = serializers.CharField()
    model = serializers.CharField()
    provider = serializers.CharField()
    source = serializers.ChoiceField(choices=UsageRecord.Source.choices)
    fallback_reason = serializers.CharField(allow_null=True)
    key_hint = serializers.CharField(allow_null=True)
    usage = CompletionUsageOutput()
    credits_charged = serializers.IntegerField(help_text="Platform credits debited (always 0 on the owner's key).")
    latency_ms = serializers.IntegerField()


@extend_schema_field({"type": "object", "properties": {"role": {"type": "string", "enum": ["system", "user", "assistant"]},
                                                       "content": {"type": "string", "minLength": 1,
                                                                   "maxLength": MAX_CONTENT}},
                       "required": ["role", "content"], "additionalProperties": False})
class CompletionMessageField(serializers.Field):
    """One chat message. Checked by hand: this runs on every LLM call, and nested serializers cost ~0.2 ms each."""

    ROLES = ("system", "user", "assistant")

    def to_internal_value(self, data):
        if not isinstance(data, dict) or set(data) - {"role", "content"}:
            raise serializers.ValidationError('Each message is {"role": …, "content": "…"}.')
        role, content = data.get("role"), data.get("content")
        if role not in self.ROLES:
            raise serializers.ValidationError({"role": [f"Must be one of {', '.join(self.ROLES)}."]})
        if not isinstance(content, str) or not content:
            raise serializers.ValidationError({"content": ["Must be a non-empty string."]})
        if len(content) > MAX_CONTENT:
            raise serializers.ValidationError({"content": [f"Longer than {MAX_CONTENT} characters."]})
        return {"role": role, "content": content}

    def to_representation(self, value):
        return value


class CompletionApi(APIView):
    # On every LLM call: JSON in (bounded in size and depth, core/parsers.py), JSON out, nothing to negotiate.
    parser_classes = [JSONParser]
    renderer_classes = [JSONRenderer]

    class CompletionInput(StrictInput):
        messages = serializers.ListField(child=CompletionMessageField(), min_length=1, max_length=MAX_MESSAGES)
        task = serializers.ChoiceField(choices=TIERS, default="standard")
        max_tokens = serializers.IntegerField(min_value=1, max_value=32_000, default=1024)
        provider = serializers.ChoiceField(choices=PROVIDER_CHOICES, required=False)

        def validate_messages(self, messages):
            if not any(m["role"] == "user" for m in messages):
                raise serializers.ValidationError("Include at least one user message.")
            return messages

    @extend_schema(request=CompletionInput, responses=CompletionOutput,
                   summary="An LLM call routed through the workspace owner's key (or platform credentials)")
    def post(self, request, slug):
        data = self.CompletionInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            outcome = bridge.complete(user=request.user, workspace_slug=slug, api_key_id=calling_api_key_id(request),
                                      **data.validated_data)
        except NotAMemberOfWorkspace:
            raise Http404 from None
        except RequestInvalid as exc:  # what the provider's family cannot take (the data plane's 400)
            raise serializers.ValidationError({exc.param or "messages": [str(exc)]}) from None
        response = Response(outcome.as_dict())
        response["X-BYOK-Source"] = str(outcome.source)  # a plain str: WSGI servers refuse str subclasses (enums)
        return response


class WorkspaceByokStatusOutput(serializers.Serializer):
    mode = serializers.ChoiceField(choices=UsageRecord.Source.choices)
    reason = serializers.CharField()
    provider = serializers.CharField()
    key_hint = serializers.CharField(allow_null=True)
    key_status = serializers.CharField(allow_null=True)
    owner = serializers.CharField()
    plan = serializers.CharField()
    byok_allowed = serializers.BooleanField()
    inference_profile = serializers.CharField()
    region = serializers.CharField()
    models = serializers.DictField(child=serializers.CharField())
    fallback_mode = serializers.CharField()
    session_expires_at = serializers.DateTimeField(allow_null=True)
    last_test = serializers.DictField(allow_null=True)
    breaker = serializers.DictField()
    cost_tracking = serializers.CharField()
    platform_credits_remaining = serializers.IntegerField()


class WorkspaceByokStatusApi(APIView):
    @extend_schema(responses=WorkspaceByokStatusOutput,
                   parameters=[PROVIDER_PARAMETER],
                   summary="Which credentials this workspace's calls use, and their health")
    def get(self, request, slug):
        resolution = _resolve(request, slug, request.query_params.get("provider"))
        return Response(byok_status(resolution=resolution))


class WorkspaceConnectionTestOutput(serializers.Serializer):
    """What any member learns from a test: enough to know whether calls will work and what to tell the owner."""

    source = serializers.ChoiceField(choices=UsageRecord.Source.choices)
    provider = serializers.CharField()
    model = serializers.CharField(help_text="The model the verdict is about (the failing one, else the standard).")
    ok = serializers.BooleanField()
    category = serializers.CharField(allow_null=True, help_text=ConnectionTestOutput().fields["category"].help_text)
    hint = serializers.CharField()
    key_hint = serializers.CharField(allow_null=True)
    tested_at = serializers.DateTimeField()

    # The owner testing their own key gets the full result, as on the key itself; nobody else ever does.
    valid = serializers.BooleanField(required=False, help_text="The key's owner only.")
    error = serializers.CharField(allow_null=True, required=False, help_text="The key's owner only.")
    account = serializers.CharField(allow_null=True, required=False, help_text="The key's owner only.")
    models = serializers.ListField(child=serializers.CharField(), allow_null=True, required=False,
                                   help_text="The key's owner only.")
    checks = ConnectionCheckOutput(many=True, required=False, help_text="The key's owner only.")
    duration_ms = serializers.IntegerField(required=False, help_text="The key's owner only.")


# Never in a member's reply, even if a provider's hint ever quoted them: ARNs and 12-digit AWS account ids.
_ACCOUNT_DETAILS = re.compile(r"arn:aws[\w-]*:[^\s\"',;)]+|(?<!\d)\d{12}(?!\d)")


def _member_view(result, resolution: Resolution) -> dict:
    failing_model = next((c.target for c in result.checks if not c.ok and c.name.startswith("model")), None)
    return {
        "source": resolution.source,
        "provider": result.provider,
        "model": failing_model or resolution.model_for("standard"),
        "ok": result.ok,
        "category": result.category,
        "hint": _ACCOUNT_DETAILS.sub("…", result.hint),
        "key_hint": resolution.key_hint or None,
        "tested_at": result.tested_at.isoformat(),
    }


class WorkspaceByokTestConnectionApi(APIView):
    @extend_schema(request=None, responses=WorkspaceConnectionTestOutput,
                   parameters=[PROVIDER_PARAMETER],
                   summary="Test the credentials this workspace effectively uses (any member)",
                   description="Members (and everyone testing platform credentials) get the verdict only: source, "
                               "provider, model, ok, category, hint and key hint, never the provider account, ARNs "
                               "or model lists. The owner testing their own key gets the full result.")
    def post(self, request, slug):
        resolution = _resolve(request, slug, request.query_params.get("provider"))
        if resolution.source == Source.BYOK:
            result = provider_key_test_connection(key=ProviderKey.objects.get(pk=resolution.key_id), actor=request.user)
        else:
            result = connection_test(provider=resolution.provider, credentials=platform_credentials(resolution),
                                     inference_profile=resolution.inference_profile, actor=request.user,
                                     owner_id=resolution.owner_id)
        reply = _member_view(result, resolution)
        if resolution.source == Source.BYOK and request.user.pk == resolution.owner_id:
            reply = {**reply, **result.as_dict()}  # the owner's own key: nothing to hide from them
        return Response(reply)


def _usd(help_text: str, **kwargs) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=20, decimal_places=6, help_text=help_text, **kwargs)


_CACHE_SAVED = ("What prompt caching saved (USD): these calls' cost had every cache write and read been billed as "
                "plain input, minus their cost, both at the catalog's prices now; negative when cache writes cost "
                "more than the reads after them saved; null when no model of these calls has a cache price in the "
                "catalog (no saving claimed).")


class UsageCountsOutput(serializers.Serializer):
    calls = serializers.IntegerField()
    input_tokens = serializers.IntegerField(help_text="Input at the full rate (no cache write or read).")
    output_tokens = serializers.IntegerField(help_text="Output, reasoning included.")
    cache_write_5m_tokens = serializers.IntegerField()
    cache_write_1h_tokens = serializers.IntegerField()
    cache_read_tokens = serializers.IntegerField()
    credits_charged = serializers.IntegerField()
    platform_credits_saved = serializers.IntegerField(
        help_text="Platform credits the calls on the owner's keys would have used on platform credentials (1 credit "
                  "= 1,000 tokens of any kind, rounded up per call).")


class UsageTotalsOutput(UsageCountsOutput):
    estimated_cost = _usd("USD at the catalog's prices at call time.")
    cache_saved = _usd(_CACHE_SAVED, allow_null=True)


class UsageCostOutput(serializers.Serializer):
    currency = serializers.CharField()
    byok = _usd("Estimated cost of calls on the owner's own keys (billed by their provider account).")
    platform = _usd("Estimated cost of calls on platform credentials.")
    byok_cache_saved = _usd(f"On the owner's own keys. {_CACHE_SAVED}", allow_null=True)
    platform_cache_saved = _usd(f"On platform credentials. {_CACHE_SAVED}", allow_null=True)
    platform_credits_saved = serializers.IntegerField(
        help_text="What the owner's own keys saved: the platform credits their calls would have used (1 credit = "
                  "1,000 tokens of any kind, rounded up per call).")
    platform_credits_saved_value = _usd("Those calls' worth in money at catalog prices.")


class UsageRowOutput(UsageTotalsOutput):
    source = serializers.ChoiceField(choices=UsageRecord.Source.choices)
    provider = serializers.CharField()
    model = serializers.CharField()


class UsageSpendOutput(UsageCountsOutput):
    byok_cost = _usd("USD at the catalog's prices at call time, on the owner's keys (billed by their provider "
                     "account).")
    platform_cost = _usd("USD at the catalog's prices at call time, on platform credentials.")
    byok_cache_saved = _usd(f"On the owner's keys. {_CACHE_SAVED}", allow_null=True)
    platform_cache_saved = _usd(f"On platform credentials. {_CACHE_SAVED}", allow_null=True)


class UsageMemberOutput(UsageSpendOutput):
    member = serializers.CharField(source="user__username", allow_null=True,
                                   help_text="The member's username; null for a deleted account.")


class UsageApiKeyOutput(UsageSpendOutput):
    api_key_id = serializers.IntegerField(
        allow_null=True, help_text="The workspace API key that made the calls; null for calls made without one (an "
                                   "API token, a signed-in session, the platform's own code) or with a key deleted "
                                   "since.")
    name = serializers.CharField(source="api_key__name", allow_null=True)
    key_hint = serializers.CharField(source="api_key__key_hint", allow_null=True)
    member = serializers.CharField(source="api_key__user__username", allow_null=True,
                                   help_text="The member the key belongs to.")
    revoked_at = serializers.DateTimeField(source="api_key__revoked_at", allow_null=True,
                                           help_text="A revoked key keeps its name and its calls.")


class UsageSummaryOutput(serializers.Serializer):
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    by_source = serializers.DictField(child=UsageTotalsOutput(), help_text="Totals per source: byok, platform.")
    rows = UsageRowOutput(many=True)
    by_member = UsageMemberOutput(many=True, help_text="Most calls first.")
    by_api_key = UsageApiKeyOutput(many=True, help_text="Per workspace API key, most calls first.")
    cost = UsageCostOutput()
    platform_credits_remaining = serializers.IntegerField()


class WorkspaceUsageApi(APIView):
    class UsageFilterInput(serializers.Serializer):
        since = serializers.DateTimeField(required=False)
        until = serializers.DateTimeField(required=False)

    @extend_schema(parameters=[UsageFilterInput], responses=UsageSummaryOutput,
                   summary="Usage totals, cost and what caching saved by source, provider and model, by member "
                           "and by workspace API key (owner and admins)")
    def get(self, request, slug):
        workspace = workspaces_visible_to(request.user).filter(slug=slug).first()
        if workspace is None:
            raise Http404
        if not can_manage_workspace(workspace=workspace, user=request.user):
            raise PermissionDenied("Only the workspace owner and admins can see usage.")
        filters = self.UsageFilterInput(data=request.query_params)
        filters.is_valid(raise_exception=True)
        until = filters.validated_data.get("until") or timezone.now()
        since = filters.validated_data.get("since") or until - timedelta(days=30)
        summary = usage_summary(workspaces=[workspace], since=since, until=until)
        summary["platform_credits_remaining"] = platform_credits_remaining(
            owner_id=workspace.owner_id, allowance=workspace.owner.plan.monthly_platform_credits)
        return Response(UsageSummaryOutput(summary).data)
