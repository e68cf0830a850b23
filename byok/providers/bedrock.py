"""AWS Bedrock: IAM credentials (long-term AKIA or temporary ASIA) and Bedrock API keys (bearer tokens)."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .base import (
    CleanedKey,
    CredentialField,
    Credentials,
    CredentialsInvalid,
    Provider,
    _expiry,
    hint,
    parse_expiry,
    pattern_validator,
)

SONNET_4_5 = "anthropic.claude-sonnet-4-5-20250929-v1:0"
OPUS_4_5 = "anthropic.claude-opus-4-5-20251101-v1:0"
BEDROCK_MODELS = {"standard": SONNET_4_5, "complex": OPUS_4_5}

US_REGIONS = ("us-east-1", "us-east-2", "us-west-1", "us-west-2")
EU_REGIONS = ("eu-central-1", "eu-central-2", "eu-west-1", "eu-west-2", "eu-west-3", "eu-north-1", "eu-south-1", "eu-south-2")
APAC_REGIONS = (
    "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1", "ap-south-2",
    "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4",
)
COMMERCIAL_REGIONS = US_REGIONS + ("ca-central-1", "sa-east-1") + EU_REGIONS + APAC_REGIONS


@dataclass(frozen=True)
class InferenceProfile:
    id: str
    name: str
    purpose: str
    source_regions: tuple[str, ...]
    default_region: str

    def model_id(self, base_model: str) -> str:
        return f"{self.id}.{base_model}"

    def describe(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "purpose": self.purpose,
            "source_regions": list(self.source_regions),
            "default_region": self.default_region,
        }


INFERENCE_PROFILES = {
    p.id: p
    for p in (
        InferenceProfile("global", "Global", "Routes to any commercial AWS region for maximum throughput.",
                         COMMERCIAL_REGIONS, "us-east-1"),
        InferenceProfile("us", "US", "Data stays in the United States.", US_REGIONS, "us-east-1"),
        InferenceProfile("eu", "EU", "Data stays in the European Union.", EU_REGIONS, "eu-central-1"),
        InferenceProfile("apac", "APAC", "Data stays in Asia Pacific.", APAC_REGIONS, "ap-northeast-1"),
    )
}
DEFAULT_PROFILE = "global"

_secret_access_key = pattern_validator(
    label="Secret Access Key", regex=r"[A-Za-z0-9/+=]{40}", expectation="exactly 40 characters (letters, digits, / + =)."
)
_session_token = pattern_validator(
    label="Session Token", regex=r"[A-Za-z0-9/+=_-]{16,2048}", expectation="the token AWS returned with the ASIA key."
)


def _access_key_id(value: str) -> str:
    value = pattern_validator(
        label="Access Key ID",
        regex=r"(AKIA|ASIA)[A-Z0-9]{16}",
        prefixes=("AKIA", "ASIA"),
        expectation="AKIA (long-term) or ASIA (temporary) followed by 16 upper-case letters or digits.",
    )(value)
    return value


def _check_iam_set(values: Mapping[str, Any], errors: dict, prefix: str = "credentials.") -> None:
    """The rules that tie the fields of one IAM credential set together."""
    key_id = values.get("access_key_id", "")
    if key_id.startswith("ASIA") and not values.get("session_token"):
        errors.setdefault(f"{prefix}session_token", []).append(
            "Temporary ASIA credentials need their Session Token."
        )
    if key_id.startswith("AKIA") and values.get("session_token"):
        errors.setdefault(f"{prefix}session_token", []).append(
            "Long-term AKIA keys have no Session Token; leave it empty (byok obtains session tokens itself)."
        )
    if key_id.startswith("AKIA") and values.get("expires_at"):
        errors.setdefault(f"{prefix}expires_at", []).append("Long-term AKIA keys do not expire; leave it empty.")


IAM_FIELDS = (
    CredentialField("access_key_id", "Access Key ID", secret=False, validate=_access_key_id,
                    help="AKIA… for a long-term IAM user key, ASIA… for temporary credentials."),
    CredentialField("secret_access_key", "Secret Access Key", secret=True, validate=_secret_access_key),
    CredentialField("session_token", "Session Token", secret=True, required=False, validate=_session_token,
                    help="Only for temporary (ASIA…) credentials."),
)


class BedrockProvider(Provider):
    id = "bedrock"
    name = "AWS Bedrock (IAM credentials)"
    family = "bedrock"
    models = BEDROCK_MODELS
    docs_url = "https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-support.html"
    credential_fields = IAM_FIELDS + (
        CredentialField("expires_at", "Expires at", secret=False, required=False, validate=parse_expiry, kind="date",
                        help="When temporary credentials expire (ISO 8601)."),
    )

    def hint(self, credentials: Mapping[str, Any]) -> str:
        return hint(credentials["access_key_id"])

    def clean(self, raw, *, keep: Credentials | None = None, inference_profile: str = DEFAULT_PROFILE,
              regional_credentials: list | None = None, **options) -> CleanedKey:
        keep_values = keep
        if keep is not None and raw.get("access_key_id") and raw.get("access_key_id", "").strip() != keep.get("access_key_id"):
            # A different key id means a different key: never pair it with the old secret.
            keep_values = {}
        cleaned, errors = self.field_errors(raw, keep=keep_values)
        _check_iam_set(cleaned, errors)
        profile = INFERENCE_PROFILES.get(inference_profile)
        if profile is None:
            errors["inference_profile"] = [f"Unknown inference profile; choose one of: {', '.join(INFERENCE_PROFILES)}."]
        if regional_credentials is None and keep is not None:
            regional = list(keep.get("regional", []))
        else:
            regional = self._clean_regional(regional_credentials or [], profile, errors)
        if errors:
            raise CredentialsInvalid("Some credential fields are invalid.", fields=errors)
        if regional:
            cleaned["regional"] = regional
        credentials = Credentials(self.id, cleaned)
        return CleanedKey(
            credentials=credentials,
            key_hint=self.hint(credentials),
            credential_type="temporary" if cleaned["access_key_id"].startswith("ASIA") else "long_term",
            expires_at=_expiry(cleaned.get("expires_at")),
            regions=sorted({region for entry in regional for region in entry["regions"]}),
        )

    def _clean_regional(self, entries: list, profile: InferenceProfile | None, errors: dict) -> list[dict]:
        if not isinstance(entries, list):
            errors["regional_credentials"] = ["Must be a list of credential sets."]
            return []
        if len(entries) > len(COMMERCIAL_REGIONS):
            errors["regional_credentials"] = [f"At most {len(COMMERCIAL_REGIONS)} regional credential sets."]
            return []
        cleaned_sets, seen = [], set()
        for index, entry in enumerate(entries):
            prefix = f"regional_credentials.{index}."
            if not isinstance(entry, dict):
                errors[prefix.rstrip(".")] = ["Must be an object with regions and credentials."]
                continue
            regions = entry.get("regions")
            values, set_errors = IAM_SET.field_errors({k: v for k, v in entry.items() if k != "regions"}, prefix=prefix)
            errors.update(set_errors)
            _check_iam_set(values, errors, prefix)
            if not isinstance(regions, list) or not regions or not all(isinstance(r, str) for r in regions):
                errors[prefix + "regions"] = ["List one or more AWS regions, e.g. [\"eu-west-1\"]."]
                continue
            for region in regions:
                if region not in COMMERCIAL_REGIONS:
                    errors.setdefault(prefix + "regions", []).append(f"Unknown AWS region {region!r}.")
                elif profile and region not in profile.source_regions:
                    errors.setdefault(prefix + "regions", []).append(
                        f"{region} is outside the {profile.name} inference profile's regions."
                    )
                elif region in seen:
                    errors.setdefault(prefix + "regions", []).append(f"{region} already has a credential set.")
                seen.add(region)
            cleaned_sets.append({"regions": regions, **values})
        return cleaned_sets

    def describe(self) -> dict:
        return {
            **super().describe(),
            "inference_profiles": [p.describe() for p in INFERENCE_PROFILES.values()],
            "default_inference_profile": DEFAULT_PROFILE,
            "regions": list(COMMERCIAL_REGIONS),
            "supports_regional_credentials": True,
        }


class _IamSet(Provider):
    """The fields of one extra regional IAM credential set (validated like the main set)."""

    id = "bedrock"
    credential_fields = IAM_FIELDS


IAM_SET = _IamSet()


_bedrock_api_key = pattern_validator(
    label="Bedrock API key",
    regex=r"(ABSK|bedrock-api-key-)[A-Za-z0-9+/=_.%-]{16,4000}",
    prefixes=("ABSK", "bedrock-api-key-"),
    expectation="a long-term key starts with ABSK, a short-term one with bedrock-api-key-.",
)


def _region(value: str) -> str:
    if value not in COMMERCIAL_REGIONS:
        raise ValueError(f"Unknown AWS region {value!r}; use one where Bedrock runs, e.g. us-east-1.")
    return value


class BedrockApiKeyProvider(Provider):
    id = "bedrock_api_key"
    name = "AWS Bedrock (API key)"
    family = "bedrock"
    models = BEDROCK_MODELS
    docs_url = "https://docs.aws.amazon.com/bedrock/latest/userguide/api-keys.html"
    credential_fields = (
        CredentialField("api_key", "Bedrock API key", secret=True, validate=_bedrock_api_key),
        CredentialField("region", "Region", secret=False, validate=_region, kind="choice", choices=COMMERCIAL_REGIONS),
        CredentialField("expires_at", "Expires at", secret=False, required=False, validate=parse_expiry, kind="date",
                        help="API keys are issued for a fixed number of days (e.g. 180); enter the expiry date."),
    )

    def hint(self, credentials: Mapping[str, Any]) -> str:
        return hint(credentials["api_key"])

    def clean(self, raw, *, keep: Credentials | None = None, inference_profile: str = DEFAULT_PROFILE, **options):
        cleaned = super().clean(raw, keep=keep)
        profile = INFERENCE_PROFILES.get(inference_profile)
        region = cleaned.credentials["region"]
        if profile is None:
            raise CredentialsInvalid("Unknown inference profile.", fields={
                "inference_profile": [f"Unknown inference profile; choose one of: {', '.join(INFERENCE_PROFILES)}."]})
        if region not in profile.source_regions:
            raise CredentialsInvalid("Region outside the inference profile.", fields={
                "credentials.region": [f"{region} is outside the {profile.name} inference profile's regions."]})
        cleaned.regions = [region]
        return cleaned

    def describe(self) -> dict:
        return {
            **super().describe(),
            "inference_profiles": [p.describe() for p in INFERENCE_PROFILES.values()],
            "default_inference_profile": DEFAULT_PROFILE,
            "regions": list(COMMERCIAL_REGIONS),
        }

