"""What the benchmarks share: Django on a throwaway database, percentiles, a demo team with a key."""

import contextlib
import os
import statistics


def django_setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "byok_project.settings")
    import django

    django.setup()


@contextlib.contextmanager
def throwaway_database(name: str):
    """A migrated database created for the benchmark and destroyed after it (never real data).

    SQLite: a file under BYOK_VAR_DIR (like production, not in memory); PostgreSQL: test_<name of DATABASE_URL>.
    """
    from django.conf import settings
    from django.db import connection
    from django.test.utils import setup_databases, teardown_databases

    if connection.vendor == "sqlite":
        connection.settings_dict["TEST"]["NAME"] = str(settings.VAR_DIR / f"bench_{name}.sqlite3")
    databases = setup_databases(verbosity=0, interactive=False, aliases={"default"})
    try:
        yield connection.settings_dict["NAME"]
    finally:
        teardown_databases(databases, verbosity=0)


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50": statistics.median(ordered),
        "p90": ordered[int(len(ordered) * 0.90) - 1],
        "p99": ordered[int(len(ordered) * 0.99) - 1],
        "mean": statistics.fmean(ordered),
    }


def database_url() -> str:
    """The URL of the throwaway database, for processes the benchmark starts."""
    from django.db import connection

    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
