"""The one small interface every provider plug-in implements, and the credential values they validate.

A provider knows its credential fields (validation and hints), how to build an SDK client, call a model, classify
an error and check a connection, and it declares its capabilities: inference profiles, regional credential sets,
session refresh, model and region choice, and its platform credentials. Nothing outside `byok/providers/` knows a
provider's details: it asks the provider. Providers import no models and no other part of byok.
"""

import re
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any, Callable

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.views.decorators.debug import sensitive_variables

from core.errors import DomainError

from . import transport
from .outcomes import CheckResult, Failure, check_timeout
from .translate import RequestInvalid

MAX_FIELD_LENGTH = 4096
TIERS = ("standard", "complex")  # every provider serves each tier with one of its models
EMBEDDING_TIER = "embedding"  # the family's default embedding model, where the family embeds


def endpoint(name: str) -> str | None:
    """A configured endpoint override (the simulator, a proxy), or None for the provider's real endpoint."""
    from django.conf import settings

    return settings.BYOK_ENDPOINTS.get(name)


@dataclass(frozen=True)
class EndpointOverride:
    """An endpoint a provider calls that a setting may point elsewhere, and where the bundled simulator serves it.
    Declared once on the plug-in: `make run`'s sandbox environment, the simulator's routes and `.env.example` follow."""

    setting: str  # the environment variable, e.g. BYOK_GROQ_BASE_URL
    simulator_path: str  # appended to the simulator's URL, e.g. /groq/v1 ("" for Bedrock's and STS's own paths)


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
    kind: str = "text"  # text | password | date | choice | textarea (a pasted file: multi-line, never echoed)
    choices: tuple[str, ...] = ()
    max_length: int = MAX_FIELD_LENGTH

    def describe(self) -> dict:
        return {
            "name": self.name,
            "label": self.label,
            "secret": self.secret,
            "required": self.required,
            "help": self.help,
            "kind": "password" if self.secret and self.kind == "text" else self.kind,
            "choices": list(self.choices),
        }


def hint(value: str, *, prefix: int = 4, suffix: int = 4) -> str:
    """`AKIA…7XQ2`: enough to recognise a credential, never enough to use it."""
    if len(value) <= prefix + suffix + 4:
        return "…" + value[-min(suffix, len(value) // 3):] if value else ""
    return f"{value[:prefix]}…{value[-suffix:]}"


class Credentials(Mapping):
    """Validated credential values of one provider. Immutable; its repr shows hints, never values."""

    __slots__ = ("provider", "_values")

    def __init__(self, provider: "Provider", values: Mapping[str, Any]):
        object.__setattr__(self, "provider", provider)
        object.__setattr__(self, "_values", dict(values))

    @property
    def provider_id(self) -> str:
        return self.provider.id

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
        try:
            key_hint = self.provider.hint(self)
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

    validate.pattern = regex  # documented in the API schema (byok/api/schema.py)
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
    region_hints: dict[str, str] = field(default_factory=dict)  # region -> hint of the set serving it, when not the main


@dataclass(frozen=True)
class InferenceProfile:
    """Where a provider may run a call (Bedrock's cross-region inference profiles): its regions and model ids."""

    id: str
    name: str
    purpose: str
    source_regions: tuple[str, ...]
    default_region: str

    def model_id(self, base_model: str) -> str:
        return f"{self.id}.{base_model}"

    def describe(self) -> dict:
        return {"id": self.id, "name": self.name, "purpose": self.purpose,
                "source_regions": list(self.source_regions), "default_region": self.default_region}


class CredentialType:
    """How long a credential lives; stored on the key (ProviderKey.CredentialType has the same values)."""

    LONG_TERM = "long_term"
    TEMPORARY = "temporary"
    API_KEY = "api_key"
    ROLE = "role"  # no secret of the owner's: byok assumes the owner's role with its own credentials
    ALL = (LONG_TERM, TEMPORARY, API_KEY, ROLE)


@dataclass(frozen=True)
class Call:
    """One data-plane call: the request in the API the caller spoke, for a provider model id.

    `api` is "chat" (OpenAI Chat Completions), "messages" (Anthropic Messages), "responses" (the OpenAI Responses
    API, for a provider that `speaks` it), "embeddings" (OpenAI Embeddings) or "count_tokens" (Anthropic's token
    counting); `body` is the caller's request in that API's format (the gateway has checked its shape, not its
    content); `model` replaces the body's model.
    """

    api: str
    body: dict
    model: str
    stream: bool
    betas: tuple[str, ...] = ()  # Anthropic beta flags the caller asked for (`anthropic-beta`), for Claude


PROBE = {"messages": [{"role": "user", "content": "Reply with OK."}], "max_tokens": 1}


# Region name prefixes (AWS, Google Cloud) -> the geography a key's data stays in; a region matching none is a
# geography of its own (its fallback stays in that very region).
_GEOGRAPHY_PREFIXES = (("eu-", "eu"), ("europe-", "eu"), ("us-", "us"), ("ap-", "apac"), ("asia-", "apac"),
                       ("australia-", "apac"))


def region_geography(region: str) -> str:
    """The geography of a region: eu, us, apac, the region itself, or "" for none or global (anywhere)."""
    if not region or region == "global":
        return ""
    return next((geography for prefix, geography in _GEOGRAPHY_PREFIXES if region.startswith(prefix)), region)


def geography_suffix(geography: str) -> str:
    """The suffix of a geography's platform variables: eu -> _EU (PLATFORM_AWS_ACCESS_KEY_ID_EU)."""
    return "_" + geography.upper().replace("-", "_")


@dataclass(frozen=True)
class PlatformCredentials:
    """The platform's own credentials for a provider, read from the environment (PLATFORM_* variables)."""

    values: Mapping[str, Any] = field(repr=False)
    configured: bool
    inference_profile: str = ""
    region: str = ""


@dataclass(frozen=True)
class RoleCaller:
    """Who assumes an owner's role: the platform's own credentials, the owner's external ID and a session name
    naming the owner. Built by byok (services/roles.py) for providers that `assumes_role`."""

    platform: PlatformCredentials = field(repr=False)
    external_id: str
    session_name: str


class InferenceProfileInvalid(CredentialsInvalid):
    pass


class Provider(ABC):
    """Base of every provider plug-in. Subclasses declare their fields, models and capabilities."""

    id: str
    name: str
    family: str
    credential_fields: tuple[CredentialField, ...]
    models: dict[str, str]  # tier -> base model id
    models_extra: tuple[str, ...] = ()  # further models a caller may name directly (Gemini on Vertex), no tier
    # The models it embeds text with (the catalog may add more); the first serves the embedding tier by default.
    # Empty: the family has no embeddings (a 400 that says so).
    embedding_models: tuple[str, ...] = ()
    docs_url: str = ""
    # Its `gen_ai.provider.name` in OpenTelemetry's GenAI semantic conventions (traces); "": the family's id.
    gen_ai_provider: str = ""
    hint_prefix = 6
    account_label = "Account"  # what a connection test's `account` names, in the provider's own words

    # The request APIs the provider serves as they are (passed through); the data plane translates the others.
    speaks: frozenset[str] = frozenset({"chat"})

    # The endpoints whose address a setting may override (every one the provider calls).
    endpoints: tuple[EndpointOverride, ...] = ()

    # Capabilities: the defaults describe a plain API-key provider.
    inference_profiles: Mapping[str, InferenceProfile] = {}  # none: a model id is the same everywhere
    default_inference_profile: str = ""
    regional_credential_fields: tuple[CredentialField, ...] = ()  # fields of one extra per-region set; none: no sets
    regions: tuple[str, ...] = ()  # where the provider runs, when the owner chooses
    # Keys that hold no secret, only a role byok assumes with its own credentials: session_refresh and check are
    # given a `caller` (RoleCaller), and the console shows the trust policy.
    assumes_role: bool = False

    # --- credentials ------------------------------------------------------------------------------------------

    @sensitive_variables()  # every local holds raw input: hidden from error reports
    def field_errors(
        self, raw: Mapping[str, Any], *, keep: Mapping[str, Any] | None = None, prefix: str = "credentials.",
        fields: tuple[CredentialField, ...] | None = None,
    ) -> tuple[dict, dict]:
        """Validate raw input field by field: (cleaned values, errors by `prefix` + field). `keep` fills blanks."""
        fields = self.credential_fields if fields is None else fields
        known = {f.name for f in fields}
        errors: dict[str, list[str]] = {
            prefix + name: ["Unknown field for this provider."] for name in raw if name not in known
        }
        cleaned: dict[str, Any] = {}
        for spec in fields:
            value = raw.get(spec.name)
            if value is not None and not isinstance(value, str):
                errors[prefix + spec.name] = ["Must be a string."]
                continue
            value = value or ""
            # Secrets and key ids: never altered silently. Dates, choices and pasted files (JSON, credential files):
            # surrounding spaces carry no meaning there.
            if value != value.strip() and spec.kind not in ("date", "choice", "textarea"):
                errors[prefix + spec.name] = [
                    f"{spec.label} has spaces or line breaks before or after it; remove them and paste it again."]
                continue
            value = value.strip()
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
    def clean(self, raw: Mapping[str, Any], *, keep: Credentials | None = None, inference_profile: str = "",
              regional_credentials: list | None = None) -> CleanedKey:
        """Validate everything a key is made of; raises CredentialsInvalid naming each field."""
        cleaned, errors = self.field_errors(raw, keep=keep)
        if regional_credentials:
            errors["regional_credentials"] = ["This provider has no regional credential sets."]
        if errors:
            raise CredentialsInvalid("Some credential fields are invalid.", fields=errors)
        credentials = Credentials(self, cleaned)
        return CleanedKey(
            credentials=credentials,
            key_hint=self.hint(credentials),
            credential_type=CredentialType.API_KEY,
            expires_at=expiry_datetime(cleaned.get("expires_at")),
        )

    def credentials(self, values: Mapping[str, Any]) -> Credentials:
        return Credentials(self, values)

    def hint(self, credentials: Mapping[str, Any]) -> str:
        return hint(credentials["api_key"], prefix=self.hint_prefix)

    @property
    def secret_field_names(self) -> frozenset[str]:
        return frozenset(f.name for f in self.credential_fields if f.secret)

    def values_kept_on_rotation(self, credentials: Mapping[str, Any]) -> dict:
        """What a rotation keeps from the old credentials: the non-secret fields (region, expiry), never a secret."""
        return {name: value for name, value in credentials.items() if name not in self.secret_field_names}

    def paste_preview(self, text: str) -> dict:
        """What a pasted credentials blob holds, masked; only providers with a `pasted` field accept one."""
        raise CredentialsInvalid("This provider takes no pasted credentials.",
                                 fields={"provider": [f"{self.name} keys are entered field by field."]})

    # --- capabilities ---------------------------------------------------------------------------------------

    def profile_for(self, requested: str) -> str:
        """The inference profile a key uses: the requested one (validated), the default, or "" without profiles."""
        if not self.inference_profiles:
            if requested:
                raise InferenceProfileInvalid("Only Bedrock keys have an inference profile.",
                                              fields={"inference_profile": ["Leave empty for this provider."]})
            return ""
        requested = requested or self.default_inference_profile
        if requested not in self.inference_profiles:
            raise InferenceProfileInvalid("Unknown inference profile.", fields={"inference_profile": [
                f"Unknown inference profile; choose one of: {', '.join(self.inference_profiles)}."]})
        return requested

    def model_for(self, tier: str, *, inference_profile: str = "", base: str | None = None) -> str:
        """The model id to call for a tier (`standard`, `complex`), under the profile's prefix where there is one.
        `base` is the catalog's current model for the tier; without it, the provider's code default. Embedding models
        run in the key's region under their own id (Bedrock has no inference profiles for them)."""
        if tier == EMBEDDING_TIER:
            if not (base or self.embedding_models):
                raise RequestInvalid(f"{self.name} offers no embedding model: name a family that embeds "
                                     "(GET /v1/models lists the embedding models this workspace can call).",
                                     param="model")
            return base or self.embedding_models[0]
        base = base or self.models[tier]
        return self.inference_profiles[inference_profile].model_id(base) if inference_profile else base

    def region_for(self, *, inference_profile: str, regions: tuple[str, ...] | list[str] = ()) -> str:
        """The region a key's calls go to ("" for providers without regions)."""
        return self.inference_profiles[inference_profile].default_region if inference_profile else ""

    def refreshes_session(self, credential_type: str) -> bool:
        """Whether keys of this type call models with short-lived sessions byok obtains and refreshes itself."""
        return False

    def session_refresh(self, credentials: Credentials, *, inference_profile: str, duration_seconds: int,
                        timeout: float) -> tuple[dict, datetime]:
        """A new session (values to merge into the credentials, expiry); raises a categorised `Failure`."""
        raise NotImplementedError(f"{self.name} keys have no sessions to refresh.")

    def with_session(self, credentials: Credentials, session: Mapping[str, Any]) -> Credentials:
        """The credentials to call models with while a session is valid; raises `SessionIncomplete` when the session
        lacks a part these credentials need (then it must be refreshed: never sign with what it should replace)."""
        return credentials

    def platform_credentials(self, env: Mapping[str, str]) -> PlatformCredentials:
        """The platform's own credentials for this provider, from the PLATFORM_* variables in `env`."""
        api_key = env.get(f"PLATFORM_{self.id.upper()}_API_KEY", "")
        return PlatformCredentials(values={"api_key": api_key}, configured=bool(api_key))

    # --- residency --------------------------------------------------------------------------------------------

    def geography(self, *, inference_profile: str, regions: tuple[str, ...] | list[str] = ()) -> str:
        """Where a key's calls run, which bounds where its fallback may run: eu, us, apac, a single region, or ""
        when the provider offers no choice or the key chose "anywhere" (a global location or profile)."""
        return region_geography(self.region_for(inference_profile=inference_profile, regions=regions))

    def platform_geography_defaults(self, geography: str) -> dict[str, str]:
        """Values a geography's platform set may leave out (Bedrock: the profile named like the geography)."""
        return {}

    def platform_set(self, env: Mapping[str, str], geography: str) -> PlatformCredentials:
        """The platform credentials of a geography's own variables (the default names with its suffix, e.g.
        PLATFORM_AWS_ACCESS_KEY_ID_EU), as they read: where they run is `platform_credentials_in`'s to check."""
        suffix = geography_suffix(geography)
        return self.platform_credentials({
            **self.platform_geography_defaults(geography),
            **{name.removesuffix(suffix): value for name, value in env.items() if name.endswith(suffix) and value}})

    def platform_credentials_in(self, env: Mapping[str, str], geography: str) -> PlatformCredentials:
        """The platform's credentials whose calls stay in `geography` ("": the default set, anywhere): the set of
        that geography's variables (the default names with its suffix, e.g. PLATFORM_AWS_ACCESS_KEY_ID_EU), else the
        default set when it runs there; else an unconfigured set (no fallback leaves the geography)."""
        default = self.platform_credentials(env)
        if not geography:
            return default
        for platform in (self.platform_set(env, geography), default):
            if platform.configured and self.geography(inference_profile=platform.inference_profile,
                                                      regions=(platform.region,)) == geography:
                return platform
        return PlatformCredentials(values={}, configured=False)

    def access_policy(self, inference_profile: str) -> dict | None:
        """The least-privilege policy an owner pastes into the provider's console, where the provider has one."""
        return None

    def trust_policy(self, *, platform_account_id: str, external_id: str) -> dict | None:
        """For providers that `assumes_role`: the trust policy the owner's role needs so byok may assume it."""
        return None

    # --- calls -------------------------------------------------------------------------------------------------

    @abstractmethod
    def async_client(self, credentials: Mapping[str, Any], *, region: str, timeout: float) -> Any:
        """A ready client for these credentials (its URL and signing; connections are the shared transport's),
        cached by the gateway per credential version."""

    async def acall(self, client: Any, call: Call) -> AsyncIterator[dict]:
        """Run the call; yield its output in `call.api`'s own format: one response dict, or (streaming) each
        chat.completion.chunk / Anthropic stream event, usage last. Provider errors propagate for `classify`;
        a request this provider cannot express raises `translate.RequestInvalid`."""
        raise NotImplementedError(f"{self.name} has no async calls.")
        yield {}  # pragma: no cover  (makes this an async generator)

    def probe(self, credentials: Mapping[str, Any], *, region: str, model: str) -> None:
        """One minimal call of `model` (one output token), made the way the data plane makes every call: what a
        connection test's model check proves. Provider errors propagate for `classify`."""
        async def call() -> None:
            client = self.async_client(credentials, region=region, timeout=check_timeout())
            async for _ in self.acall(client, Call(api="chat", body=PROBE, model=model, stream=False)):
                pass

        transport.run_sync(call())

    @abstractmethod
    def classify(self, exc: BaseException, *, model: str = "", **context) -> Failure:
        """A provider error as a categorised `Failure` with an actionable hint (re-raises anything else)."""

    @abstractmethod
    def check(self, credentials: Credentials, *, inference_profile: str = "",
              models: Mapping[str, str] | None = None) -> list[CheckResult]:
        """Every check of a connection test (identity, permissions, each tier model), run concurrently. `models`:
        tier -> base model id, the catalog's current ones (the code defaults when None)."""

    def describe(self) -> dict:
        data = {
            "id": self.id,
            "name": self.name,
            "family": self.family,
            "docs_url": self.docs_url,
            "credential_fields": [f.describe() for f in self.credential_fields],
            "models": self.models,
        }
        if self.models_extra:
            data["models_extra"] = list(self.models_extra)
        if self.embedding_models:
            data["embedding_models"] = list(self.embedding_models)
        if self.inference_profiles:
            data.update(inference_profiles=[p.describe() for p in self.inference_profiles.values()],
                        default_inference_profile=self.default_inference_profile, regions=list(self.regions))
        if self.regional_credential_fields:
            data["supports_regional_credentials"] = True
        return data


def expiry_datetime(value: str | None) -> datetime | None:
    return parse_datetime(value) if value else None
