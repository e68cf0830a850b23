"""Connection tests from the API: unsaved credentials, a stored key, or what a workspace effectively uses."""

from django.shortcuts import get_object_or_404
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_variables
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core.serializers import StrictInput

from ..providers.registry import PROVIDER_CHOICES, PROVIDERS, get_provider
from ..selectors import provider_keys_visible_to
from ..services.connection import connection_test, provider_key_test_connection
from ..services.keys import require_byok_plan
from .keys import CredentialsField, RegionalCredentialsField
from .schema import per_provider_input


class ConnectionCheckOutput(serializers.Serializer):
    name = serializers.CharField()
    ok = serializers.BooleanField()
    target = serializers.CharField()
    region = serializers.CharField()
    category = serializers.CharField(allow_null=True)
    hint = serializers.CharField()
    code = serializers.CharField()


class ConnectionTestOutput(serializers.Serializer):
    ok = serializers.BooleanField()
    valid = serializers.BooleanField()
    provider = serializers.CharField()
    category = serializers.CharField(allow_null=True, help_text="invalid_credentials, expired, permission_denied, "
                                     "model_access, rate_limited, provider_unavailable, timeout or network")
    error = serializers.CharField(allow_null=True)
    hint = serializers.CharField()
    account = serializers.CharField(allow_null=True)
    models = serializers.ListField(child=serializers.CharField(), allow_null=True)
    checks = ConnectionCheckOutput(many=True)
    duration_ms = serializers.IntegerField()
    tested_at = serializers.DateTimeField()


class ConnectionTestApi(APIView):
    class ConnectionTestInput(StrictInput):
        provider = serializers.ChoiceField(choices=PROVIDER_CHOICES)
        credentials = CredentialsField()
        inference_profile = serializers.CharField(required=False, allow_blank=True, default="", max_length=16)
        regional_credentials = RegionalCredentialsField(required=False)

    @method_decorator(sensitive_variables("data", "cleaned"))
    @extend_schema(request={"application/json": per_provider_input(ConnectionTestInput, "ConnectionTestInput")},  # nested: JSON only
                   responses=ConnectionTestOutput,
                   summary="Test unsaved credentials (typed fields only); nothing is stored")
    def post(self, request):
        data = self.ConnectionTestInput(data=request.data)
        data.is_valid(raise_exception=True)
        require_byok_plan(request.user)
        spec = get_provider(data.validated_data["provider"])
        profile = spec.profile_for(data.validated_data["inference_profile"])
        cleaned = spec.clean(data.validated_data["credentials"], inference_profile=profile,
                             regional_credentials=data.validated_data.get("regional_credentials"))
        result = connection_test(provider=spec.id, credentials=cleaned.credentials, inference_profile=profile,
                                 actor=request.user, owner_id=request.user.pk)
        return Response(result.as_dict())


class ProviderKeyParseApi(APIView):
    class ParseInput(StrictInput):
        provider = serializers.ChoiceField(default="bedrock", help_text="A provider that accepts pasted credentials",
                                           choices=[(p.id, p.name) for p in PROVIDERS.values()
                                                    if any(f.name == "pasted" for f in p.credential_fields)])
        text = serializers.CharField(trim_whitespace=False, max_length=8192, write_only=True,
                                     help_text="The pasted credentials: JSON, a credentials file section or export lines")

    class ParseOutput(serializers.Serializer):
        provider = serializers.CharField()
        format = serializers.CharField(help_text="json, sts_json, credentials_file or env")
        access_key_id = serializers.CharField(help_text="The key id's hint, never the whole id")
        credential_type = serializers.CharField()
        has_secret_access_key = serializers.BooleanField()
        has_session_token = serializers.BooleanField()
        region = serializers.CharField()
        expires_at = serializers.CharField()
        problems = serializers.DictField(help_text="What would be refused on saving, by field")

    @method_decorator(sensitive_variables("data", "preview"))
    @extend_schema(request=ParseInput, responses=ParseOutput,
                   summary="Preview pasted credentials, masked; nothing is stored or tested")
    def post(self, request):
        data = self.ParseInput(data=request.data)
        data.is_valid(raise_exception=True)
        require_byok_plan(request.user)
        spec = get_provider(data.validated_data["provider"])
        preview = spec.paste_preview(data.validated_data["text"])
        return Response({"provider": spec.id, **preview})


class ProviderKeyTestConnectionApi(APIView):
    @extend_schema(request=None, responses=ConnectionTestOutput, summary="Test a stored key; the result is kept on it")
    def post(self, request, pk):
        key = get_object_or_404(provider_keys_visible_to(request.user), pk=pk)
        return Response(provider_key_test_connection(key=key, actor=request.user).as_dict())
