"""Prometheus metrics, scraped at /metrics with `Authorization: Bearer <BYOK_METRICS_TOKEN>`.

Counters and histograms are process-wide; under gunicorn (several worker processes) set PROMETHEUS_MULTIPROC_DIR
to an empty directory shared by the processes of one host (emptied at each start): every process then writes its
values there and a scrape adds them up. Gauges that describe shared state (the audit backlog) are computed at
scrape time by collectors the apps register (`register_scrape_collector`), never stored per process.
"""

import hmac
import os
from collections.abc import Callable, Iterable

from django.conf import settings
from django.http import Http404, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

CALLS = Counter("byok_llm_calls", "LLM calls by credential source, provider, model and outcome.",
                ["source", "provider", "model", "outcome"])
CALL_SECONDS = Histogram("byok_llm_call_seconds", "Provider call latency (seconds), by source and provider.",
                         ["source", "provider"],
                         buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120))
FALLBACKS = Counter("byok_fallbacks", "Calls served by platform credentials in place of an owner's key, by reason.",
                    ["reason"])
BREAKER = Counter("byok_breaker_transitions", "Circuit breaker transitions of owners' keys (open, close).",
                  ["transition"])
SESSION_REFRESHES = Counter("byok_session_refreshes", "STS session refreshes by outcome (ok, failed).", ["outcome"])
INVALIDATIONS = Counter("byok_cache_invalidations", "In-process cache invalidations (core.invalidation), by topic.",
                        ["topic"])
USAGE_DEAD_LETTERS = Counter("byok_usage_dead_letters", "Usage records that could not be written, parked in the "
                             "dead-letter table, by error class.", ["reason"])
LOGIN_LOCKOUTS = Counter("byok_login_lockouts", "Sign-in lockouts, by what was locked (account, address).",
                         ["locked"])


def record_call(*, source: str, provider: str, model: str, outcome: str, seconds: float,
                fallback_reason: str = "") -> None:
    """One provider call's result (`ok` or a failure category); a call on platform credentials in place of an
    owner's key also counts as a fallback for its reason. Nothing is counted while /metrics is off (no token): the
    labels lookups cost ~3 % of the data plane's CPU."""
    if not settings.BYOK_METRICS_TOKEN:
        return
    CALLS.labels(source=source, provider=provider, model=model or "-", outcome=outcome).inc()
    CALL_SECONDS.labels(source=source, provider=provider).observe(seconds)
    if fallback_reason:
        FALLBACKS.labels(reason=fallback_reason).inc()


# --- Gauges computed at scrape -------------------------------------------------------------------------------

_scrape_collectors: list[Callable[[], Iterable]] = []


def register_scrape_collector(collect: Callable[[], Iterable]) -> None:
    """`collect()` yields metric families (prometheus_client.core.*MetricFamily), computed when scraped."""
    _scrape_collectors.append(collect)


class _ScrapeCollector:
    def collect(self):
        for collect in _scrape_collectors:
            try:
                yield from collect()
            except Exception:  # a failing source (database down) must not fail the whole scrape
                yield GaugeMetricFamily("byok_scrape_collector_up", "0 when a scrape-time collector failed.", value=0)


def _registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        registry.register(_DefaultRegistry())
    registry.register(_ScrapeCollector())
    return registry


class _DefaultRegistry:
    """This process's metrics (the default registry), inside a per-scrape registry."""

    def collect(self):
        yield from REGISTRY.collect()


@never_cache
@require_GET
def metrics_view(request):
    """404 while BYOK_METRICS_TOKEN is unset (the endpoint does not exist); 401 without the right bearer token."""
    token = settings.BYOK_METRICS_TOKEN
    if not token:
        raise Http404
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        response = HttpResponse("Unauthorized\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)
