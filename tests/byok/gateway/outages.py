"""Outages made real for tests: the database refuses new connections, as when its server is down."""

import socket
from contextlib import contextmanager

from django.db import connection


def closed_port() -> int:
    """A loopback port nothing listens on (connections to it are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def database_unreachable(tmp_path):
    """Every new connection fails (SQLite: the file cannot be opened; PostgreSQL: nothing listens on the port);
    connections already open keep working, as they would until the server drops them. Every thread's connection
    reads the same settings dict, so worker threads see it too."""
    settings_dict = connection.settings_dict
    saved = dict(settings_dict)
    if connection.vendor == "sqlite":
        settings_dict["NAME"] = str(tmp_path / "no-such-directory" / "db.sqlite3")
    else:
        settings_dict.update(HOST="127.0.0.1", PORT=str(closed_port()))
    try:
        yield
    finally:
        settings_dict.update(saved)
