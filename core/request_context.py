"""Who and where a request came from, available to logging and the audit trail without passing it around."""

import ipaddress
import os
import re
from contextvars import ContextVar
from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class RequestContext:
    request_id: str
    ip: str | None = None
    user_agent: str = ""


_current: ContextVar[RequestContext | None] = ContextVar("byok_request_context", default=None)
_REQUEST_ID_SHAPE = re.compile(r"[A-Za-z0-9._-]{8,64}\Z")


def current_request_context() -> RequestContext | None:
    return _current.get()


def enter_request_context(context: RequestContext):
    """Make `context` current (a Celery task carrying its request's id); returns a token for `leave_request_context`."""
    return _current.set(context)


def leave_request_context(token) -> None:
    _current.reset(token)


def new_request_id() -> str:
    """128 random bits in hex, as uuid4().hex gave without building a UUID on every call."""
    return os.urandom(16).hex()


def request_id_from(incoming: str | None) -> str:
    """The request's id: the client's `X-Request-ID` when well formed (8–64 of A-Z a-z 0-9 . _ -), else a new one.
    Django's middleware and the data plane both ask this, so an id is echoed only if it is safe in any header."""
    return incoming if incoming and _REQUEST_ID_SHAPE.match(incoming) else new_request_id()


def client_ip(request) -> str | None:
    """The client's address of a Django request (see `client_address`)."""
    return client_address(request.META.get("REMOTE_ADDR") or None, request.META.get("HTTP_X_FORWARDED_FOR", ""))


def client_address(remote: str | None, forwarded_for: str) -> str | None:
    """The client's address: the peer's (`remote`), or behind BYOK_TRUSTED_PROXY_COUNT proxies of our own the address
    the outermost of them saw (that many entries from the right of X-Forwarded-For; entries further left are whatever
    the client chose to send and are never trusted). With too few entries, the peer's."""
    proxies = getattr(settings, "BYOK_TRUSTED_PROXY_COUNT", 0)
    if proxies <= 0:
        return remote
    chain = [part.strip() for part in forwarded_for.split(",") if part.strip()]
    if len(chain) < proxies:
        return remote
    candidate = chain[-proxies]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote


class RequestContextMiddleware:
    """Gives every request an id (or keeps a well-formed incoming `X-Request-ID`) and echoes it back."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = request_id_from(request.headers.get("X-Request-ID"))
        context = RequestContext(
            request_id=request_id,
            ip=client_ip(request),
            user_agent=request.headers.get("User-Agent", "")[:512],
        )
        request.request_id = request_id
        token = _current.set(context)
        try:
            response = self.get_response(request)
        finally:
            _current.reset(token)
        response["X-Request-ID"] = request_id
        return response
