"""The API schema of provider credentials, generated from the catalog: one request variant per provider.

`credentials` depends on `provider`, so the create and test inputs are documented as a oneOf of per-provider
objects discriminated by `provider`, each with exactly that provider's credential fields (required ones required,
patterns and lengths as the provider validates them). Only these schemas use the per-provider classes; the views
validate with the plain input serializers and the provider plug-ins.
"""

from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema_field
from rest_framework import serializers

from ..providers.base import CredentialField, Provider
from ..providers.registry import PROVIDERS

# What clean_token accepts for a field without a format of its own: printable ASCII, no whitespace.
TOKEN_PATTERN = r"^[!-~]+$"


def credential_field_schema(spec: CredentialField) -> dict:
    description = " ".join(t for t in (spec.label + ".", spec.help) if t)
    if spec.kind == "choice":
        return {"type": "string", "enum": list(spec.choices), "description": description}
    if spec.kind == "date":
        return {"type": "string", "format": "date", "description": description +
                " A date (or ISO 8601 date-time) in the future; a past one is refused."}
    pattern = getattr(spec.validate, "pattern", None)
    schema = {"type": "string", "minLength": 1, "maxLength": spec.max_length,
              "pattern": f"^(?:{pattern})$" if pattern else TOKEN_PATTERN, "description": description}
    if spec.secret:
        schema["writeOnly"] = True
    return schema


def credentials_schema(fields: tuple[CredentialField, ...]) -> dict:
    return {
        "type": "object",
        "properties": {spec.name: credential_field_schema(spec) for spec in fields},
        "required": [spec.name for spec in fields if spec.required],
        "additionalProperties": False,
    }


def regional_schema(provider: Provider) -> dict:
    item = credentials_schema(provider.regional_credential_fields)
    item["properties"]["regions"] = {"type": "array", "items": {"type": "string", "enum": list(provider.regions)},
                                     "minItems": 1, "uniqueItems": True}
    item["required"] = ["regions", *item["required"]]
    return {"type": "array", "items": item, "maxItems": len(provider.regions),
            "description": "Extra credential sets, each used instead of the main set for the regions it lists; "
                           "a region may appear in one set only, within the inference profile's regions, and a "
                           "long-term (AKIA) set needs a long-term main key."}


def _per_provider(base: type[serializers.Serializer], provider: Provider, suffix: str) -> type:
    credentials = extend_schema_field(credentials_schema(provider.credential_fields))(
        type(f"{provider.id.title()}CredentialsField", (serializers.DictField,), {}))
    attrs = {
        "provider": serializers.ChoiceField(choices=[provider.id]),
        "credentials": credentials(write_only=True),
    }
    if provider.inference_profiles:
        attrs["inference_profile"] = serializers.ChoiceField(
            choices=list(provider.inference_profiles), required=False,
            help_text=f"Default: {provider.default_inference_profile}.")
    else:
        attrs["inference_profile"] = None  # only Bedrock keys have one
    if "regional_credentials" in base().fields:
        if provider.regional_credential_fields:
            attrs["regional_credentials"] = extend_schema_field(regional_schema(provider))(
                type(f"{provider.id.title()}RegionalField", (serializers.ListField,), {}))(required=False)
        else:
            attrs["regional_credentials"] = None  # this provider has none: not part of its input
    name = f"{_title(provider.id)}{suffix}"
    return type(name, (base,), attrs)


def per_provider_input(base: type[serializers.Serializer], component_name: str) -> PolymorphicProxySerializer:
    """`base` documented as a oneOf over the providers, discriminated by `provider`."""
    return PolymorphicProxySerializer(
        component_name=component_name,
        serializers={provider.id: _per_provider(base, provider, component_name) for provider in PROVIDERS.values()},
        resource_type_field_name="provider",
    )


def _title(provider_id: str) -> str:
    return provider_id.title().replace("_", "")


def enum_name_overrides() -> dict:
    """Names of the enums above (settings.SPECTACULAR_SETTINGS): each provider's one-value `provider` enum, the
    provider list, the inference profiles."""
    from ..providers.registry import PROVIDER_CHOICES

    names = {f"{_title(p.id)}ProviderEnum": [p.id] for p in PROVIDERS.values()}
    names["ProviderEnum"] = PROVIDER_CHOICES
    profiles = {tuple(p.inference_profiles) for p in PROVIDERS.values() if p.inference_profiles}
    for index, choices in enumerate(sorted(profiles)):
        names[f"InferenceProfile{index or ''}Enum"] = list(choices)
    return names
