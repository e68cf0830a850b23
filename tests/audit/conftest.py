import json
import logging
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from byok.services.keys import provider_key_create
from tests.byok.keys_data import BEDROCK_AKIA
from tests.factories import BusinessUserFactory

CLOSED_PORT_BROKER = "redis://127.0.0.1:1/0"


class _Lines(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.INFO)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(record.getMessage())

    def events(self) -> list[dict]:
        return [json.loads(line) for line in self.lines]


@pytest.fixture
def audit_lines():
    """What the `byok.audit` sink shipped. A handler on that logger, so a worker's logging setup cannot remove it."""
    handler = _Lines()
    audit_logger = logging.getLogger("byok.audit")
    previous_level = audit_logger.level
    audit_logger.setLevel(logging.INFO)
    audit_logger.addHandler(handler)
    yield handler
    audit_logger.removeHandler(handler)
    audit_logger.setLevel(previous_level)


@contextmanager
def broker_unreachable():
    """Publishing goes to a closed port while a running worker keeps its own connection.

    Celery reads the CELERY_BROKER_URL environment variable before its conf (CI sets it), so redirect the *write*
    URL, which the conf controls, and drop the cached connection and producer pools built for the real broker.
    """
    from byok_project.celery import app

    def reset_pools():
        app._pool = None
        app.amqp._producer_pool = None

    app.conf.broker_write_url = CLOSED_PORT_BROKER
    reset_pools()
    try:
        yield
    finally:
        app.conf.broker_write_url = None
        reset_pools()


@pytest.fixture
def webhook(settings):
    """A local HTTP endpoint standing in for the customer's SIEM; `fail_with` makes it answer an error."""

    class Endpoint:
        received: list[tuple] = []
        fail_with: int | None = None

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if Endpoint.fail_with:
                self.send_response(Endpoint.fail_with)
            else:
                Endpoint.received.append((self.headers, body))  # case-insensitive, as HTTP headers are
                self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    Endpoint.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.BYOK_AUDIT_WEBHOOK_URL = f"http://127.0.0.1:{server.server_port}/audit"
    settings.BYOK_AUDIT_WEBHOOK_SECRET = "whsec-test-0123456789"
    yield Endpoint
    server.shutdown()
    server.server_close()


@pytest.fixture
def owner():
    return BusinessUserFactory()


@pytest.fixture
def bedrock_key(owner):
    return provider_key_create(owner=owner, provider="bedrock", name="Production", credentials=BEDROCK_AKIA,
                               skip_test=True)
