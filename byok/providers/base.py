"""The one small interface every provider plug-in implements, and the credential values they validate.

A provider knows its credential fields, how to validate them, how to hint them, and (later) how to build an
SDK client and check a connection. Nothing outside `byok/providers/` knows a provider's details.
"""

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any, Callable

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.views.decorators.debug import sensitive_variables

from core.errors import DomainError

MAX_FIELD_LENGTH = 4096


def endpoint(name: str) -> str | None:
    """A configured endpoint override (the simulator, a proxy), or None for the provider's real endpoint."""
    from django.conf import settings

    return settings.BYOK_ENDPOINTS.get(name)


class CredentialsInvalid(DomainError):
    """One or more credential fields are wrong; `fields` names each and the reason."""

    code = "invalid"
    status = 400


Validator = Callable[[str], str]  # returns the cleaned value or raises ValueError("reason a person can act on")


@dataclass(frozen=True)
class CredentialField:
    name: str
    label: str
    secret: bool
    required: bool = True
    help: str = ""
    validate: Validator | None = None
    kind: str = "text"  # text | password | date | choice
    choices: tuple[str, ...] = ()
    max_length: int = MAX_FIELD_LENGTH

    def describe(self) -> dict:
        return {
            "name": self.name,
            "label": self.label,
            "secret": self.secret,
            "required": self.required,
            "help": self.help,
            "kind": "password" if self.secret else self.kind,
            "choices": list(self.choices),
        }


def hint(value: str, *, prefix: int = 4, suffix: int = 4) -> str:
    """`AKIA…7XQ2`: enough to recognise a credential, never enough to use it."""
    if len(value) <= prefix + suffix + 4:
        return "…" + value[-min(suffix, len(value) // 3):] if value else ""
    return f"{value[:prefix]}…{value[-suffix:]}"


class Credentials(Mapping):
    """Validated credential values of one provider. Immutable; its repr shows hints, never values."""

    __slots__ = ("provider_id", "_values")

    def __init__(self, provider_id: str, values: Mapping[str, Any]):
        object.__setattr__(self, "provider_id", provider_id)
        object.__setattr__(self, "_values", dict(values))

    def __setattr__(self, name, value):
        raise AttributeError("Credentials are immutable")

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def to_json(self) -> dict:
        return dict(self._values)

    def __repr__(self) -> str:
        from .registry import get_provider

        try:
            key_hint = get_provider(self.provider_id).hint(self)
        except (KeyError, DomainError):  # partial values (a regional set, a session): no hint, still no secret
            key_hint = "(no hint)"
        return f"<Credentials {self.provider_id} {key_hint}>"

    __str__ = __repr__

    def __reduce__(self):
        raise TypeError("Credentials cannot be pickled: a secret never crosses a process boundary.")


# --- shared validators --------------------------------------------------------------------------------------

def clean_token(value: str, *, label: str) -> str:
    """Rules every credential string follows: printable ASCII, no inner whitespace, not oversized."""
    if len(value) > MAX_FIELD_LENGTH:
        raise ValueError(f"Too long: at most {MAX_FIELD_LENGTH} characters (got {len(value)}).")
    if not value.isascii():
        raise ValueError(f"{label} contains non-ASCII characters (check for look-alike letters or smart quotes).")
    if re.search(r"\s", value):
        raise ValueError(f"{label} contains whitespace inside it; paste it again without spaces or line breaks.")
    if not value.isprintable():
        raise ValueError(f"{label} contains control characters.")
    return value


def pattern_validator(*, label: str, regex: str, expectation: str, prefixes: tuple[str, ...] = ()) -> Validator:
    compiled = re.compile(regex)

    def validate(value: str) -> str:
        value = clean_token(value, label=label)
        if prefixes and not value.startswith(prefixes):
            raise ValueError(f"{label} must start with {' or '.join(repr(p) for p in prefixes)}; {expectation}")
        if not compiled.fullmatch(value):
            raise ValueError(f"{label} is not in the expected format: {expectation}")
        return value

    return validate


def parse_expiry(value: str) -> str:
    """An ISO date or datetime in the future, returned as an ISO datetime in UTC."""
    not_a_date = "Not a date: use ISO 8601, e.g. 2027-05-31 or 2027-05-31T12:00:00Z."
    try:
        # Well-formed but impossible dates (2027-13-01) raise ValueError("month must be in 1..12"): say it plainly.
        parsed: datetime | None = parse_datetime(value)
        day: date | None = None if parsed else parse_date(value)
    except ValueError:
        raise ValueError(not_a_date) from None
    if parsed is None:
        if day is None:
            raise ValueError(not_a_date)
        parsed = datetime.combine(day, time.max.replace(microsecond=0))
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, UTC)
    if parsed <= timezone.now():
        raise ValueError("This date is in the past: these credentials have already expired.")
    return parsed.astimezone(UTC).isoformat()


@dataclass
class CleanedKey:
    """What a provider's validation yields: the credentials to encrypt and the plain metadata to show."""

    credentials: Credentials
    key_hint: str
    credential_type: str
    expires_at: datetime | None = None
    regions: list[str] = field(default_factory=list)


class Provider:
    """Base of every provider plug-in. Subclasses declare their fields and models; override what differs."""

    id: str
    name: str
    family: str
    credential_fields: tuple[CredentialField, ...]
    models: dict[str, str]  # tier -> model id
    docs_url: str = ""

    @sensitive_variables()  # every local holds raw input: hidden from error reports
    def field_errors(
        self, raw: Mapping[str, Any], *, keep: Mapping[str, Any] | None = None, prefix: str = "credentials."
    ) -> tuple[dict, dict]:
        """Validate raw input field by field: (cleaned values, errors by `prefix` + field). `keep` fills blanks."""
        known = {f.name for f in self.credential_fields}
        errors: dict[str, list[str]] = {
            prefix + name: ["Unknown field for this provider."] for name in raw if name not in known
        }
        cleaned: dict[str, Any] = {}
        for spec in self.credential_fields:
            value = raw.get(spec.name)
            if value is not None and not isinstance(value, str):
                errors[prefix + spec.name] = ["Must be a string."]
                continue
            value = value or ""
            if value != value.strip() and spec.kind not in ("date", "choice"):  # secrets and key ids: never altered silently
                errors[prefix + spec.name] = [
                    f"{spec.label} has spaces or line breaks before or after it; remove them and paste it again."]
                continue
            value = value.strip()  # dates and choices: surrounding spaces carry no meaning
            if not value:
                if keep is not None and spec.name in keep:
                    cleaned[spec.name] = keep[spec.name]
                elif spec.required:
                    errors[prefix + spec.name] = [f"{spec.label} is required."]
                continue
            if len(value) > spec.max_length:
                errors[prefix + spec.name] = [f"Too long: at most {spec.max_length} characters (got {len(value)})."]
                continue
            try:
                cleaned[spec.name] = spec.validate(value) if spec.validate else clean_token(value, label=spec.label)
            except ValueError as exc:
                errors[prefix + spec.name] = [str(exc)]
        return cleaned, errors

    @sensitive_variables()
    def clean(self, raw: Mapping[str, Any], *, keep: Credentials | None = None, **options) -> CleanedKey:
        cleaned, errors = self.field_errors(raw, keep=keep)
        if errors:
            raise CredentialsInvalid("Some credential fields are invalid.", fields=errors)
        credentials = Credentials(self.id, cleaned)
        return CleanedKey(
            credentials=credentials,
            key_hint=self.hint(credentials),
            credential_type="api_key",
            expires_at=_expiry(cleaned.get("expires_at")),
        )

    def hint(self, credentials: Mapping[str, Any]) -> str:
        return hint(credentials["api_key"], prefix=self.hint_prefix)

    hint_prefix = 6

    def describe(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "family": self.family,
            "docs_url": self.docs_url,
            "credential_fields": [f.describe() for f in self.credential_fields],
            "models": self.models,
        }


def _expiry(value: str | None) -> datetime | None:
    return parse_datetime(value) if value else None
