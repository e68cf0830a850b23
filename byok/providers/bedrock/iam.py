"""Bedrock with IAM credentials: long-term AKIA keys (byok refreshes their STS sessions) or temporary ASIA keys,
plus optional extra credential sets for chosen regions."""

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from functools import partial
from typing import Any

from django.views.decorators.debug import sensitive_variables

from ..base import (
    Call,
    CleanedKey,
    CredentialField,
    Credentials,
    CredentialsInvalid,
    CredentialType,
    InferenceProfile,
    PlatformCredentials,
    expiry_datetime,
    hint,
    parse_expiry,
    pattern_validator,
)
from ..outcomes import CheckResult, Failure, SessionIncomplete, run_concurrently
from .aws import (
    classify,
    identity_check,
    model_checks,
    session_check,
    session_token,
)
from .aws_async import BedrockAsyncClient, bedrock_acall
from .paste import parse_pasted_credentials
from .profiles import (
    COMMERCIAL_REGIONS,
    DEFAULT_PROFILE,
    UNKNOWN_PROFILE,
    BedrockFamily,
)

_secret_access_key = pattern_validator(
    label="Secret Access Key", regex=r"[A-Za-z0-9/+=]{40}", expectation="exactly 40 characters (letters, digits, / + =)."
)
_session_token = pattern_validator(
    label="Session Token", regex=r"[A-Za-z0-9/+=_-]{16,2048}", expectation="the token AWS returned with the ASIA key."
)
_access_key_id = pattern_validator(
    label="Access Key ID",
    regex=r"(AKIA|ASIA)[A-Z0-9]{16}",
    prefixes=("AKIA", "ASIA"),
    expectation="AKIA (long-term) or ASIA (temporary) followed by 16 upper-case letters or digits.",
)

SESSION_FIELDS = ("access_key_id", "secret_access_key", "session_token")


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


PASTED_FIELD = CredentialField(
    "pasted", "Paste credentials", secret=True, required=False, kind="textarea", max_length=8192,
    help="Instead of the fields above: JSON ({\"accessKeyId\", \"secretAccessKey\", \"sessionToken\", \"region\"} or "
         "the output of aws sts get-session-token), an AWS CLI credentials file section (aws_access_key_id = …), or "
         "export AWS_ACCESS_KEY_ID=… lines.",
)


@sensitive_variables()
def expand_pasted(raw: Mapping[str, Any]) -> tuple[dict, dict]:
    """`raw` with a pasted blob (`pasted`) replaced by the fields it holds, and the errors of the paste itself."""
    raw = dict(raw)
    pasted = raw.pop("pasted", None)
    if pasted is None or (isinstance(pasted, str) and not pasted.strip()):
        return raw, {}
    if not isinstance(pasted, str):
        return raw, {"credentials.pasted": ["Must be a string."]}
    try:
        parsed = parse_pasted_credentials(pasted)
    except ValueError as exc:
        return raw, {"credentials.pasted": [str(exc)]}
    values = {name: parsed[name] for name in SESSION_FIELDS if parsed.get(name)}
    if parsed.get("expires_at") and values["access_key_id"].startswith("ASIA"):
        values["expires_at"] = parsed["expires_at"]
    errors = {}
    for name, value in values.items():
        typed = raw.get(name)
        if isinstance(typed, str) and typed.strip() and typed.strip() != value:
            errors[f"credentials.{name}"] = ["Differs from the pasted credentials: paste them or type them, not both."]
    return {**raw, **values}, errors


class BedrockProvider(BedrockFamily):
    id = "bedrock"
    name = "AWS Bedrock (IAM credentials)"
    docs_url = "https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-support.html"
    credential_fields = IAM_FIELDS + (
        CredentialField("expires_at", "Expires at", secret=False, required=False, validate=parse_expiry, kind="date",
                        help="When temporary credentials expire (ISO 8601)."),
        PASTED_FIELD,
    )
    regional_credential_fields = IAM_FIELDS

    def hint(self, credentials: Mapping[str, Any]) -> str:
        return hint(credentials["access_key_id"])

    @sensitive_variables()  # every local holds raw input: hidden from error reports
    def clean(self, raw, *, keep: Credentials | None = None, inference_profile: str = DEFAULT_PROFILE,
              regional_credentials: list | None = None) -> CleanedKey:
        raw, paste_errors = expand_pasted(raw)
        keep_values = keep
        new_key_id = raw.get("access_key_id")
        if keep is not None and isinstance(new_key_id, str) and new_key_id.strip() not in ("", keep.get("access_key_id")):
            # A different key id means a different key: never pair it with the old secret.
            keep_values = {}
        cleaned, errors = self.field_errors(raw, keep=keep_values)
        errors.update(paste_errors)
        _check_iam_set(cleaned, errors)
        profile = self.inference_profiles.get(inference_profile)
        if profile is None:
            errors["inference_profile"] = [UNKNOWN_PROFILE]
        if regional_credentials is None and keep is not None:
            regional = list(keep.get("regional", []))
        else:
            regional = self._clean_regional(regional_credentials or [], profile, errors)
        if cleaned.get("access_key_id", "").startswith("ASIA"):
            for index, entry in enumerate(regional):
                if entry.get("access_key_id", "").startswith("AKIA"):
                    # Only long-term keys get sessions: this set would sign calls with its long-term secret.
                    errors.setdefault(f"regional_credentials.{index}.access_key_id", []).append(
                        "A long-term AKIA set needs a long-term AKIA main key (byok obtains session tokens for "
                        "long-term keys only): use temporary ASIA credentials here too, or an AKIA main key.")
        if errors:
            raise CredentialsInvalid("Some credential fields are invalid.", fields=errors)
        if regional:
            cleaned["regional"] = regional
        credentials = Credentials(self, cleaned)
        return CleanedKey(
            credentials=credentials,
            key_hint=self.hint(credentials),
            credential_type=CredentialType.TEMPORARY if cleaned["access_key_id"].startswith("ASIA")
            else CredentialType.LONG_TERM,
            expires_at=expiry_datetime(cleaned.get("expires_at")),
            regions=sorted({region for entry in regional for region in entry["regions"]}),
            region_hints={region: hint(entry["access_key_id"]) for entry in regional for region in entry["regions"]},
        )

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
            values, set_errors = self.field_errors({k: v for k, v in entry.items() if k != "regions"}, prefix=prefix,
                                                   fields=self.regional_credential_fields)
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

    @sensitive_variables()
    def paste_preview(self, text: str) -> dict:
        """What a paste holds, masked (the key id's hint, whether a secret and a token are there), and what would be
        wrong with it as a key; nothing is stored."""
        try:
            parsed = parse_pasted_credentials(text)
        except ValueError as exc:
            raise CredentialsInvalid("The pasted credentials cannot be read.", fields={"text": [str(exc)]}) from None
        expanded, problems = expand_pasted({"pasted": text})
        cleaned, errors = self.field_errors(expanded, fields=self.credential_fields[:-1])
        _check_iam_set(cleaned, errors)
        key_id = parsed["access_key_id"]
        return {
            "format": parsed["format"],
            "access_key_id": hint(key_id),
            "credential_type": CredentialType.TEMPORARY if key_id.startswith("ASIA")
            else CredentialType.LONG_TERM if key_id.startswith("AKIA") else "",
            "has_secret_access_key": bool(parsed.get("secret_access_key")),
            "has_session_token": bool(parsed.get("session_token")),
            "region": parsed.get("region", "") if parsed.get("region", "") in COMMERCIAL_REGIONS else "",
            "expires_at": cleaned.get("expires_at", ""),
            "problems": {**problems, **errors},
        }

    def values_kept_on_rotation(self, credentials: Mapping[str, Any]) -> dict:
        # The key id belongs to the old secret, and the regional sets are rotated with their own secrets.
        return {name: value for name, value in super().values_kept_on_rotation(credentials).items()
                if name not in ("access_key_id", "regional")}

    def check(self, credentials: Credentials, *, inference_profile: str = "", models=None) -> list[CheckResult]:
        """Identity, session-token permission (AKIA: its calls will use sessions) and both models, for the main set
        and each regional set."""
        profile = self.inference_profiles[inference_profile or DEFAULT_PROFILE]
        region = profile.default_region
        checks = [identity_check(credentials, region=region)]
        if credentials["access_key_id"].startswith("AKIA"):
            checks.append(session_check(credentials, region=region))
        checks += model_checks(partial(self.probe, credentials, region=region),
                               profile=profile, region=region, models=models)
        for entry in credentials.get("regional", []):
            entry_region = entry["regions"][0]
            suffix = f"@{entry_region}"
            checks.append(identity_check(entry, region=entry_region, suffix=suffix))
            if entry["access_key_id"].startswith("AKIA"):
                checks.append(session_check(entry, region=entry_region, suffix=suffix))
            checks += model_checks(partial(self.probe, entry, region=entry_region),
                                   profile=profile, region=entry_region, suffix=suffix, models=models)
        return run_concurrently(checks)

    def classify(self, exc: BaseException, **context) -> Failure:
        return classify(exc, **context)

    def async_client(self, credentials: Mapping[str, Any], *, region: str, timeout: float) -> BedrockAsyncClient:
        """A signing client for `region`, with that region's credential set if the key has one."""
        regional = next((e for e in credentials.get("regional", []) if region in e["regions"]), credentials)
        return BedrockAsyncClient(regional, region=region, timeout=timeout)

    def acall(self, client: BedrockAsyncClient, call: Call):
        return bedrock_acall(client, call)

    # Long-term keys call models with STS sessions: the long-term secrets (the main set's and every long-term regional
    # set's) only ever talk to STS.
    def refreshes_session(self, credential_type: str) -> bool:
        return credential_type == CredentialType.LONG_TERM

    @sensitive_variables("credentials", "session", "regional", "entry", "values")
    def session_refresh(self, credentials: Credentials, *, inference_profile: str, duration_seconds: int,
                        timeout: float) -> tuple[dict, datetime]:
        """A session for the main set and one for each long-term regional set (GetSessionToken with that set's own
        credentials, in its first region), as one value; it expires when its first part does. Any part failing
        fails the whole refresh, its hint naming the regional set."""
        region = self.inference_profiles[inference_profile or DEFAULT_PROFILE].default_region
        session, expires_at = session_token(credentials, region=region, duration_seconds=duration_seconds,
                                            timeout=timeout)
        regional = []
        for entry in credentials.get("regional", []):
            if not entry["access_key_id"].startswith("AKIA"):
                regional.append(None)  # temporary credentials are used as they are
                continue
            try:
                values, entry_expires_at = session_token(entry, region=entry["regions"][0],
                                                         duration_seconds=duration_seconds, timeout=timeout)
            except Failure as failure:
                raise replace(failure, hint=f"The credential set for {', '.join(entry['regions'])} "
                                            f"({hint(entry['access_key_id'])}): {failure.hint}") from None
            # Names its set, so a session is never used for another set's credentials.
            regional.append({"source_access_key_id": entry["access_key_id"], **values})
            expires_at = min(expires_at, entry_expires_at)
        if regional:
            session["regional"] = regional  # aligned with credentials["regional"]
        return session, expires_at

    @sensitive_variables("credentials", "session", "sessions", "own", "entry", "regional", "values")
    def with_session(self, credentials: Credentials, session: Mapping[str, Any]) -> Credentials:
        """The main set's session in place of its long-term values, and each long-term regional set's own session in
        place of that set's; temporary regional sets are used as they are."""
        sessions = session.get("regional") or []
        regional = []
        for index, entry in enumerate(credentials.get("regional", [])):
            if entry["access_key_id"].startswith("AKIA"):
                own = sessions[index] if index < len(sessions) else None
                if not own or own["source_access_key_id"] != entry["access_key_id"]:
                    raise SessionIncomplete(f"byok is renewing this key's AWS sessions (the stored one has none for "
                                            f"the {', '.join(entry['regions'])} credential set); retry shortly.")
                entry = {"regions": entry["regions"], **{name: own[name] for name in SESSION_FIELDS}}
            regional.append(entry)
        values = {**credentials, **{name: session[name] for name in SESSION_FIELDS}}
        if regional:
            values["regional"] = regional
        return Credentials(self, values)

    def platform_credentials(self, env: Mapping[str, str]) -> PlatformCredentials:
        values = {"access_key_id": env.get("PLATFORM_AWS_ACCESS_KEY_ID", ""),
                  "secret_access_key": env.get("PLATFORM_AWS_SECRET_ACCESS_KEY", ""),
                  "session_token": env.get("PLATFORM_AWS_SESSION_TOKEN", "")}
        return PlatformCredentials(values=values, configured=bool(values["access_key_id"]),
                                   region=env.get("PLATFORM_AWS_REGION") or "us-east-1",
                                   inference_profile=env.get("PLATFORM_BEDROCK_INFERENCE_PROFILE") or "us")
