"""Simulated provider accounts: their credentials, the models they may use and how they behave.

Everything the simulator does differently from one caller to the next comes from this data, so a test or a person
trying the product describes a situation ("an account without Opus", "a throttled key") instead of coding it.
"""

from __future__ import annotations

import dataclasses
import json
import re
import secrets
import string
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from byok.providers.openai_compat import OpenAICompatibleProvider
from byok.providers.registry import FAMILIES
from byok.providers.registry import PROVIDERS as BYOK_PROVIDERS

DEMO_ACCOUNTS_PATH = Path(__file__).with_name("demo_accounts.json")

AWS_PROVIDERS = frozenset({"bedrock"})
GOOGLE_PROVIDERS = frozenset({"vertex"})  # service-account key files: JWT-bearer token exchange, then OAuth2 tokens
OPENAI_COMPATIBLE = tuple(p.id for p in BYOK_PROVIDERS.values() if isinstance(p, OpenAICompatibleProvider))
BEARER_PROVIDERS = frozenset({"bedrock_api_key", "anthropic", *OPENAI_COMPATIBLE})
PROVIDERS = AWS_PROVIDERS | BEARER_PROVIDERS | GOOGLE_PROVIDERS
# "mid_stream_failure": non-streaming calls work; a stream sends a few deltas, then fails in the protocol's own way.
# "disabled" and "api_disabled" are Vertex's: a disabled service account, a project without the Vertex AI API.
# "disconnect": model calls get no answer, the connection is closed (a network failure).
BEHAVIOURS = frozenset({"ok", "expired", "throttled", "server_error", "unavailable", "mid_stream_failure",
                        "disabled", "api_disabled", "broken_body", "disconnect"})
# Where the demo service-account files send their token requests (`make run`'s simulator port); a server on
# another port hands out the files with its own URL (SimulatorServer.vertex_service_account_json).
DEFAULT_VERTEX_TOKEN_URI = "http://127.0.0.1:8100/vertex/token"

# Geographic / global cross-region inference profiles put one of these before the base model id.
BEDROCK_PROFILE_PREFIXES = ("global", "us", "us-gov", "eu", "apac", "jp", "au", "ca")

# Models the simulated providers know, whatever an account may use: a model outside this catalog (and outside every
# account's list) is "unknown" (400/404), one inside it but not in the account's list is "no access" (403).
# Every model byok's catalog names, plus a few more so model lists look like the real ones.
# Embedding models are the ones `embeddings.EMBEDDING_MODELS` sizes.
_EXTRA_MODELS = {
    "bedrock": ("anthropic.claude-haiku-4-5-20251001-v1:0", "anthropic.claude-sonnet-4-6", "anthropic.claude-opus-4-6-v1",
                "amazon.titan-embed-text-v2:0", "cohere.embed-english-v3", "cohere.embed-multilingual-v3",
                "cohere.embed-v4:0"),
    "anthropic": ("claude-haiku-4-5-20251001", "claude-sonnet-4-6", "claude-opus-4-6"),
    "openai": ("gpt-4.1", "gpt-4.1-mini", "gpt-4o", "text-embedding-3-small", "text-embedding-3-large",
               "text-embedding-ada-002"),
    "mistral": ("mistral-small-latest", "mistral-embed"),
    "xai": ("grok-3-mini",),
    "zai": ("embedding-3",),
    "groq": ("openai/gpt-oss-120b",),
    "vertex": ("claude-haiku-4-5@20251001", "gemini-2.5-flash-lite", "text-embedding-005", "gemini-embedding-001"),
}


def _current_models() -> dict[str, tuple[str, ...]]:
    """Family -> the models the installed packages list as served today (byok's catalog sources): what the real
    providers answer to now, so a current model id works against the simulator as it does against them."""
    from datetime import date

    from byok.catalog.sources import catalog_entries

    today = date.today()
    current: dict[str, list[str]] = {}
    for entry in catalog_entries(today=today):
        if entry["retires_on"] is None or entry["retires_on"] > today:
            current.setdefault(entry["family"], []).extend([entry["model_id"], *entry["aliases"]])
    return {family: tuple(models) for family, models in current.items()}


CURRENT_MODELS = _current_models()
MODEL_CATALOG: dict[str, tuple[str, ...]] = {
    family: tuple(dict.fromkeys(
        [m for p in BYOK_PROVIDERS.values() if p.family == family for m in (*p.models.values(), *p.models_extra)]
        + list(_EXTRA_MODELS.get(family, ())) + list(CURRENT_MODELS.get(family, ()))
    ))
    for family in FAMILIES
}
# Bedrock API keys call the same Bedrock models as SigV4 credentials.
MODEL_FAMILY = {p.id: p.family for p in BYOK_PROVIDERS.values()}

_ACCESS_KEY_ID = re.compile(r"^(AKIA|ASIA)[A-Z0-9]{16}$")
_ALPHANUMERIC_UPPER = string.ascii_uppercase + string.digits
_SECRET_ALPHABET = string.ascii_letters + string.digits + "/+"


class AccountsError(ValueError):
    """The accounts data is malformed; the message names the account and the field."""


def secret_hint(value: str) -> str:
    """What may appear in logs and stats instead of a secret: its first and last four characters."""
    if len(value) <= 12:
        return "…"
    return f"{value[:4]}…{value[-4:]}"


@dataclass(frozen=True)
class Role:
    """An IAM role in a simulated AWS account: who may assume it (one trusted account) and with which external ID."""

    name: str  # may carry a path: "service/byok-bedrock"
    trusted_account: str
    external_id: str = ""  # empty: no sts:ExternalId condition
    max_session_duration: int = 3600

    def arn(self, account_id: str) -> str:
        return f"arn:aws:iam::{account_id}:role/{self.name}"


@dataclass(frozen=True)
class Account:
    name: str
    provider: str
    models: tuple[str, ...]
    behaviour: str = "ok"
    latency_ms: int = 0
    stream_interval_ms: int = 0  # between a stream's parts (0: all at once)
    # AWS (provider "bedrock")
    account_id: str = "111122223333"
    user_name: str = ""
    access_key_id: str = ""
    secret_access_key: str = field(default="", repr=False)
    session_token: str = field(default="", repr=False)
    sts_get_session_token: bool = True
    # Bearer-key providers
    api_key: str = field(default="", repr=False)
    region: str = "us-east-1"
    # AWS: roles other accounts may assume (sts:AssumeRole); their sessions act for this account.
    roles: tuple[Role, ...] = ()

    def role_arns(self) -> dict[str, Role]:
        return {role.arn(self.account_id): role for role in self.roles}
    # Google (provider "vertex"): the service account; the simulator keeps its public key only to verify JWTs,
    # and the whole key file (`service_account`, with the private key) when an accounts file gives it, for people
    # to paste.
    project_id: str = ""
    client_email: str = ""
    private_key_id: str = ""
    public_key: str = field(default="", repr=False)
    service_account: dict[str, Any] = field(default_factory=dict, repr=False, hash=False, compare=False)

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{self.account_id}:user/{self.user_name or self.name}"

    @property
    def user_id(self) -> str:
        """A stable IAM unique id (AIDA…) derived from the access key, as GetCallerIdentity reports it."""
        return "AIDA" + self.access_key_id[4:].rjust(17, "X")[:17]

    def service_account_json(self, token_uri: str = DEFAULT_VERTEX_TOKEN_URI) -> str:
        """The account's service-account key file as pasted into byok, its token_uri pointing at a simulator."""
        if not self.service_account:
            raise ValueError(f"{self.name}: no service-account key file (only its public key) is known.")
        return json.dumps({**self.service_account, "token_uri": token_uri}, indent=2)

    def may_use(self, model: str) -> bool:
        return model in self.models


@dataclass(frozen=True)
class SessionCredentials:
    """Temporary credentials issued by GetSessionToken; they act for `account` until `expires_at`."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str = field(repr=False)
    expires_at: float
    account: Account
    role_arn: str = ""  # AssumeRole's sessions: the role and the session name they were issued for
    session_name: str = ""

    @property
    def expired(self) -> bool:
        return time.time() >= self.expires_at

    @property
    def assumed_role_arn(self) -> str:
        role_name = self.role_arn.rsplit("/", 1)[-1]
        return f"arn:aws:sts::{self.account.account_id}:assumed-role/{role_name}/{self.session_name}"


def bedrock_base_model_id(model_id: str) -> str:
    """`global.anthropic.claude…`, `us.anthropic.claude…`, an inference-profile ARN or the bare id → the bare id."""
    if model_id.startswith("arn:"):
        model_id = model_id.rsplit("/", 1)[-1]
    prefix, dot, rest = model_id.partition(".")
    if dot and prefix in BEDROCK_PROFILE_PREFIXES:
        return rest
    return model_id


def account_from_dict(data: dict[str, Any]) -> Account:
    name = str(data.get("name") or "")
    if not name:
        raise AccountsError(f"An account has no name: {sorted(data)}")
    provider = data.get("provider")
    if provider not in PROVIDERS:
        raise AccountsError(f"{name}: provider must be one of {sorted(PROVIDERS)} (got {provider!r}).")
    behaviour = data.get("behaviour", "ok")
    if behaviour not in BEHAVIOURS:
        raise AccountsError(f"{name}: behaviour must be one of {sorted(BEHAVIOURS)} (got {behaviour!r}).")
    models = data.get("models", [])
    if not isinstance(models, list) or not all(isinstance(model, str) for model in models):
        raise AccountsError(f"{name}: models must be a list of model ids.")
    if data.get("current_models"):  # also every model its family serves today (CURRENT_MODELS)
        models = list(dict.fromkeys([*models, *CURRENT_MODELS.get(MODEL_FAMILY[provider], ())]))
    roles = data.get("roles", [])
    if not isinstance(roles, list) or not all(isinstance(r, dict) and r.get("name") and r.get("trusted_account")
                                              for r in roles):
        raise AccountsError(f"{name}: roles must be a list of {{name, trusted_account, external_id}} objects.")
    google = _google_fields(name, data) if provider in GOOGLE_PROVIDERS else {}
    account = Account(
        name=name,
        roles=tuple(Role(name=str(r["name"]), trusted_account=str(r["trusted_account"]),
                         external_id=str(r.get("external_id", "")),
                         max_session_duration=int(r.get("max_session_duration", 3600))) for r in roles),
        provider=provider,
        models=tuple(bedrock_base_model_id(m) if provider in ("bedrock", "bedrock_api_key") else m for m in models),
        behaviour=behaviour,
        latency_ms=int(data.get("latency_ms", 0)),
        stream_interval_ms=int(data.get("stream_interval_ms", 0)),
        account_id=str(data.get("account_id", "111122223333")),
        user_name=str(data.get("user_name", "")),
        access_key_id=str(data.get("access_key_id", "")),
        secret_access_key=str(data.get("secret_access_key", "")),
        session_token=str(data.get("session_token", "")),
        sts_get_session_token=bool(data.get("sts_get_session_token", True)),
        api_key=str(data.get("api_key", "")),
        region=str(data.get("region", "us-east-1")),
        **google,
    )
    _validate_credentials(account)
    return account


def _validate_credentials(account: Account) -> None:
    if account.provider in AWS_PROVIDERS and account.roles and not account.access_key_id:
        return  # an account reached only through its roles
    if account.provider in AWS_PROVIDERS:
        if not _ACCESS_KEY_ID.match(account.access_key_id):
            raise AccountsError(f"{account.name}: access_key_id must be AKIA/ASIA + 16 upper-case alphanumerics.")
        if len(account.secret_access_key) != 40:
            raise AccountsError(f"{account.name}: secret_access_key must be exactly 40 characters.")
        if account.access_key_id.startswith("ASIA") != bool(account.session_token):
            raise AccountsError(f"{account.name}: an ASIA (temporary) key needs a session_token, an AKIA key none.")
    elif account.provider in GOOGLE_PROVIDERS:
        if not account.client_email.endswith(".iam.gserviceaccount.com") or not account.project_id:
            raise AccountsError(f"{account.name}: a vertex account needs client_email (….iam.gserviceaccount.com) "
                                "and project_id.")
    elif not account.api_key:
        raise AccountsError(f"{account.name}: provider {account.provider} needs an api_key.")


def _google_fields(name: str, data: dict[str, Any]) -> dict[str, Any]:
    """A vertex account from its whole key file (`service_account`) or from `client_email` + `public_key`."""
    from cryptography.hazmat.primitives import serialization

    info = data.get("service_account") or {}
    if not isinstance(info, dict):
        raise AccountsError(f"{name}: service_account must be the key file's JSON object.")
    public_key = str(data.get("public_key", ""))
    if info.get("private_key"):
        try:
            private = serialization.load_pem_private_key(str(info["private_key"]).encode(), password=None)
        except (ValueError, TypeError):
            raise AccountsError(f"{name}: service_account.private_key is not a PEM private key.") from None
        public_key = private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    try:
        serialization.load_pem_public_key(public_key.encode())
    except (ValueError, TypeError):
        raise AccountsError(f"{name}: a vertex account needs service_account (with private_key) or public_key "
                            "(PEM).") from None
    return {
        "project_id": str(info.get("project_id") or data.get("project_id") or ""),
        "client_email": str(info.get("client_email") or data.get("client_email") or ""),
        "private_key_id": str(info.get("private_key_id") or data.get("private_key_id") or ""),
        "public_key": public_key,
        "service_account": info,
    }


def new_service_account(*, project_id: str, account_name: str, token_uri: str = DEFAULT_VERTEX_TOKEN_URI) -> dict:
    """A complete service-account key file with a fresh RSA key, shaped like the ones Google issues."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    email = f"{account_name}@{project_id}.iam.gserviceaccount.com"
    return {
        "type": "service_account",
        "project_id": project_id,
        "private_key_id": secrets.token_hex(20),
        "private_key": pem,
        "client_email": email,
        "client_id": str(secrets.randbelow(10**21)).rjust(21, "1"),
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/" + email.replace("@", "%40"),
        "universe_domain": "googleapis.com",
    }


def accounts_from_json(data: dict[str, Any] | list[dict[str, Any]]) -> list[Account]:
    """Accept `{"accounts": [...]}` (the file format) or a bare list of account objects."""
    items = data.get("accounts") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise AccountsError('Expected {"accounts": [...]} or a list of accounts.')
    return [account_from_dict(item) for item in items]


def load_accounts(path: str | Path = DEMO_ACCOUNTS_PATH) -> list[Account]:
    with open(path, encoding="utf-8") as accounts_file:
        return accounts_from_json(json.load(accounts_file))


class AccountRegistry:
    """Thread-safe lookup of accounts by credential, plus the session credentials STS has issued."""

    def __init__(self, accounts: list[Account] = ()) -> None:
        self._lock = threading.Lock()
        self._by_name: dict[str, Account] = {}
        self._by_access_key: dict[str, Account] = {}
        self._by_api_key: dict[tuple[str, str], Account] = {}
        self._sessions: dict[str, SessionCredentials] = {}
        self._by_role_arn: dict[str, tuple[Account, Role]] = {}
        self._by_client_email: dict[str, Account] = {}
        self._access_tokens: dict[str, tuple[Account, float]] = {}  # Google OAuth2 tokens issued -> (account, expiry)
        self.add(accounts)

    def add(self, accounts: list[Account]) -> None:
        """Add accounts; one with an existing name replaces the old one (and its credentials)."""
        with self._lock:
            for account in accounts:
                previous = self._by_name.pop(account.name, None)
                if previous is not None:
                    self._by_access_key.pop(previous.access_key_id, None)
                    self._by_api_key.pop((previous.provider, previous.api_key), None)
                    for arn in previous.role_arns():
                        self._by_role_arn.pop(arn, None)
                    self._by_client_email.pop(previous.client_email, None)
                    self._access_tokens = {t: v for t, v in self._access_tokens.items() if v[0] is not previous}
                self._by_name[account.name] = account
                for arn, role in account.role_arns().items():
                    self._by_role_arn[arn] = (account, role)
                if account.client_email:
                    self._by_client_email[account.client_email] = account
                if account.access_key_id:
                    self._by_access_key[account.access_key_id] = account
                if account.api_key:
                    self._by_api_key[(account.provider, account.api_key)] = account

    def all(self) -> list[Account]:
        with self._lock:
            return list(self._by_name.values())

    def by_name(self, name: str) -> Account | None:
        with self._lock:
            return self._by_name.get(name)

    def by_access_key(self, access_key_id: str) -> Account | SessionCredentials | None:
        """An account by its key id, or session credentials acting for their account as it is now: like IAM, a
        change to the account (its models, its behaviour) applies to the sessions it issued, at once."""
        with self._lock:
            session = self._sessions.get(access_key_id)
            if session is None:
                return self._by_access_key.get(access_key_id)
            current = self._by_name.get(session.account.name)
            return dataclasses.replace(session, account=current) if current is not None else session

    def by_api_key(self, provider: str, api_key: str) -> Account | None:
        with self._lock:
            return self._by_api_key.get((provider, api_key))

    def by_client_email(self, client_email: str) -> Account | None:
        with self._lock:
            return self._by_client_email.get(client_email)

    def issue_access_token(self, account: Account, lifetime_seconds: int = 3599) -> str:
        token = "ya29.sim-" + secrets.token_urlsafe(48)
        with self._lock:
            self._access_tokens[token] = (account, time.time() + lifetime_seconds)
        return token

    def by_access_token(self, token: str) -> Account | None:
        with self._lock:
            found = self._access_tokens.get(token)
        return found[0] if found and found[1] > time.time() else None

    def knows_model(self, provider: str, model: str) -> bool:
        family = MODEL_FAMILY[provider]
        if model in MODEL_CATALOG[family]:
            return True
        with self._lock:
            return any(
                model in account.models
                for account in self._by_name.values()
                if MODEL_FAMILY[account.provider] == family
            )

    def by_role_arn(self, role_arn: str) -> tuple[Account, Role] | None:
        with self._lock:
            return self._by_role_arn.get(role_arn)

    def forget_sessions(self) -> int:
        """Forget every session issued (as a restarted simulator, or AWS revoking them, would); how many."""
        with self._lock:
            forgotten = len(self._sessions)
            self._sessions.clear()
        return forgotten

    def issue_session(self, account: Account, duration_seconds: int, *, role_arn: str = "",
                      session_name: str = "") -> SessionCredentials:
        session = SessionCredentials(
            role_arn=role_arn,
            session_name=session_name,
            access_key_id="ASIA" + "".join(secrets.choice(_ALPHANUMERIC_UPPER) for _ in range(16)),
            secret_access_key="".join(secrets.choice(_SECRET_ALPHABET) for _ in range(40)),
            session_token="IQoJb3JpZ2luX2VjE" + secrets.token_urlsafe(96),
            expires_at=time.time() + duration_seconds,
            account=account,
        )
        with self._lock:
            self._sessions[session.access_key_id] = session
        return session


def _random(alphabet: str, length: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def _new_api_key(provider: str) -> str:
    """A fresh key shaped like the provider's own, so format checks downstream accept it."""
    alphanumeric = string.ascii_letters + string.digits
    return {
        "bedrock_api_key": lambda: "ABSKQmVkcm9ja0FQSUtleS1" + _random(alphanumeric, 100),
        "anthropic": lambda: "sk-ant-api03-" + _random(alphanumeric, 93) + "AA",
        "openai": lambda: "sk-proj-" + _random(alphanumeric, 156),
        "mistral": lambda: _random(alphanumeric, 32),
        "deepseek": lambda: "sk-" + secrets.token_hex(16),
        "xai": lambda: "xai-" + _random(alphanumeric, 80),
        "zai": lambda: secrets.token_hex(16) + "." + _random(alphanumeric, 16),
        "groq": lambda: "gsk_" + _random(alphanumeric, 52),
    }[provider]()


def new_account(provider: str, *, name: str | None = None, **fields: Any) -> Account:
    """An account with freshly generated, valid-looking credentials; `fields` override any attribute.

    Defaults: behaviour "ok", every catalogued model of the provider. For tests and benchmarks that need their own
    account (and so their own counters) rather than a shared demo one.
    """
    data: dict[str, Any] = {
        "name": name or f"{provider}-{secrets.token_hex(4)}",
        "provider": provider,
        "models": list(MODEL_CATALOG[MODEL_FAMILY[provider]]),
    }
    if provider in AWS_PROVIDERS:
        temporary = "session_token" in fields
        data["access_key_id"] = ("ASIA" if temporary else "AKIA") + _random(_ALPHANUMERIC_UPPER, 16)
        data["secret_access_key"] = _random(_SECRET_ALPHABET, 40)
    elif provider in GOOGLE_PROVIDERS:
        data["service_account"] = new_service_account(
            project_id=str(fields.pop("project_id", f"byok-sim-{secrets.token_hex(4)}")),
            account_name=f"byok-{secrets.token_hex(3)}")
    else:
        data["api_key"] = _new_api_key(provider)
    data.update(fields)
    return account_from_dict(data)
