"""OpenTelemetry traces: one span per call and one per provider attempt, in the GenAI semantic conventions, linked to
the request id and to the Celery tasks the call queues; the OTLP exporter byok configures delivers them. No secret
in any attribute."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from byok import llm
from byok.gateway.catalog import Target
from byok.gateway.spans import call_span
from core.tracing import otlp_tracer_provider, tracer, tracing_use
from tests.byok.routing_helpers import MESSAGES, key_for, team, use_platform_account

pytestmark = pytest.mark.django_db(transaction=True)

CHAT = {"model": "openai/standard", "messages": MESSAGES, "max_tokens": 50}


@pytest.fixture
def spans():
    """Traces on for the test, into memory (as the OTLP exporter would send them)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing_use(provider)
    yield exporter
    tracing_use(None)
    provider.shutdown()


def network_failure_then_fallback(dataplane, sandbox, settings, request_id):
    """The owner's key gets no answer from its provider (the connection closes): the call falls back."""
    platform = use_platform_account(settings, sandbox, provider="openai")
    owner, workspace, member = team()
    account = sandbox.add_account("openai", behaviour="disconnect")
    key = key_for(owner, account, provider="openai")
    answer = dataplane.openai(member).chat.completions.with_raw_response.create(
        **CHAT, extra_headers={"X-Request-Id": request_id})
    assert answer.headers["x-byok-source"] == "platform"
    assert answer.headers["x-byok-fallback-reason"] == "network"
    return key, (account.api_key, platform.api_key)


def test_a_network_failure_then_fallback_is_one_call_span_over_two_attempt_spans(dataplane, sandbox, settings, spans):
    key, secrets = network_failure_then_fallback(dataplane, sandbox, settings, "req-traces-0001")

    finished = spans.get_finished_spans()
    call = next(s for s in finished if s.name == "chat openai/standard")
    attempts = sorted((s for s in finished if s.parent is not None and s.parent.span_id == call.context.span_id
                       and s.kind == SpanKind.CLIENT), key=lambda s: s.start_time)
    assert [a.attributes["byok.source"] for a in attempts] == ["byok", "platform"]
    failed, served = attempts

    assert call.attributes["byok.request_id"] == "req-traces-0001"
    assert call.attributes["gen_ai.operation.name"] == "chat"
    assert call.attributes["gen_ai.request.model"] == "openai/standard"
    assert call.attributes["gen_ai.provider.name"] == call.attributes["gen_ai.system"] == "openai"
    assert call.attributes["byok.source"] == "platform" and call.attributes["byok.fallback_reason"] == "network"
    assert call.attributes["gen_ai.response.model"] == served.attributes["gen_ai.request.model"]
    assert call.attributes["gen_ai.usage.input_tokens"] > 0 and call.attributes["gen_ai.usage.output_tokens"] > 0
    assert call.attributes["byok.cost_usd"] > 0
    assert call.status.status_code == StatusCode.UNSET

    assert failed.name == f"chat {failed.attributes['gen_ai.request.model']}"
    assert failed.attributes["byok.key_hint"] == key.key_hint
    assert failed.attributes["error.type"] == "network"
    assert failed.attributes["byok.request_id"] == "req-traces-0001"
    assert failed.status.status_code == StatusCode.ERROR
    assert served.attributes["byok.fallback_reason"] == "network" and served.attributes["byok.key_hint"] == ""
    assert served.status.status_code == StatusCode.UNSET

    for span in finished:
        for name, value in span.attributes.items():
            assert not any(secret in str(value) for secret in secrets), f"a secret in {span.name}'s {name}"


def test_a_task_queued_by_the_call_carries_its_trace(dataplane, sandbox, settings, spans):
    network_failure_then_fallback(dataplane, sandbox, settings, "req-traces-0002")  # audits the owner's incident

    finished = spans.get_finished_spans()
    call = next(s for s in finished if s.attributes.get("byok.request_id") == "req-traces-0002"
                and s.kind == SpanKind.INTERNAL)
    published = [s for s in finished if s.kind == SpanKind.PRODUCER and s.context.trace_id == call.context.trace_id]
    assert [s.name for s in published] == ["apply_async/audit.tasks.audit_event_process"]
    assert published[0].parent.span_id == call.context.span_id


class _Collector(BaseHTTPRequestHandler):
    received: list[bytes]

    def do_POST(self):
        self.received.append(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_the_otlp_exporter_sends_the_spans_to_the_collector_the_environment_names(dataplane, sandbox, settings,
                                                                                  monkeypatch):
    collector = ThreadingHTTPServer(("127.0.0.1", 0), type("Collector", (_Collector,), {"received": []}))
    threading.Thread(target=collector.serve_forever, daemon=True).start()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{collector.server_port}")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "byok-test")
    provider = otlp_tracer_provider()
    tracing_use(provider)
    try:
        network_failure_then_fallback(dataplane, sandbox, settings, "req-traces-0003")
    finally:
        tracing_use(None)
        provider.shutdown()  # flushes the batch
        collector.shutdown()

    exported = [ExportTraceServiceRequest.FromString(body) for body in collector.RequestHandlerClass.received]
    resources = [r for request in exported for r in request.resource_spans]
    services = {a.value.string_value for r in resources for a in r.resource.attributes if a.key == "service.name"}
    names = {s.name: s for r in resources for scope in r.scope_spans for s in scope.spans}
    call = names["chat openai/standard"]
    attributes = {a.key: a.value for a in call.attributes}
    assert services == {"byok-test"}
    assert attributes["byok.request_id"].string_value == "req-traces-0003"
    assert attributes["byok.fallback_reason"].string_value == "network"


def test_with_traces_off_a_span_is_the_shared_no_op():
    span = call_span("chat", {"model": "standard"}, Target(family=None, tier="standard"))
    assert not span.is_recording() and not span.get_span_context().is_valid


def test_a_call_made_in_process_is_a_child_of_its_callers_span(sandbox, settings, spans):
    """byok.llm (the sync bridge onto the data plane's loop) inside a span, as a traced task runs it."""
    owner, workspace, member = team()
    key = key_for(owner, sandbox.add_account("openai"), provider="openai")
    with tracer().start_as_current_span("a task") as task:
        result = llm.complete(user=member, workspace=workspace, messages=MESSAGES, provider="openai")
    assert result.source == "byok"

    call = next(s for s in spans.get_finished_spans() if s.name == "chat standard")
    assert call.parent.span_id == task.get_span_context().span_id
    assert call.attributes["byok.key_hint"] == key.key_hint and call.attributes["gen_ai.usage.output_tokens"] > 0
