"""AWS Bedrock: IAM credentials (long-term AKIA or temporary ASIA) and Bedrock API keys (bearer tokens)."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.views.decorators.debug import sensitive_variables

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

    @sensitive_variables()  # every local holds raw input: hidden from error reports
    def clean(self, raw, *, keep: Credentials | None = None, inference_profile: str = DEFAULT_PROFILE,
              regional_credentials: list | None = None, **options) -> CleanedKey:
        keep_values = keep
        new_key_id = raw.get("access_key_id")
        if keep is not None and isinstance(new_key_id, str) and new_key_id.strip() not in ("", keep.get("access_key_id")):
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

    def check(self, credentials: Credentials, *, inference_profile: str) -> list:
        return check_iam(credentials, profile=INFERENCE_PROFILES[inference_profile or DEFAULT_PROFILE])

    def classify(self, exc: BaseException, **context) -> "Failure":
        return classify(exc, **context)

    def client(self, credentials: Mapping[str, Any], *, region: str, timeout: float):
        """A bedrock-runtime client for `region`, with that region's credential set if the key has one."""
        regional = next((e for e in credentials.get("regional", []) if region in e["regions"]), credentials)
        return runtime_client_iam(regional, region=region, timeout=timeout)

    def complete(self, client, *, model: str, messages: list[dict], max_tokens: int) -> "Completion":
        return converse(client, model=model, messages=messages, max_tokens=max_tokens)

    @sensitive_variables()
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

    @sensitive_variables()
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

    def check(self, credentials: Credentials, *, inference_profile: str) -> list:
        return check_api_key(credentials, profile=INFERENCE_PROFILES[inference_profile or DEFAULT_PROFILE])

    def classify(self, exc: BaseException, **context) -> "Failure":
        return classify_api_key(exc, **context)

    def client(self, credentials: Mapping[str, Any], *, region: str, timeout: float):
        return runtime_client_api_key(credentials["api_key"], region=region, timeout=timeout)

    def complete(self, client, *, model: str, messages: list[dict], max_tokens: int) -> "Completion":
        return messages_complete(client, model=model, messages=messages, max_tokens=max_tokens)

    def describe(self) -> dict:
        return {
            **super().describe(),
            "inference_profiles": [p.describe() for p in INFERENCE_PROFILES.values()],
            "default_inference_profile": DEFAULT_PROFILE,
            "regions": list(COMMERCIAL_REGIONS),
        }



# --- Calling Bedrock and STS through boto3 -----------------------------------------------------------------

from functools import partial  # noqa: E402

import threading  # noqa: E402

import botocore.session  # noqa: E402  (kept beside the code that calls AWS)
from botocore.config import Config  # noqa: E402
from botocore.exceptions import (  # noqa: E402
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)
import anthropic as anthropic_sdk  # noqa: E402

from . import http_sdk  # noqa: E402
from .anthropic import messages_complete  # noqa: E402
from .base import endpoint  # noqa: E402
from .outcomes import Category, CheckResult, Completion, Failure, run_concurrently  # noqa: E402

_INVALID = {"UnrecognizedClientException", "InvalidSignatureException", "InvalidClientTokenId",
            "SignatureDoesNotMatch", "IncompleteSignature", "MissingAuthenticationToken"}
_EXPIRED = {"ExpiredTokenException", "ExpiredToken", "TokenRefreshRequired"}
_THROTTLED = {"ThrottlingException", "Throttling", "TooManyRequestsException", "ServiceQuotaExceededException",
              "RequestLimitExceeded"}
_UNAVAILABLE = {"InternalServerException", "ServiceUnavailableException", "ModelNotReadyException",
                "InternalFailure", "ServiceUnavailable", "ModelTimeoutException"}


def iam_policy(profile: InferenceProfile) -> dict:
    """The least-privilege policy byok needs for a profile: both models, both ARN kinds, and session tokens."""
    models = list(BEDROCK_MODELS.values())
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "InvokeClaudeThroughInferenceProfile",
                "Effect": "Allow",
                "Action": ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"],
                "Resource": [f"arn:aws:bedrock:*:*:inference-profile/{profile.model_id(m)}" for m in models]
                + [f"arn:aws:bedrock:*::foundation-model/{m}" for m in models]
                + ([f"arn:aws:bedrock:::foundation-model/{m}" for m in models] if profile.id == "global" else []),
            },
            {"Sid": "RefreshSessionTokens", "Effect": "Allow", "Action": ["sts:GetSessionToken"], "Resource": "*"},
        ],
    }


def _hint(category: str, *, code: str = "", model: str = "", profile: InferenceProfile | None = None) -> str:
    profile_name = profile.name if profile else "chosen"
    return {
        Category.INVALID_CREDENTIALS: "AWS rejected these credentials: copy the Access Key ID and Secret Access Key "
        "again from the IAM console (the secret is shown only once when the key is created).",
        Category.EXPIRED: "These credentials have expired. Temporary ASIA credentials (and Bedrock API keys) cannot be "
        "refreshed: enter new ones, or use a long-term AKIA key and byok refreshes session tokens itself.",
        Category.PERMISSION_DENIED: (
            "The IAM policy needs sts:GetSessionToken: byok uses it to refresh session tokens. Add the "
            '"RefreshSessionTokens" statement from the policy shown with the key.'
            if code == "sts:GetSessionToken" else
            "The IAM policy needs bedrock:InvokeModel and bedrock:InvokeModelWithResponseStream on the "
            f"foundation-model and inference-profile ARNs of the {profile_name} profile (see the policy shown with the key)."
        ),
        Category.MODEL_ACCESS: f"Your AWS account cannot use {model or 'this model'} yet: in the Bedrock console open "
        "Model access, submit the Anthropic use-case form, and enable both Claude Sonnet 4.5 and Claude Opus 4.5.",
        Category.RATE_LIMITED: "AWS is throttling these credentials: retry in a minute, or raise the Bedrock quota "
        "for this model in Service Quotas.",
        Category.PROVIDER_UNAVAILABLE: "Bedrock answered with a server error. This is usually temporary: retry "
        "shortly, or check the AWS Health Dashboard for your region.",
        Category.TIMEOUT: "Bedrock did not answer in time. Retry; if it persists, check the region's health.",
        Category.NETWORK: "Could not reach AWS. Check the network path to the Bedrock and STS endpoints.",
        Category.BAD_REQUEST: f"Bedrock rejected the request as invalid ({code}).",
    }[category]


def classify(exc: BaseException, *, model: str = "", profile: InferenceProfile | None = None,
             operation: str = "") -> Failure:
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        message = exc.response.get("Error", {}).get("Message", "")
        if code in _INVALID:
            category = Category.INVALID_CREDENTIALS
        elif code in _EXPIRED:
            category = Category.EXPIRED
        elif code in ("AccessDeniedException", "AccessDenied"):
            category = Category.MODEL_ACCESS if "model" in message.lower() and operation != "sts" else Category.PERMISSION_DENIED
        elif code in _THROTTLED or status == 429:
            category = Category.RATE_LIMITED
        elif code in _UNAVAILABLE or (status or 0) >= 500:
            category = Category.PROVIDER_UNAVAILABLE
        elif code == "ResourceNotFoundException":
            category = Category.MODEL_ACCESS
        else:
            category = Category.BAD_REQUEST
        hint_code = "sts:GetSessionToken" if operation == "sts:GetSessionToken" else code
        return Failure(category, _hint(category, code=hint_code, model=model, profile=profile), code=code, status=status)
    if isinstance(exc, (ReadTimeoutError, ConnectTimeoutError)):
        return Failure(Category.TIMEOUT, _hint(Category.TIMEOUT), code=type(exc).__name__)
    if isinstance(exc, (EndpointConnectionError, ConnectionClosedError, BotoCoreError, OSError)):
        return Failure(Category.NETWORK, _hint(Category.NETWORK), code=type(exc).__name__)
    raise exc


def _config(timeout: float) -> Config:
    # No SDK retries: byok decides what a failure means (fallback, breaker) and must answer fast.
    return Config(connect_timeout=timeout, read_timeout=timeout,
                  retries={"total_max_attempts": 1, "mode": "standard"}, max_pool_connections=32)


_shared_session = None
_client_lock = threading.Lock()


def _aws_client(service: str, values: Mapping[str, Any], *, region: str, endpoint_url: str | None, timeout: float):
    """A client with these credentials. One botocore session is shared so its parsed service models are reused
    (a fresh session re-reads them, ~100 ms); creating clients from it is serialised, using them is thread-safe."""
    global _shared_session
    with _client_lock:
        if _shared_session is None:
            _shared_session = botocore.session.get_session()
        return _shared_session.create_client(
            service, region_name=region, endpoint_url=endpoint_url, config=_config(timeout),
            aws_access_key_id=values["access_key_id"], aws_secret_access_key=values["secret_access_key"],
            aws_session_token=values.get("session_token") or None,
        )


def sts_client(values: Mapping[str, Any], *, region: str, timeout: float):
    return _aws_client("sts", values, region=region, endpoint_url=endpoint("BYOK_STS_ENDPOINT_URL"), timeout=timeout)


def runtime_client_iam(values: Mapping[str, Any], *, region: str, timeout: float):
    return _aws_client("bedrock-runtime", values, region=region, endpoint_url=endpoint("BYOK_BEDROCK_ENDPOINT_URL"),
                       timeout=timeout)


def runtime_client_api_key(api_key: str, *, region: str, timeout: float) -> anthropic_sdk.AnthropicBedrock:
    """Bedrock with an API key as a bearer token, scoped to this client (boto3 only reads it from the process env)."""
    return anthropic_sdk.AnthropicBedrock(api_key=api_key, aws_region=region, timeout=timeout, max_retries=0,
                                          base_url=endpoint("BYOK_BEDROCK_ENDPOINT_URL"))


def classify_api_key(exc: BaseException, *, model: str = "", profile: InferenceProfile | None = None) -> Failure:
    """AWS answers a bad API key and a model not enabled with the same 403; only the message tells them apart."""
    if isinstance(exc, anthropic_sdk.APIStatusError) and exc.status_code in (401, 403):
        code = exc.response.headers.get("x-amzn-errortype", "").split(":")[0] or type(exc).__name__
        if code in _EXPIRED:
            category = Category.EXPIRED
        elif code in _INVALID or "model" not in str(exc).lower():
            category = Category.INVALID_CREDENTIALS
        else:
            category = Category.MODEL_ACCESS
        return Failure(category, _hint(category, model=model, profile=profile), code=code, status=exc.status_code)
    failure = http_sdk.classify(exc, anthropic_sdk, name="AWS Bedrock", console="the AWS console", model=model)
    return Failure(failure.category, _hint(failure.category, code=failure.code, model=model, profile=profile),
                   code=failure.code, status=failure.status)


def converse(client, *, model: str, messages: list[dict], max_tokens: int) -> Completion:
    system = [{"text": m["content"]} for m in messages if m["role"] == "system"]
    turns = [{"role": m["role"], "content": [{"text": m["content"]}]} for m in messages if m["role"] != "system"]
    kwargs = {"system": system} if system else {}
    response = client.converse(modelId=model, messages=turns, inferenceConfig={"maxTokens": max_tokens}, **kwargs)
    content = response["output"]["message"]["content"]
    return Completion(
        output="".join(block.get("text", "") for block in content),
        model=model,
        input_tokens=response["usage"]["inputTokens"],
        output_tokens=response["usage"]["outputTokens"],
        stop_reason=response.get("stopReason", ""),
    )


PING = [{"role": "user", "content": "Reply with OK."}]


def _model_check(*, name: str, model_id: str, make_client, complete, classify_error, profile: InferenceProfile,
                 region: str):
    def run() -> CheckResult:
        def call():
            complete(make_client(), model=model_id, messages=PING, max_tokens=1)

        return CheckResult.from_call(name, call, target=model_id, region=region,
                                     classify=lambda exc: classify_error(exc, model=model_id, profile=profile))

    return run


def _model_checks(make_client, *, profile: InferenceProfile, region: str, suffix: str = "", complete=None,
                  classify_error=None) -> list:
    """One minimal call per tier (Sonnet and Opus) under the profile's model ids."""
    return [
        _model_check(name=f"model:{tier}{suffix}", model_id=profile.model_id(base), make_client=make_client,
                     complete=complete or converse, classify_error=classify_error or classify, profile=profile,
                     region=region)
        for tier, base in BEDROCK_MODELS.items()
    ]


def _identity_check(values, *, region: str, suffix: str = ""):
    def call():
        identity = sts_client(values, region=region, timeout=_timeout()).get_caller_identity()
        return {"account": identity["Account"], "arn": identity["Arn"]}

    return lambda: CheckResult.from_call(f"sts:GetCallerIdentity{suffix}", call, target="sts:GetCallerIdentity",
                                         region=region, classify=lambda exc: classify(exc, operation="sts"))


def _session_check(values, *, region: str):
    def call():
        sts_client(values, region=region, timeout=_timeout()).get_session_token(DurationSeconds=900)
        return {}

    return lambda: CheckResult.from_call("sts:GetSessionToken", call, target="sts:GetSessionToken", region=region,
                                         classify=lambda exc: classify(exc, operation="sts:GetSessionToken"))


def _timeout() -> float:
    from .outcomes import check_timeout

    return check_timeout()


def check_iam(credentials: Mapping[str, Any], *, profile: InferenceProfile) -> list[CheckResult]:
    """Identity, session-token permission (AKIA) and both models, for the main set and each regional set."""
    region = profile.default_region
    checks = [_identity_check(credentials, region=region)]
    if credentials["access_key_id"].startswith("AKIA"):
        checks.append(_session_check(credentials, region=region))
    checks += _model_checks(partial(runtime_client_iam, credentials, region=region, timeout=_timeout()),
                            profile=profile, region=region)
    for entry in credentials.get("regional", []):
        entry_region = entry["regions"][0]
        suffix = f"@{entry_region}"
        checks.append(_identity_check(entry, region=entry_region, suffix=suffix))
        checks += _model_checks(partial(runtime_client_iam, entry, region=entry_region, timeout=_timeout()),
                                profile=profile, region=entry_region, suffix=suffix)
    return run_concurrently(checks)


def check_api_key(credentials: Mapping[str, Any], *, profile: InferenceProfile) -> list[CheckResult]:
    region = credentials["region"]
    return run_concurrently(_model_checks(
        partial(runtime_client_api_key, credentials["api_key"], region=region, timeout=_timeout()),
        profile=profile, region=region, complete=messages_complete, classify_error=classify_api_key))
