"""The OpenAPI schema documents the error responses every operation can give, in the API's one error shape."""

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import force_instance
from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny

from .serializers import StrictInputMixin


class ErrorDetailOutput(serializers.Serializer):
    code = serializers.CharField(help_text="Stable and machine-readable: see the error table in docs/api.md.")
    message = serializers.CharField(help_text="For a person; never contains a secret.")
    fields = serializers.DictField(child=serializers.ListField(child=serializers.CharField()),
                                   help_text='Reasons by field, e.g. {"credentials.api_key": ["…"]}.')


@extend_schema_serializer(component_name="Error")
class ErrorOutput(serializers.Serializer):
    error = ErrorDetailOutput()


BODY_METHODS = {"POST", "PUT", "PATCH"}
NO_NULL_CHARACTERS = r"^[^\x00]*$"
NOT_BLANK_NO_NULL_CHARACTERS = r"^[^\x00]*[^\s\x00][^\x00]*$"


class AutoSchema(SpectacularAutoSchema):
    def _error_responses(self) -> dict[str, str]:
        codes = {"400": "Invalid input or a malformed request (`invalid`, `malformed_request`, …)."}
        if not all(isinstance(permission, AllowAny) for permission in self.view.get_permissions()):
            codes["401"] = "No or bad credentials (`not_authenticated`, `authentication_failed`)."
            codes["403"] = "Not allowed (`permission_denied`, `plan_required`, …)."
        if "{" in self.path or (self.method == "GET" and self._is_list_view() and self._get_paginator()):
            codes["404"] = "Absent, or not visible to the caller (`not_found`)."
        if self.method in BODY_METHODS:
            codes["413"] = "The body is too large (`request_too_large`)."
            codes["415"] = "The body is not JSON, form or multipart (`unsupported_media_type`)."
            codes["429"] = "Too many requests (`throttled`, `provider_rate_limited`); see Retry-After."
        codes["503"] = "Temporarily unavailable (`service_unavailable`, `platform_credentials_missing`)."
        return codes

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if (direction == "request" and isinstance(field, serializers.CharField) and schema.get("type") == "string"
                and not {"pattern", "format", "enum"} & set(schema)):
            # DRF's CharField refuses NUL (ProhibitNullCharactersValidator) and, trimming, a blank-only value.
            blank_ok = field.allow_blank or not field.trim_whitespace
            schema["pattern"] = NO_NULL_CHARACTERS if blank_ok else NOT_BLANK_NO_NULL_CHARACTERS
        return schema

    def _get_request_for_media_type(self, serializer, direction="request"):
        schema, required = super()._get_request_for_media_type(serializer, direction)
        if isinstance(force_instance(serializer), PolymorphicProxySerializer) and self.method != "PATCH":
            required = schema is not None  # every variant requires its discriminator: a missing body is refused
        return schema, required

    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        if direction == "request" and isinstance(serializer, StrictInputMixin):
            schema["additionalProperties"] = False  # unknown fields are refused (core/serializers.py)
        return schema

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code, description in self._error_responses().items():
            if code not in responses:
                responses[code] = {**self._get_response_for_code(ErrorOutput, code, direction=direction),
                                   "description": description}
        return responses
