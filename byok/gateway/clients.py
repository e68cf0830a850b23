"""Ready clients for a resolution, cached in this process per credential version: the data plane's only client
cache. A client is small (the key's URL and authentication); its connections belong to the shared transport
(providers/transport.py). Every write of credentials re-encrypts them with a fresh IV, so new credentials (rotation,
a new session, even a new key that reuses a deleted key's id) always miss the cache and the old entry is dropped.
The cache is process-local on purpose: clients hold plaintext credentials, which never enter a shared cache.

A long-term Bedrock key whose STS session is missing or close to expiry has it refreshed first, in a worker thread
(services.sessions.session_ensure_fresh: once for all concurrent callers), inside the call's deadline; so is one the
provider finds incomplete when the client is built (a session stored before regional sets had their own).
"""

import asyncio
import threading
from collections import OrderedDict
from dataclasses import replace
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from core.errors import DomainError

from ..crypto import keyring
from ..models import ProviderKey
from ..providers.base import Credentials, Provider
from ..providers.outcomes import SessionIncomplete
from ..services.sessions import SESSION_SAFETY_MARGIN, session_ensure_fresh, session_renew_refused
from .dbthread import db
from .resolve import KeyState, Resolution, Source

MAX_CLIENTS = 1024  # per process; a client is a few small objects


class PlatformCredentialsMissing(DomainError):
    code = "platform_credentials_missing"
    status = 503


class ClientCache:
    """Built clients by `client_cache_key`, bounded (least recently used out). Storing a key's new credential
    version drops its older ones, so rotated or refreshed credentials never linger in memory."""

    def __init__(self, limit: int) -> None:
        self._clients: OrderedDict[tuple, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.limit = limit

    def get(self, cache_key: tuple) -> Any | None:
        with self._lock:
            client = self._clients.get(cache_key)
            if client is not None:
                self._clients.move_to_end(cache_key)
            return client

    def put(self, cache_key: tuple, client: Any) -> list:
        """Store `client`; answers the clients it replaced or evicted (the caller may close them)."""
        with self._lock:
            gone = [self._clients.pop(k) for k in list(self._clients)
                    if cache_key[0] == Source.BYOK and k[:2] == cache_key[:2] and k != cache_key]
            self._clients[cache_key] = client
            while len(self._clients) > self.limit:
                gone.append(self._clients.popitem(last=False)[1])
            return gone

    def clear(self) -> None:
        with self._lock:
            self._clients.clear()


_clients = ClientCache(MAX_CLIENTS)


async def client_for(resolution: Resolution) -> tuple[Provider, Any, Resolution]:
    """The provider, a ready client and the resolution it was built for (with a refreshed session)."""
    spec = resolution.provider_spec
    if resolution.source == Source.BYOK and resolution.key.refreshes_session and not _session_usable(resolution.key):
        resolution = await db(session_refreshed, resolution)
    cache_key = client_cache_key(resolution)
    client = _clients.get(cache_key)
    if client is not None:
        return spec, client, resolution
    try:
        credentials = _credentials(resolution)
    except SessionIncomplete:
        resolution = await db(session_replaced, resolution)
        cache_key = client_cache_key(resolution)
        credentials = _credentials(resolution)
    client = spec.async_client(credentials, region=resolution.region, timeout=settings.BYOK_LLM_TIMEOUT)
    for replaced in _clients.put(cache_key, client):
        _close_later(replaced)
    return spec, client, resolution


def _close_later(client: Any) -> None:
    """Close a replaced client once calls still using it have had time to finish."""
    close = getattr(client, "close", None) or getattr(client, "aclose", None)
    if close is None:
        return
    loop = asyncio.get_running_loop()
    loop.call_later(settings.BYOK_LLM_TIMEOUT + 5, lambda: loop.create_task(close()))


def drop_all() -> None:
    """Forget every client (a new event loop, e.g. a restarted server in tests, cannot use the old pools)."""
    _clients.clear()


def client_cache_key(resolution: Resolution) -> tuple:
    """What a cached client is built from: the key's ciphertexts (new credentials or a new session: a new client), or
    the platform's configured values (so changed platform settings are never served a stale client)."""
    if resolution.source == Source.BYOK:
        key = resolution.key
        return Source.BYOK, key.id, resolution.region, key.secret, key.session_secret
    platform = resolution.provider_spec.platform_credentials_in(settings.BYOK_PLATFORM_ENV, resolution.geography)
    return Source.PLATFORM, resolution.provider, resolution.region, tuple(sorted(platform.values.items()))


@sensitive_variables("platform")
def platform_credentials(resolution: Resolution) -> Credentials:
    spec = resolution.provider_spec
    platform = spec.platform_credentials_in(settings.BYOK_PLATFORM_ENV, resolution.geography)
    if not platform.configured and resolution.geography:
        raise PlatformCredentialsMissing(
            f"No platform credentials are configured in the {resolution.geography} geography, where the owner's key "
            f"{resolution.key.key_hint} keeps its calls, and that key cannot serve ({resolution.reason}): byok sends "
            f"no call outside the geography.", details={"geography": resolution.geography})
    if not platform.configured:
        raise PlatformCredentialsMissing(
            f"No platform credentials are configured for {resolution.provider}, and this workspace has no "
            f"usable key of its own ({resolution.reason})."
        )
    return spec.credentials(platform.values)


def session_refreshed(resolution: Resolution, *, replacing: str | None = None) -> Resolution:
    """The resolution with the key's session refreshed now (once for all concurrent callers) and read back."""
    key = resolution.key
    session_ensure_fresh(key_id=key.id, replacing=replacing)
    session_secret, expires_at = ProviderKey.objects.filter(pk=key.id).values_list(
        "session_secret", "session_token_expires_at").get()
    return replace(resolution, key=replace(key, session_secret=session_secret, session_token_expires_at=expires_at))


def session_renewed(resolution: Resolution) -> Resolution | None:
    """The provider refused the key's session (revoked, or forgotten by STS): a new one now, at most once per cool-down
    per key (services.sessions.session_renew_refused), read back; None when no new session is to be had, and the
    call falls back as usual."""
    key = resolution.key
    outcome = session_renew_refused(key_id=key.id, refused=key.session_secret)
    renewed = outcome.status == outcome.REFRESHED or (outcome.status == outcome.SKIPPED and outcome.reason == "fresh")
    if not renewed:
        return None
    session_secret, expires_at = ProviderKey.objects.filter(pk=key.id).values_list(
        "session_secret", "session_token_expires_at").get()
    return replace(resolution, key=replace(key, session_secret=session_secret, session_token_expires_at=expires_at))


def session_replaced(resolution: Resolution) -> Resolution:
    """The provider found the key's stored session incomplete (it predates a part the credentials now need): a fresh
    one, whole. Should it still be incomplete, building the credentials raises SessionIncomplete again: a Failure,
    and the call falls back."""
    return session_refreshed(resolution, replacing=resolution.key.session_secret)


def _session_usable(key: KeyState) -> bool:
    """A stored session that will outlive a call: one this close to expiry is never handed out."""
    return bool(key.session_secret and key.session_token_expires_at
                and key.session_token_expires_at > timezone.now() + SESSION_SAFETY_MARGIN)


@sensitive_variables("credentials")
def _credentials(resolution: Resolution) -> Credentials:
    if resolution.source == Source.PLATFORM:
        return platform_credentials(resolution)
    key = resolution.key
    spec = resolution.provider_spec
    credentials = spec.credentials(keyring().decrypt_json(key.secret))
    if key.refreshes_session:
        # Keys with sessions call models with them: the long-term secrets only talk to the session service (STS).
        if not _session_usable(key):
            raise SessionIncomplete("byok could not obtain a session for this key in time; retry shortly.")
        credentials = spec.with_session(credentials, keyring().decrypt_json(key.session_secret))
    return credentials
