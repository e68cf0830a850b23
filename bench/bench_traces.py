"""What traces add to a call, in process: the span work of the call path (byok.gateway.spans, as open_call, _attempt
and Served.record run it) for a call served at once (one attempt) and for one that falls back (two), with traces off
(the default: the API's no-op tracer) and on (the SDK behind its batch processor, exporting over OTLP/HTTP to a
collector on loopback, as in production; and with an exporter that discards, for the request path's share alone).

Calls are paced at BENCH_TRACES_RATE a second, as a busy worker's are (between calls the event loop waits on
providers, and the exporter's thread runs). Per call: wall time p50/p99, and the process's CPU time (the exporter's
thread included)."""

import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from bench._support import django_setup, percentiles, throwaway_database

CALLS = int(os.environ.get("BENCH_TRACES_CALLS", 10_000))
RATE = int(os.environ.get("BENCH_TRACES_RATE", 2_000))


def main() -> None:
    django_setup()
    from django.conf import settings

    with throwaway_database("traces"), collector() as endpoint:
        byok, platform = _resolutions()
        os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint
        assert not settings.BYOK_OTEL_ENABLED, "run with traces off (no OTEL_EXPORTER_OTLP_ENDPOINT set)"
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

        from core.tracing import otlp_tracer_provider, tracing_use

        class Discard(SpanExporter):
            def export(self, spans):
                return SpanExportResult.SUCCESS

        discarding = TracerProvider()
        discarding.add_span_processor(BatchSpanProcessor(Discard()))
        providers = {"off": None, "on, discarded": discarding, "on, OTLP/HTTP": otlp_tracer_provider()}
        for label in [*providers, *providers]:  # twice, interleaved: drift shows
            tracing_use(providers[label])
            for attempts in (1, 2):
                cpu = time.process_time()
                samples = _calls(byok, platform, attempts)
                cpu_us = (time.process_time() - cpu) / len(samples) * 1e6
                figures = percentiles(samples)
                print(f"traces {label:<14} {attempts} attempt{'s' if attempts > 1 else ' '}: p50 {figures['p50']:6.1f} µs, "
                      f"p99 {figures['p99']:6.1f} µs; CPU {cpu_us:6.1f} µs a call, over {len(samples):,} calls",
                      flush=True)
        tracing_use(None)
        for provider in providers.values():
            if provider is not None:
                provider.shutdown()


def _calls(byok, platform, attempts: int) -> list[float]:
    from opentelemetry.trace import use_span

    from byok.catalog.pricing import TokenCounts
    from byok.gateway.catalog import Target
    from byok.gateway.spans import attempt_failed, attempt_span, call_served, call_span
    from byok.providers.outcomes import Category, Failure
    from core.request_context import RequestContext, enter_request_context, leave_request_context

    failure = Failure(Category.NETWORK, "Could not reach OpenAI.", code="TransportFailed")
    tokens = TokenCounts(input=120, output=380)
    model = byok.model_for("standard")
    body, target = {"model": "openai/standard", "messages": []}, Target(family="openai", tier="standard")
    samples = []
    next_call = time.perf_counter()
    for index in range(CALLS + 1_000):  # the first 1,000 warm up
        next_call += 1 / RATE
        time.sleep(max(0.0, next_call - time.perf_counter()))
        context = enter_request_context(RequestContext(request_id=f"bench-{index:08}"))
        started = time.perf_counter()
        span = call_span("chat", body, target)
        with use_span(span, record_exception=False, set_status_on_exception=False):
            attempt = attempt_span(byok, model=model, api="chat", fallback_reason="")
            if attempts == 2:
                attempt_failed(attempt, failure)
                attempt = attempt_span(platform, model=model, api="chat", fallback_reason="network")
            attempt.end()
        served_by = byok if attempts == 1 else platform
        call_served(span, resolution=served_by, model=model, fallback_reason="" if attempts == 1 else "network",
                    tokens=tokens)
        elapsed = time.perf_counter() - started
        leave_request_context(context)
        if index >= 1_000:
            samples.append(elapsed * 1e6)
    return samples


def _resolutions():
    from accounts.models import User
    from accounts.services import membership_add, workspace_create
    from byok.gateway.resolve import credentials_resolve, platform_resolution
    from byok.services.keys import provider_key_create

    owner = User.objects.create(username="bench-owner", plan_id="business")
    member = User.objects.create(username="bench-member")
    workspace = workspace_create(owner=owner, name="Bench")
    membership_add(workspace=workspace, user=member, actor=owner)
    provider_key_create(owner=owner, provider="openai", name="main", skip_test=True,
                        credentials={"api_key": "sk-proj-" + "b" * 48})
    byok = credentials_resolve(user=member, workspace_slug=workspace.slug, family="openai")
    assert byok.source == "byok", byok
    return byok, platform_resolution(byok, reason="network", key=byok.key)


class _Sink(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


class collector:
    """An OTLP/HTTP collector on loopback that takes every batch and keeps nothing."""

    def __enter__(self) -> str:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_port}"

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
