"""A second process that authenticates workspace API keys as the data plane will: a warm in-process key cache, and
a background thread that polls `generation_changed("gateway")` every 100 ms.

Commands on stdin, one JSON line answered on stdout for each:
  auth <key>           authenticate_api_key (the database on a miss, then cached)
  cached <key>         cached_principal: from memory only (and how many database queries that took: none)
  until_refused <key>  call the key every 10 ms, from the cache while it answers, until it is refused; say how long
                       that took, counted from when the command arrived (give up after 5 s)
"""

import json
import os
import sys
import threading
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "byok_project.settings")
django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from byok.gateway.auth import NOT_CACHED, authenticate_api_key, cached_principal  # noqa: E402
from core.invalidation import generation_changed  # noqa: E402

POLL_EVERY = 0.1


def poll_forever():
    while True:
        try:
            generation_changed("gateway")
        except Exception as exc:  # keep polling, as the data plane does
            print(json.dumps({"poll_error": repr(exc)}), file=sys.stderr, flush=True)
        time.sleep(POLL_EVERY)


def describe(principal) -> dict:
    if principal is NOT_CACHED:
        return {"cached": False}
    return {"cached": True, "principal": None if principal is None else principal.workspace_slug}


def call(raw_key: str):
    """What the data plane does per request: the cache when it can answer, else the lookup (in a thread there)."""
    principal = cached_principal(raw_key)
    return authenticate_api_key(raw_key) if principal is NOT_CACHED else principal


generation_changed("gateway")  # the data plane checks once at start, then polls
threading.Thread(target=poll_forever, daemon=True).start()

for line in sys.stdin:
    command, raw_key = line.split()
    if command == "auth":
        principal = authenticate_api_key(raw_key)
        answer = {"principal": principal.workspace_slug if principal else None}
    elif command == "cached":
        with CaptureQueriesContext(connection) as queries:
            answer = describe(cached_principal(raw_key))
        answer["queries"] = len(queries)
    else:
        started = time.monotonic()
        while call(raw_key) is not None and time.monotonic() - started < 5:
            time.sleep(0.01)
        answer = {"refused": call(raw_key) is None, "seconds": time.monotonic() - started}
    print(json.dumps({"pid": os.getpid(), **answer}), flush=True)
