"""Database work from the data plane's event loop: in a worker thread, with the thread's connection closed after,
so no connection is held while a provider call is in flight (and none by an idle thread)."""

from concurrent.futures import ThreadPoolExecutor
from functools import partial, wraps

from asgiref.sync import sync_to_async
from django.db import close_old_connections, connection

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


__all__ = ["db", "close_old_connections"]
