"""Owner API for provider keys. Thin: serializers check shapes, services do the work, secrets are write-only."""

from django.shortcuts import get_object_or_404
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_variables
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import ApiKey
from core.schema import ErrorOutput
from core.serializers import StrictInput

from ..catalog.selectors import catalog_by_family, tier_models
from ..models import ProviderKey
from ..providers.registry import PROVIDER_CHOICES, PROVIDERS
from ..selectors import provider_keys_visible_to, workspaces_owned_by
from ..services.keys import (
    WEIGHT_MAX,
    byok_revert_to_platform,
    provider_key_create,
    provider_key_delete,
    provider_key_disable,
    provider_key_enable,
    provider_key_rotate,
    provider_key_update,
)
from .schema import per_provider_input


class CredentialsField(serializers.DictField):
    """Credential values by field name; write-only, validated by the provider plug-in."""

    def __init__(self, **kwargs):
        child = serializers.CharField(allow_blank=True, trim_whitespace=False, max_length=8192)
        super().__init__(child=child, write_only=True, **kwargs)


class RegionalCredentialsField(serializers.ListField):
    def __init__(self, **kwargs):
        super().__init__(child=serializers.DictField(), write_only=True, max_length=32, **kwargs)


@extend_schema_field({"type": "string", "pattern": r"^[-a-zA-Z0-9_]+$", "description": "A slug of one of your workspaces."})
class OwnedWorkspacesField(serializers.SlugRelatedField):
    """Workspace slugs, resolved among the caller's own workspaces only (others look unknown)."""

    def __init__(self, **kwargs):
        super().__init__(slug_field="slug", many=False, **kwargs)

    def get_queryset(self):
        return workspaces_owned_by(self.context["request"].user)


@extend_schema_field({"type": "integer", "description": "The id of a workspace API key of one of your workspaces."})
class OwnedApiKeysField(serializers.PrimaryKeyRelatedField):
    """Workspace API key ids, resolved among the API keys of the caller's own workspaces only (others look unknown)."""

    def get_queryset(self):
        return ApiKey.objects.filter(workspace__owner=self.context["request"].user).select_related("workspace")


class ProviderKeyOutput(serializers.ModelSerializer):
    workspaces = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)
    api_keys = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    status = serializers.SerializerMethodField()
    last_test = serializers.SerializerMethodField()
    region_hints = serializers.DictField(
        child=serializers.CharField(), read_only=True,
        help_text="For each region with its own credential set, that set's hint (what calls it serves report).")

    class Meta:
        model = ProviderKey
        fields = [
            "id", "provider", "name", "key_hint", "credential_type", "inference_profile", "regions", "region_hints",
            "enabled", "fallback_mode", "scope", "priority", "weight", "workspaces", "api_keys", "status", "expires_at", "session_token_expires_at",
            "failure_reason", "created_at", "updated_at", "rotated_at", "last_used_at", "last_test",
        ]

    def get_status(self, key) -> str:
        return key.status

    def get_last_test(self, key) -> dict | None:
        if not key.last_tested_at:
            return None
        return {"status": key.last_test_status, "tested_at": key.last_tested_at, "summary": key.last_test_summary}


CONFLICT = OpenApiResponse(ErrorOutput, description="Clashes with another of your keys (`key_conflict`): the name. "
                                                   "Keys of one family and scope do not clash: they form a pool.")


def _key_or_404(request, pk) -> ProviderKey:
    return get_object_or_404(provider_keys_visible_to(request.user), pk=pk)


class ProviderKeyListApi(APIView):
    class ProviderKeyCreateInput(StrictInput):
        provider = serializers.ChoiceField(choices=PROVIDER_CHOICES)
        name = serializers.CharField(max_length=100)
        credentials = CredentialsField()
        inference_profile = serializers.CharField(required=False, allow_blank=True, default="", max_length=16)
        regional_credentials = RegionalCredentialsField(required=False)
        fallback_mode = serializers.ChoiceField(choices=ProviderKey.FallbackMode.choices, required=False)
        scope = serializers.ChoiceField(choices=ProviderKey.Scope.choices, required=False)
        priority = serializers.IntegerField(
            required=False, min_value=0, max_value=32767,
            help_text="Order among your keys of the family and scope: lower serves first; a failing key hands the "
                      "call to the next before any platform fallback. A Claude tier or alias called without a "
                      "family (`standard`, `claude-sonnet`) follows it across your Anthropic, Bedrock and Vertex "
                      "keys. Default on create: after your others.")
        weight = serializers.IntegerField(
            required=False, min_value=1, max_value=WEIGHT_MAX,
            help_text="Share of calls among keys of equal priority (3 and 1: three calls in four go to the first).")
        workspaces = serializers.ListField(child=OwnedWorkspacesField(), required=False, max_length=500)
        api_keys = serializers.ListField(
            child=OwnedApiKeysField(), required=False, max_length=500,
            help_text="For scope api_keys: ids of workspace API keys of your workspaces whose calls this key serves.")
        skip_test = serializers.BooleanField(default=False)

    @extend_schema(responses=ProviderKeyOutput(many=True), summary="Your provider keys")
    def get(self, request):
        keys = provider_keys_visible_to(request.user)
        return Response(ProviderKeyOutput(keys, many=True).data)

    @method_decorator(sensitive_variables("data"))
    @extend_schema(request={"application/json": per_provider_input(ProviderKeyCreateInput, "ProviderKeyCreateInput")},  # nested: JSON only
                   responses={201: ProviderKeyOutput, 409: CONFLICT},
                   summary="Add a provider key (tested before it is saved unless skip_test)")
    def post(self, request):
        data = self.ProviderKeyCreateInput(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        key = provider_key_create(owner=request.user, actor=request.user, **data.validated_data)
        return Response(ProviderKeyOutput(key).data, status=status.HTTP_201_CREATED)


class ProviderKeyDetailApi(APIView):
    class ProviderKeyUpdateInput(StrictInput):
        name = serializers.CharField(max_length=100, required=False)
        credentials = CredentialsField(required=False)
        inference_profile = serializers.CharField(required=False, allow_blank=True, max_length=16)
        regional_credentials = RegionalCredentialsField(required=False)
        fallback_mode = serializers.ChoiceField(choices=ProviderKey.FallbackMode.choices, required=False)
        scope = serializers.ChoiceField(choices=ProviderKey.Scope.choices, required=False)
        priority = serializers.IntegerField(
            required=False, min_value=0, max_value=32767,
            help_text="Order among your keys of the family and scope: lower serves first; a failing key hands the "
                      "call to the next before any platform fallback. A Claude tier or alias called without a "
                      "family (`standard`, `claude-sonnet`) follows it across your Anthropic, Bedrock and Vertex "
                      "keys. Default on create: after your others.")
        weight = serializers.IntegerField(
            required=False, min_value=1, max_value=WEIGHT_MAX,
            help_text="Share of calls among keys of equal priority (3 and 1: three calls in four go to the first).")
        workspaces = serializers.ListField(child=OwnedWorkspacesField(), required=False, max_length=500)
        api_keys = serializers.ListField(
            child=OwnedApiKeysField(), required=False, max_length=500,
            help_text="For scope api_keys: ids of workspace API keys of your workspaces whose calls this key serves.")
        skip_test = serializers.BooleanField(default=False)

    @extend_schema(responses=ProviderKeyOutput, summary="One of your provider keys")
    def get(self, request, pk):
        return Response(ProviderKeyOutput(_key_or_404(request, pk)).data)

    @method_decorator(sensitive_variables("data"))
    @extend_schema(request={"application/json": ProviderKeyUpdateInput},  # nested: JSON only
                   responses={200: ProviderKeyOutput, 409: CONFLICT},
                   summary="Change a key's settings; blank credential fields keep the stored secret")
    def patch(self, request, pk):
        key = _key_or_404(request, pk)
        data = self.ProviderKeyUpdateInput(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        key = provider_key_update(key=key, actor=request.user, **data.validated_data)
        return Response(ProviderKeyOutput(key).data)

    @extend_schema(responses={204: None}, summary="Delete a key (its secret is destroyed)")
    def delete(self, request, pk):
        provider_key_delete(key=_key_or_404(request, pk), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProviderKeyRotateApi(APIView):
    class ProviderKeyRotateInput(StrictInput):
        credentials = CredentialsField()
        regional_credentials = RegionalCredentialsField(required=False)
        remove_regional_sets = serializers.ListField(child=serializers.CharField(max_length=32), required=False,
                                                     max_length=32)
        skip_test = serializers.BooleanField(default=False)

    @method_decorator(sensitive_variables("data"))
    @extend_schema(request={"application/json": ProviderKeyRotateInput}, responses=ProviderKeyOutput,  # nested: JSON only
                   summary="Replace the secret (tested first); the old secret is destroyed; regional sets stay "
                           "unless a region of theirs is in remove_regional_sets")
    def post(self, request, pk):
        key = _key_or_404(request, pk)
        data = self.ProviderKeyRotateInput(data=request.data)
        data.is_valid(raise_exception=True)
        key = provider_key_rotate(key=key, actor=request.user, **data.validated_data)
        return Response(ProviderKeyOutput(key).data)


class ProviderKeyEnableApi(APIView):
    @extend_schema(request=None, responses=ProviderKeyOutput, summary="Use this key again")
    def post(self, request, pk):
        key = provider_key_enable(key=_key_or_404(request, pk), actor=request.user)
        return Response(ProviderKeyOutput(key).data)


class ProviderKeyDisableApi(APIView):
    @extend_schema(request=None, responses=ProviderKeyOutput, summary="Stop using this key (the secret is kept)")
    def post(self, request, pk):
        key = provider_key_disable(key=_key_or_404(request, pk), actor=request.user)
        return Response(ProviderKeyOutput(key).data)


@extend_schema_field({"type": "boolean", "enum": [True],
                      "description": "Must be true: reverting deletes every stored credential."})
class ConfirmField(serializers.BooleanField):
    """Required and true: false or missing is refused with the one message the service would give."""

    MESSAGE = "Set to true to confirm: this deletes your stored credentials."

    def __init__(self, **kwargs):
        super().__init__(error_messages={"required": self.MESSAGE}, **kwargs)

    def to_internal_value(self, data):
        if super().to_internal_value(data) is not True:
            raise serializers.ValidationError(self.MESSAGE)
        return True


class ByokRevertApi(APIView):
    class ByokRevertInput(StrictInput):
        confirm = ConfirmField()

    class ByokRevertOutput(serializers.Serializer):
        deleted_keys = serializers.IntegerField()

    @extend_schema(request=ByokRevertInput, responses=ByokRevertOutput,
                   summary="Revert to platform keys: deletes all your stored credentials")
    def post(self, request):
        data = self.ByokRevertInput(data=request.data)
        data.is_valid(raise_exception=True)
        deleted = byok_revert_to_platform(owner=request.user, actor=request.user, confirm=data.validated_data["confirm"])
        return Response({"deleted_keys": deleted})


class ProviderCatalogApi(APIView):
    class ProviderOutput(serializers.Serializer):
        id = serializers.CharField()
        name = serializers.CharField()
        family = serializers.CharField()
        docs_url = serializers.CharField()
        credential_fields = serializers.ListField(child=serializers.DictField())
        models = serializers.DictField(child=serializers.CharField(),
                                       help_text="Tier -> the base model id serving it now (the catalog's).")
        catalog = serializers.ListField(child=serializers.DictField(),
                                        help_text="The catalog's models of the provider's family, with prices and "
                                                  "lifecycle.")

    @extend_schema(responses=ProviderOutput(many=True),
                   summary="Providers, their credential fields (for forms) and their catalog models")
    def get(self, request):
        catalog = catalog_by_family()
        return Response([{**provider.describe(), "models": tier_models(provider),
                          "catalog": catalog.get(provider.family, [])} for provider in PROVIDERS.values()])
