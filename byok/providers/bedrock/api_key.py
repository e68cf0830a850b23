"""Bedrock with a Bedrock API key (a bearer token: ABSK… long-term, bedrock-api-key-… short-term), one region."""

from collections.abc import Mapping
from datetime import timedelta
from functools import partial
from typing import Any

from botocore.exceptions import ClientError
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from ..base import (
    Call,
    CleanedKey,
    CredentialField,
    Credentials,
    CredentialsInvalid,
    InferenceProfile,
    expiry_datetime,
    hint,
    parse_expiry,
    pattern_validator,
)
from ..outcomes import Category, CheckResult, Failure, run_concurrently
from .aws import EXPIRED_CODES, INVALID_CODES, bedrock_hint, classify, model_checks
from .aws_async import BedrockAsyncClient, bedrock_acall
from .paste import LONG_TERM_DEFAULT_DAYS, short_term_key_expiry
from .profiles import (
    BEDROCK_RUNTIME_ENDPOINT,
    COMMERCIAL_REGIONS,
    DEFAULT_PROFILE,
    UNKNOWN_PROFILE,
    BedrockFamily,
)

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


def classify_api_key(exc: BaseException, *, model: str = "", profile: InferenceProfile | None = None) -> Failure:
    """AWS answers a bad API key and a model not enabled with the same 403; only the message tells them apart.
    Errors come as botocore ClientErrors (the data plane's client)."""
    refusal = _refusal(exc)
    if refusal is not None:
        status, code, message = refusal
        if code in EXPIRED_CODES:
            category = Category.EXPIRED
        elif code in INVALID_CODES or "model" not in message.lower():
            category = Category.INVALID_CREDENTIALS
        else:
            category = Category.MODEL_ACCESS
        return Failure(category, bedrock_hint(category, model=model, profile=profile), code=code, status=status)
    return classify(exc, model=model, profile=profile)


def _refusal(exc: BaseException) -> tuple[int, str, str] | None:
    """(status, error code, message) of a 401 or 403."""
    if isinstance(exc, ClientError) and exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") in (401, 403):
        error = exc.response.get("Error", {})
        return exc.response["ResponseMetadata"]["HTTPStatusCode"], error.get("Code", ""), error.get("Message", "")
    return None


class BedrockApiKeyProvider(BedrockFamily):
    id = "bedrock_api_key"
    name = "AWS Bedrock (API key)"
    docs_url = "https://docs.aws.amazon.com/bedrock/latest/userguide/api-keys.html"
    credential_fields = (
        CredentialField("api_key", "Bedrock API key", secret=True, validate=_bedrock_api_key),
        CredentialField("region", "Region", secret=False, validate=_region, kind="choice", choices=COMMERCIAL_REGIONS),
        CredentialField("expires_at", "Expires at", secret=False, required=False, validate=parse_expiry, kind="date",
                        help="Short-term keys (bedrock-api-key-…) carry their expiry, which byok reads. Long-term "
                             f"keys (ABSK…): the date you chose in the AWS console; left empty, byok reminds you "
                             f"{LONG_TERM_DEFAULT_DAYS} days after you add the key."),
    )
    endpoints = (BEDROCK_RUNTIME_ENDPOINT,)  # a bearer token: no STS

    def hint(self, credentials: Mapping[str, Any]) -> str:
        return hint(credentials["api_key"])

    @sensitive_variables()
    def clean(self, raw, *, keep: Credentials | None = None, inference_profile: str = DEFAULT_PROFILE,
              regional_credentials: list | None = None) -> CleanedKey:
        cleaned = super().clean(raw, keep=keep, regional_credentials=regional_credentials)
        profile = self.inference_profiles.get(inference_profile)
        region = cleaned.credentials["region"]
        if profile is None:
            raise CredentialsInvalid("Unknown inference profile.", fields={
                "inference_profile": [UNKNOWN_PROFILE]})
        if region not in profile.source_regions:
            raise CredentialsInvalid("Region outside the inference profile.", fields={
                "credentials.region": [f"{region} is outside the {profile.name} inference profile's regions."]})
        cleaned.regions = [region]
        return self._with_expiry(cleaned, entered=bool(str(raw.get("expires_at") or "").strip()))

    @sensitive_variables("cleaned", "values")
    def _with_expiry(self, cleaned: CleanedKey, *, entered: bool) -> CleanedKey:
        """A short-term key's own expiry (the earlier of it and a date entered); a long-term key without a date
        gets a reminder date LONG_TERM_DEFAULT_DAYS from now."""
        values = dict(cleaned.credentials)
        carried = short_term_key_expiry(values["api_key"])
        if carried is not None:
            if carried <= timezone.now():
                raise CredentialsInvalid("This short-term key has expired.", fields={"credentials.api_key": [
                    f"This short-term key expired at {carried:%Y-%m-%d %H:%M} UTC: generate a new one."]})
            if cleaned.expires_at is None or carried < cleaned.expires_at:
                values["expires_at"] = carried.isoformat()
        elif values["api_key"].startswith("ABSK") and not entered and not values.get("expires_at"):
            values["expires_at"] = (timezone.now() + timedelta(days=LONG_TERM_DEFAULT_DAYS)).isoformat()
        cleaned.credentials = Credentials(self, values)
        cleaned.expires_at = expiry_datetime(values.get("expires_at"))
        return cleaned

    def values_kept_on_rotation(self, credentials: Mapping[str, Any]) -> dict:
        # A new key has its own expiry: the old key's date (entered, carried or defaulted) is not kept.
        return {name: value for name, value in super().values_kept_on_rotation(credentials).items()
                if name != "expires_at"}

    def region_for(self, *, inference_profile: str, regions: tuple[str, ...] | list[str] = ()) -> str:
        return regions[0]  # the key's own region (validated to lie inside its profile)

    def check(self, credentials: Credentials, *, inference_profile: str = "", models=None) -> list[CheckResult]:
        region = credentials["region"]
        return run_concurrently(model_checks(
            partial(self.probe, credentials, region=region),
            profile=self.inference_profiles[inference_profile or DEFAULT_PROFILE], region=region,
            classify_error=classify_api_key, models=models))

    def classify(self, exc: BaseException, **context) -> Failure:
        return classify_api_key(exc, **context)

    def async_client(self, credentials: Mapping[str, Any], *, region: str, timeout: float) -> BedrockAsyncClient:
        return BedrockAsyncClient.with_api_key(credentials["api_key"], region=region, timeout=timeout)

    def acall(self, client: BedrockAsyncClient, call: Call):
        return bedrock_acall(client, call)
