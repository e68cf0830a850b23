"""AWS credentials pasted whole instead of typed field by field, and what a Bedrock API key says about its expiry.

Accepted pastes (one set of credentials each):
- JSON `{"accessKeyId", "secretAccessKey", "sessionToken", "region"}` (any case, with or without `aws_`), or the
  AWS CLI's `aws sts get-session-token` / `assume-role` output `{"Credentials": {"AccessKeyId", …, "Expiration"}}`;
- an AWS CLI credentials or config file section (`aws_access_key_id = …`, `[profile]` headers optional);
- shell lines `export AWS_ACCESS_KEY_ID=…` (also `set`, PowerShell `$Env:`, quoted or not).

Reasons never quote the text: a paste is a secret.
"""

import base64
import binascii
import json
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

from django.views.decorators.debug import sensitive_variables

# Normalised name (lower case, no `_`/`-`, no leading `aws`) -> byok's field.
_NAMES = {
    "accesskeyid": "access_key_id", "accesskey": "access_key_id",
    "secretaccesskey": "secret_access_key", "secretkey": "secret_access_key",
    "sessiontoken": "session_token", "securitytoken": "session_token",
    "region": "region", "defaultregion": "region",
    "expiration": "expires_at", "credentialexpiration": "expires_at", "expiry": "expires_at",
}
_ENV_LINE = re.compile(r"^\s*(?:export\s+|set\s+|\$env:)?(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*=\s*(?P<value>.*?)\s*;?\s*$",
                       re.IGNORECASE)
_INI_LINE = re.compile(r"^\s*(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*[=:]\s*(?P<value>.*?)\s*$")
_SHELL_LINE = re.compile(r"^\s*(?:(?i:export|set)\s|(?i:\$env:)|AWS_)")
_SECTION = re.compile(r"^\s*\[[^\]]+\]\s*$")
MAX_PASTE = 8192
_NOT_JSON = object()


def _field(name: str) -> str | None:
    key = re.sub(r"[_\-]", "", name.lower())
    return _NAMES.get(key.removeprefix("aws")) if key.startswith("aws") else _NAMES.get(key)


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


@sensitive_variables()
def _from_json(data) -> dict[str, str]:
    if isinstance(data, dict) and isinstance(data.get("Credentials"), dict):  # aws sts … output
        data = {**{k: v for k, v in data.items() if k != "Credentials"}, **data["Credentials"]}
    if not isinstance(data, dict):
        raise ValueError("Pasted JSON must be an object with accessKeyId and secretAccessKey.")
    found: dict[str, str] = {}
    for name, value in data.items():
        field = _field(str(name))
        if field and value is not None:
            if not isinstance(value, str):
                raise ValueError(f"The pasted {name} must be a string.")
            found[field] = value
    return found


@sensitive_variables()
def _from_lines(text: str) -> tuple[str, dict[str, str]]:
    found: dict[str, str] = {}
    sections, kind = 0, ""
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith(("#", ";", "//")):
            continue
        if _SECTION.match(line):
            sections += 1
            if sections > 1 and found:
                raise ValueError("The paste holds more than one profile: paste one [profile] section only.")
            continue
        # Shell lines name upper-case variables (AWS_…); credentials files lower-case keys (aws_…).
        match = _ENV_LINE.match(line) if _SHELL_LINE.match(line) else _INI_LINE.match(line)
        if match is None:
            continue
        field = _field(match["name"])
        if field is None:
            continue
        kind = kind or ("env" if match.re is _ENV_LINE else "credentials_file")
        if field in found:
            raise ValueError(f"The paste sets {match['name']} twice: paste one set of credentials.")
        found[field] = _unquote(match["value"])
    return kind, found


@sensitive_variables()
def parse_pasted_credentials(text: str) -> dict[str, str]:
    """The credential fields in a pasted blob: access_key_id, secret_access_key and, where present, session_token,
    region, expires_at; plus `format` (json, sts_json, credentials_file, env). ValueError says what is wrong."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("Nothing was pasted.")
    if len(text) > MAX_PASTE:
        raise ValueError(f"Too long for a set of credentials: at most {MAX_PASTE} characters.")
    stripped = text.strip()
    data = _NOT_JSON
    if stripped.startswith(("{", "[")):
        try:
            data = json.loads(stripped)
        except ValueError:
            if stripped.startswith("{"):  # "[" may open a credentials file's [profile] header
                raise ValueError("This looks like JSON but does not parse: paste the whole object, from { to }.") \
                    from None
    if data is not _NOT_JSON:
        kind = "sts_json" if isinstance(data, dict) and isinstance(data.get("Credentials"), dict) else "json"
        found = _from_json(data)
    else:
        kind, found = _from_lines(stripped)
    if not found:
        raise ValueError("No AWS credentials found: paste JSON with accessKeyId and secretAccessKey, a credentials "
                         "file section (aws_access_key_id = …), or export AWS_ACCESS_KEY_ID=… lines.")
    missing = [label for field, label in (("access_key_id", "the access key id"),
                                          ("secret_access_key", "the secret access key")) if not found.get(field)]
    if missing:
        raise ValueError(f"The paste has no {' and no '.join(missing)}.")
    return {**{k: v.strip() for k, v in found.items()}, "format": kind}


# --- Bedrock API keys -----------------------------------------------------------------------------------------

LONG_TERM_DEFAULT_DAYS = 180


def short_term_key_expiry(api_key: str) -> datetime | None:
    """When a short-term key (`bedrock-api-key-` + base64 of a presigned URL) stops working: its X-Amz-Date plus
    X-Amz-Expires. None when the key does not carry them (or is not decodable: then AWS decides)."""
    if not api_key.startswith("bedrock-api-key-"):
        return None
    body = api_key.removeprefix("bedrock-api-key-").split("&", 1)[0]
    try:
        decoded = base64.b64decode(body + "=" * (-len(body) % 4), altchars=b"-_" if "-" in body or "_" in body
                                   else None, validate=False).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    query = decoded.partition("?")[2] or decoded
    params = {k.lower(): v[0] for k, v in parse_qs(query).items() if v}
    try:
        issued = datetime.strptime(params["x-amz-date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        lifetime = int(params["x-amz-expires"])
    except (KeyError, ValueError):
        return None
    if not 0 < lifetime <= 366 * 86400:
        return None
    return issued + timedelta(seconds=lifetime)
