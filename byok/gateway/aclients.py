"""Ready async clients for a resolution, cached in this process per credential version (as clients.py does for the
sync SDK clients). A client is small: the key's URL and authentication; its connections belong to the data plane's
shared transport (providers/transport.py).

A long-term Bedrock key whose STS session is missing or close to expiry has it refreshed first, in a worker thread
(services.sessions.session_ensure_fresh: once for all concurrent callers), inside the call's deadline; so is one the
provider finds incomplete when the client is built (a session stored before regional sets had their own).
"""

import asyncio
from typing import Any

from django.conf import settings

from ..providers.base import Provider
from ..providers.outcomes import SessionIncomplete
from .clients import ClientCache, _credentials, _session_usable, client_cache_key, session_refreshed, session_replaced
from .dbthread import db
from .resolve import Resolution, Source

MAX_CLIENTS = 1024  # per process; a client is a few small objects (connections belong to the shared transport)

_clients = ClientCache(MAX_CLIENTS)


async def aclient_for(resolution: Resolution) -> tuple[Provider, Any, Resolution]:
    """The provider, a ready async client and the resolution it was built for (with a refreshed session)."""
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
