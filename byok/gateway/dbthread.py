"""Database work from the data plane's event loop: in a worker thread, with the thread's connection closed after,
so no connection is held while a provider call is in flight (and none by an idle thread).

`db_once` shares one such call between concurrent callers asking the same thing: when a cache drops under a
thousand calls in flight, one query per cache key refills it, not one per call.

`counters` is `db` for the limits' shared counters, used several times a second while calls flow. On the embedded
default (SQLite, the counters in its database cache) they run on a thread of their own that keeps its connection: a
SQLite connection is a file handle, not a server's slot, and opening one cost ~3 ms of every round, which calls in
flight felt."""

import asyncio
from concurrent.futures import ThreadPoolExecutor
from functools import partial, wraps

from asgiref.sync import sync_to_async
from django.db import connection

DB_THREADS = 8
_executor = ThreadPoolExecutor(max_workers=DB_THREADS, thread_name_prefix="byok-db")


def _closing(fn):
    @wraps(fn)
    def run(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        finally:
            connection.close()

    return run


async def db(fn, *args, **kwargs):
    """Run `fn(*args, **kwargs)` (sync, may query) in a worker thread and close that thread's connection after."""
    return await sync_to_async(_closing(partial(fn, *args, **kwargs)), thread_sensitive=False, executor=_executor)()


_counter_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="byok-counters")


async def counters(fn, *args):
    """`db`, for the limits' counters (see above)."""
    if connection.vendor != "sqlite":
        return await db(fn, *args)
    return await sync_to_async(partial(fn, *args), thread_sensitive=False, executor=_counter_thread)()


_flights: dict[tuple, asyncio.Future] = {}


async def db_once(key: tuple, fn, *args, **kwargs):
    """`db(fn, …)`, or the same call already in flight under `key` (its answer or its exception)."""
    flight = _flights.get(key)
    if flight is None or flight.get_loop() is not asyncio.get_running_loop():
        flight = _flights[key] = asyncio.ensure_future(db(fn, *args, **kwargs))
        flight.add_done_callback(lambda done: _flights.pop(key) if _flights.get(key) is done else None)
    # shield: a caller that gives up (its deadline, a disconnect) does not cancel the others' query
    return await asyncio.shield(flight)

