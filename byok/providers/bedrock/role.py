"""Bedrock through an IAM role in the owner's account: no secret of the owner's is stored.

The owner creates a role whose trust policy lets byok's AWS account assume it with the owner's external ID, and
enters its ARN. byok calls `sts:AssumeRole` with its own (platform) credentials and keeps the role session on the
key, refreshed ahead of expiry like an IAM user's session tokens (services/sessions.py).

Why a provider of its own rather than a third kind inside BedrockProvider: its fields (a role ARN, no secret), its
hint, its checks, its session call and its console help (a trust policy with the owner's external ID) all differ,
and every one of those is chosen per provider id, so the console forms, the API and the registry need no special
case; the family stays `bedrock`, so resolution, fallback and "one owner-wide key per family" treat it like the
other Bedrock keys.
"""

import re
from collections.abc import Mapping
from datetime import datetime
from functools import partial
from typing import Any

from django.views.decorators.debug import sensitive_variables

from ..base import (
    MAX_FIELD_LENGTH,
    Call,
    CleanedKey,
    CredentialField,
    Credentials,
    CredentialsInvalid,
    CredentialType,
    PlatformCredentials,
    RoleCaller,
    clean_token,
)
from ..outcomes import Category, CheckResult, Failure, check_timeout, run_concurrently
from .aws import (
    ROLE_HINTS,
    assume_role,
    classify,
    classify_assume_role,
    model_checks,
    sts_client,
)
from .aws_async import BedrockAsyncClient, bedrock_acall
from .iam import SESSION_FIELDS, BedrockProvider
from .profiles import (
    DEFAULT_PROFILE,
    UNKNOWN_PROFILE,
    BedrockFamily,
    iam_policy,
    trust_policy,
)

# AssumeRole sessions last at most the role's MaxSessionDuration, one hour unless the owner raised it.
ROLE_SESSION_MAX_SECONDS = 3600
ROLE_SESSION_MIN_SECONDS = 900
EXAMPLE_ARN = "arn:aws:iam::123456789012:role/byok-bedrock"

_ROLE_NAME = re.compile(r"[\w+=,.@-]{1,64}", re.ASCII)
_PATH_PART = re.compile(r"[\x21-\x7e]+")


def validate_role_arn(value: str) -> str:
    """`arn:aws:iam::<12 digits>:role/<optional/path/>name`, each mistake named so the owner can fix it."""
    value = clean_token(value, label="Role ARN")
    expected = f"expected arn:aws:iam::<12-digit account ID>:role/<role name>, e.g. {EXAMPLE_ARN}."
    parts = value.split(":", 5)
    if parts[0] != "arn" or len(parts) < 6:
        raise ValueError(f"Role ARN is not an ARN: {expected}")
    _, partition, service, region, account, resource = parts
    if partition != "aws":
        raise ValueError(f"Only roles in the standard AWS partition (\"aws\") can call Bedrock through byok; {expected}")
    if service == "sts":
        raise ValueError("This is the ARN of a role session (sts), not of the role: copy the role's ARN from the IAM "
                         f"console; {expected}")
    if service != "iam":
        raise ValueError(f"Role ARN must be an IAM ARN (\"iam\" service); {expected}")
    if region:
        raise ValueError(f"IAM ARNs have no region: leave the part between \"iam:\" and the account ID empty; {expected}")
    if not re.fullmatch(r"\d{12}", account):
        raise ValueError(f"The account ID in the Role ARN must be exactly 12 digits; {expected}")
    kind, slash, path_and_name = resource.partition("/")
    if kind == "role" and not slash:
        raise ValueError(f"The role name is missing after \"role/\"; {expected}")
    if kind != "role":
        raise ValueError(f"This ARN names {('an IAM ' + kind) if kind else 'no resource'}, not a role; {expected}")
    *path, name = path_and_name.split("/")
    if not name:
        raise ValueError(f"The role name is missing after \"role/\"; {expected}")
    if not _ROLE_NAME.fullmatch(name):
        raise ValueError("The role name may have at most 64 letters, digits and + = , . @ _ - characters.")
    if any(not _PATH_PART.fullmatch(part) for part in path) or len(path_and_name) > 512:
        raise ValueError("The role's path is malformed: path segments are separated by single slashes, e.g. "
                         "arn:aws:iam::123456789012:role/service/byok-bedrock.")
    return value


# The shape the checks above accept, for the API schema (the checks say which part is wrong).
validate_role_arn.pattern = r"arn:aws:iam::\d{12}:role/(?:[\x21-\x2e\x30-\x7e]+/)*[\w+=,.@-]{1,64}"


def role_hint(role_arn: str) -> str:
    """`…3333:role/byok-bedrock`: which role, without the full account ID."""
    account, resource = role_arn.split(":", 5)[4:6] if role_arn.count(":") >= 5 else ("", role_arn)
    name = resource.rsplit("/", 1)[-1]
    return f"…{account[-4:]}:role/{name}"[:64]


class BedrockRoleProvider(BedrockFamily):
    id = "bedrock_role"
    name = "AWS Bedrock (IAM role)"
    docs_url = "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_create_for-user_externalid.html"
    credential_fields = (
        CredentialField("role_arn", "Role ARN", secret=False, validate=validate_role_arn, max_length=MAX_FIELD_LENGTH,
                        help=f"The ARN of the role byok assumes in your account, e.g. {EXAMPLE_ARN}. Its trust "
                             "policy must name byok's AWS account and your external ID (shown below)."),
    )
    assumes_role = True

    def hint(self, credentials: Mapping[str, Any]) -> str:
        return role_hint(credentials["role_arn"])

    def clean(self, raw, *, keep: Credentials | None = None, inference_profile: str = DEFAULT_PROFILE,
              regional_credentials: list | None = None) -> CleanedKey:
        cleaned, errors = self.field_errors(raw, keep=keep)
        if regional_credentials:
            errors["regional_credentials"] = ["A role has no regional credential sets: byok assumes it in every region."]
        if inference_profile not in self.inference_profiles:
            errors["inference_profile"] = [UNKNOWN_PROFILE]
        if errors:
            raise CredentialsInvalid("Some credential fields are invalid.", fields=errors)
        credentials = Credentials(self, cleaned)
        return CleanedKey(credentials=credentials, key_hint=self.hint(credentials),
                          credential_type=CredentialType.ROLE)

    def values_kept_on_rotation(self, credentials: Mapping[str, Any]) -> dict:
        return {}  # a rotation names the new role

    # --- sessions ---------------------------------------------------------------------------------------------

    def refreshes_session(self, credential_type: str) -> bool:
        return credential_type == CredentialType.ROLE

    @sensitive_variables("credentials", "caller")
    def session_refresh(self, credentials: Credentials, *, inference_profile: str, duration_seconds: int,
                        timeout: float, caller: RoleCaller | None = None) -> tuple[dict, datetime]:
        if caller is None or not caller.platform.configured:
            raise Failure(Category.PROVIDER_UNAVAILABLE, "byok has no platform AWS credentials configured to assume "
                          "roles with (PLATFORM_AWS_ACCESS_KEY_ID): ask the platform's operators.", code="no_platform")
        region = self.inference_profiles[inference_profile or DEFAULT_PROFILE].default_region
        duration = max(ROLE_SESSION_MIN_SECONDS, min(duration_seconds, ROLE_SESSION_MAX_SECONDS))
        return assume_role(caller.platform.values, role_arn=credentials["role_arn"], external_id=caller.external_id,
                           session_name=caller.session_name, region=region, duration_seconds=duration,
                           timeout=timeout)

    @sensitive_variables("credentials", "session")
    def with_session(self, credentials: Credentials, session: Mapping[str, Any]) -> Credentials:
        return Credentials(self, {**credentials, **{name: session[name] for name in SESSION_FIELDS}})

    def platform_credentials(self, env: Mapping[str, str]) -> PlatformCredentials:
        """The credentials byok assumes roles with: the platform's own AWS credentials (PLATFORM_AWS_*)."""
        return BedrockProvider.platform_credentials(self, env)

    # --- checks -----------------------------------------------------------------------------------------------

    def check(self, credentials: Credentials, *, inference_profile: str = "", models=None,
              caller: RoleCaller | None = None) -> list[CheckResult]:
        """AssumeRole with the platform's credentials; then, with the role session, GetCallerIdentity and one call
        per tier model on the chosen profile."""
        profile = self.inference_profiles[inference_profile or DEFAULT_PROFILE]
        region = profile.default_region
        sessions: list[dict] = []

        def assume():
            session, expires_at = self.session_refresh(credentials, inference_profile=profile.id,
                                                       duration_seconds=ROLE_SESSION_MIN_SECONDS,
                                                       timeout=check_timeout(), caller=caller)
            sessions.append(session)
            return {"session_expires_at": expires_at.isoformat()}

        assumed = CheckResult.from_call("sts:AssumeRole", assume, target="sts:AssumeRole", region=region,
                                        classify=classify_assume_role)
        if not assumed.ok:
            return [assumed]
        session = self.with_session(credentials, sessions[0])

        def identity():
            answer = sts_client(session, region=region, timeout=check_timeout()).get_caller_identity()
            return {"account": answer["Account"], "arn": answer["Arn"]}

        checks = [lambda: CheckResult.from_call("sts:GetCallerIdentity", identity, target="sts:GetCallerIdentity",
                                                region=region, classify=lambda exc: self.classify(exc))]
        checks += model_checks(partial(self.probe, session, region=region),
                               profile=profile, region=region, models=models, classify_error=self.classify)
        return [assumed] + run_concurrently(checks)

    # --- calls ------------------------------------------------------------------------------------------------

    def classify(self, exc: BaseException, **context) -> Failure:
        failure = classify(exc, **context)
        if failure.category in (Category.INVALID_CREDENTIALS, Category.EXPIRED):
            return Failure(failure.category, ROLE_HINTS["expired_session"], code=failure.code, status=failure.status)
        return failure

    def async_client(self, credentials: Mapping[str, Any], *, region: str, timeout: float):
        """The role session's signed async client, as IAM credentials' (the gateway refreshes the session first)."""
        if "access_key_id" not in credentials:  # no role session yet: the gateway refreshes one before calling
            raise Failure(Category.EXPIRED, ROLE_HINTS["expired_session"], code="no_session")
        return BedrockAsyncClient(credentials, region=region, timeout=timeout)

    def acall(self, client: BedrockAsyncClient, call: Call):
        return bedrock_acall(client, call)

    def access_policy(self, inference_profile: str) -> dict:
        """The role's permission policy: both models through the profile; no session tokens (byok assumes it)."""
        return iam_policy(self.inference_profiles[inference_profile or DEFAULT_PROFILE], session_tokens=False)

    def trust_policy(self, *, platform_account_id: str, external_id: str) -> dict:
        return trust_policy(platform_account_id=platform_account_id, external_id=external_id)

    def describe(self) -> dict:
        return {**super().describe(), "assumes_role": True}
