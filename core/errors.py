from django.db import InterfaceError, OperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

# The database or the shared cache cannot be reached (refused, dropped, timed out): a 503 with Retry-After, not a
# 500 -- the request was fine and will succeed once the service is back.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)
SERVICE_OUTAGES = (*DATABASE_UNAVAILABLE, RedisConnectionError, RedisTimeoutError)


class DomainError(Exception):
    """A rule of the product was broken. Services raise these; the API and the admin map them once.

    `code` is stable and machine-readable; `status` is the HTTP status the API answers with; the message
    is written for a person and never contains a secret.
    """

    code = "domain_error"
    status = 400

    def __init__(self, message: str, *, fields: dict[str, list[str]] | None = None, details: dict | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        self.details = details or {}
