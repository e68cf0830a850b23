"""Calling Bedrock and STS through botocore, what their errors mean, and the checks both key kinds share."""

import threading
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import botocore.session
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from django.views.decorators.debug import sensitive_variables

from ..base import InferenceProfile, endpoint
from ..outcomes import Category, CheckResult, Failure, check_timeout
from ..http_sdk import with_reason
from ..transport import TransportFailed
from .profiles import BEDROCK_MODELS, STS_ENDPOINT

INVALID_CODES = {"UnrecognizedClientException", "InvalidSignatureException", "InvalidClientTokenId",
            "SignatureDoesNotMatch", "IncompleteSignature", "MissingAuthenticationToken"}
EXPIRED_CODES = {"ExpiredTokenException", "ExpiredToken", "TokenRefreshRequired"}
_THROTTLED = {"ThrottlingException", "Throttling", "TooManyRequestsException", "ServiceQuotaExceededException",
              "RequestLimitExceeded"}
_UNAVAILABLE = {"InternalServerException", "ServiceUnavailableException", "ModelNotReadyException",
                "InternalFailure", "ServiceUnavailable", "ModelTimeoutException"}


def bedrock_hint(category: str, *, code: str = "", model: str = "", profile: InferenceProfile | None = None) -> str:
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
        if code in INVALID_CODES:
            category = Category.INVALID_CREDENTIALS
        elif code in EXPIRED_CODES:
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
        failure = Failure(category, bedrock_hint(category, code=hint_code, model=model, profile=profile), code=code,
                          status=status)
        return with_reason(failure, message, name="Bedrock")
    if isinstance(exc, (ReadTimeoutError, ConnectTimeoutError, TimeoutError)):
        return Failure(Category.TIMEOUT, bedrock_hint(Category.TIMEOUT), code=type(exc).__name__)
    if isinstance(exc, (EndpointConnectionError, ConnectionClosedError, BotoCoreError, OSError, TransportFailed)):
        return Failure(Category.NETWORK, bedrock_hint(Category.NETWORK), code=type(exc).__name__)
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
    return _aws_client("sts", values, region=region, endpoint_url=endpoint(STS_ENDPOINT.setting), timeout=timeout)


def _model_check(*, name: str, model_id: str, probe, classify_error, profile: InferenceProfile, region: str):
    def run() -> CheckResult:
        return CheckResult.from_call(name, lambda: probe(model=model_id), target=model_id, region=region,
                                     classify=lambda exc: classify_error(exc, model=model_id, profile=profile))

    return run


def model_checks(probe, *, profile: InferenceProfile, region: str, suffix: str = "", classify_error=None,
                 models=None) -> list:
    """One minimal call per tier (the catalog's current models, else Sonnet and Opus) under the profile's model ids,
    made by `probe(model=…)`: the provider's own data-plane call."""
    return [
        _model_check(name=f"model:{tier}{suffix}", model_id=profile.model_id(base), probe=probe,
                     classify_error=classify_error or classify, profile=profile, region=region)
        for tier, base in (models or BEDROCK_MODELS).items()
    ]


def identity_check(values, *, region: str, suffix: str = ""):
    def call():
        identity = sts_client(values, region=region, timeout=check_timeout()).get_caller_identity()
        return {"account": identity["Account"], "arn": identity["Arn"]}

    return lambda: CheckResult.from_call(f"sts:GetCallerIdentity{suffix}", call, target="sts:GetCallerIdentity",
                                         region=region, classify=lambda exc: classify(exc, operation="sts"))


def session_check(values, *, region: str, suffix: str = ""):
    def call():
        sts_client(values, region=region, timeout=check_timeout()).get_session_token(DurationSeconds=900)
        return {}

    return lambda: CheckResult.from_call(f"sts:GetSessionToken{suffix}", call, target="sts:GetSessionToken",
                                         region=region,
                                         classify=lambda exc: classify(exc, operation="sts:GetSessionToken"))


@sensitive_variables("values", "answer", "credentials")
def session_token(values: Mapping[str, Any], *, region: str, duration_seconds: int,
                  timeout: float) -> tuple[dict, datetime]:
    """STS GetSessionToken with long-term credentials: the session values and their expiry."""
    try:
        answer = sts_client(values, region=region, timeout=timeout).get_session_token(DurationSeconds=duration_seconds)
    except Exception as exc:  # every STS error becomes a categorised Failure (classify re-raises anything else)
        raise classify(exc, operation="sts:GetSessionToken") from None
    credentials = answer["Credentials"]
    session = {"access_key_id": credentials["AccessKeyId"], "secret_access_key": credentials["SecretAccessKey"],
               "session_token": credentials["SessionToken"]}
    return session, credentials["Expiration"]


# --- Roles: byok assumes the owner's role with the platform's own credentials ---------------------------------

ROLE_HINTS = {
    "AccessDenied": "byok could not assume your role: AWS refused sts:AssumeRole. Check that the role still exists, "
    "that its trust policy is the one shown with the key (byok's AWS account as the principal) and that its "
    "sts:ExternalId condition is exactly your external ID, then test the key again.",
    "NoSuchEntity": "The role does not exist: it was deleted, or the role ARN is wrong. Create the role again with "
    "the trust and permission policies shown with the key, then rotate the key to its ARN.",
    "platform": "byok's own AWS credentials were refused when assuming your role: this is on byok's side, not "
    "yours. Calls use platform credentials meanwhile; no change to your role is needed.",
    "expired_session": "The role session byok obtained was refused by Bedrock (revoked, or the role was changed). "
    "byok assumes the role again on the next call; if it keeps failing, check the role's trust policy.",
}


def classify_assume_role(exc: BaseException) -> Failure:
    """What an AssumeRole refusal means for the owner: a changed trust policy, a wrong external ID or a deleted role
    (their role: the key fails), or byok's own credentials (not theirs: retried, the key is left alone)."""
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in ("AccessDenied", "AccessDeniedException"):
            return Failure(Category.PERMISSION_DENIED, ROLE_HINTS["AccessDenied"], code=code, status=status)
        if code == "NoSuchEntity":
            return Failure(Category.INVALID_CREDENTIALS, ROLE_HINTS["NoSuchEntity"], code=code, status=status)
        if code in INVALID_CODES or code in EXPIRED_CODES:
            return Failure(Category.PROVIDER_UNAVAILABLE, ROLE_HINTS["platform"], code=code, status=status)
    failure = classify(exc, operation="sts")
    return failure


@sensitive_variables("platform_values", "answer", "credentials")
def assume_role(platform_values: Mapping[str, Any], *, role_arn: str, external_id: str, session_name: str,
                region: str, duration_seconds: int, timeout: float) -> tuple[dict, datetime]:
    """STS AssumeRole with the platform's credentials: the role session's values and their expiry."""
    try:
        answer = sts_client(platform_values, region=region, timeout=timeout).assume_role(
            RoleArn=role_arn, RoleSessionName=session_name, ExternalId=external_id, DurationSeconds=duration_seconds)
    except Exception as exc:  # every STS error becomes a categorised Failure (classify re-raises anything else)
        raise classify_assume_role(exc) from None
    credentials = answer["Credentials"]
    session = {"access_key_id": credentials["AccessKeyId"], "secret_access_key": credentials["SecretAccessKey"],
               "session_token": credentials["SessionToken"]}
    return session, credentials["Expiration"]
