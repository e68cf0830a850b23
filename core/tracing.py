"""OpenTelemetry traces, off by default (settings.BYOK_OTEL_ENABLED, see docs/operations.md).

Off, `tracer()` is the API's no-op tracer: a span is a shared non-recording object and instrumented code builds no
attributes (it asks `span.is_recording()` first). On, spans go in batches, off the request path, to an OTLP/HTTP
collector named by the standard OTEL_EXPORTER_OTLP_* variables, and Celery's instrumentation carries the trace
context in the message headers of every task published inside a span (the worker's task span is its child). The SDK
and the exporter are imported only when traces are on.
"""

import os

from django.conf import settings
from opentelemetry import trace

_tracer: trace.Tracer = trace.NoOpTracer()


def tracer() -> trace.Tracer:
    return _tracer


def tracing_on() -> bool:
    """Whether spans may record: callers build a new span's attributes only then."""
    return not isinstance(_tracer, trace.NoOpTracer)


def tracing_configure() -> None:
    """At process start (CoreConfig.ready): with traces on, spans go to the OTLP collector, through the process's
    global tracer provider too (for any library that traces through the API)."""
    if not settings.BYOK_OTEL_ENABLED:
        return
    provider = otlp_tracer_provider()
    trace.set_tracer_provider(provider)
    tracing_use(provider)


def otlp_tracer_provider():
    """A tracer provider sending spans in batches, off the request path, to the OTLP/HTTP collector that the
    OTEL_EXPORTER_OTLP_* variables name; the service is OTEL_SERVICE_NAME, "byok" by default."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME") or "byok"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


def tracing_use(provider) -> None:
    """byok's spans and Celery's go to `provider` (an SDK TracerProvider) from now on; None turns them off again.
    Tests pass a provider with an in-memory exporter."""
    global _tracer
    from opentelemetry.instrumentation.celery import CeleryInstrumentor

    celery = CeleryInstrumentor()
    if celery.is_instrumented_by_opentelemetry:
        celery.uninstrument()
    if provider is None:
        _tracer = trace.NoOpTracer()
        return
    _tracer = provider.get_tracer("byok")
    celery.instrument(tracer_provider=provider)
