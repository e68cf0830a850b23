"""The call path's OpenTelemetry spans (off unless core.tracing turns traces on), in OpenTelemetry's GenAI semantic
conventions plus byok's own `byok.*` attributes:

- one per call, `{operation} {model asked}`: from `open_call` until the call's usage is recorded (a stream's end),
  every attempt inside it, as the conventions want a retried operation; the request id, what served it (source,
  provider, model, key hint, fallback reason), tokens and cost;
- one per provider attempt, `{operation} {model id}` (kind CLIENT): one provider call until its first output item
  or its failure (the category as `error.type`), with the credentials' source, provider, key hint and fallback
  reason.

With traces off every span is the API's shared no-op one and no attribute is built. Keys appear by their hint,
never otherwise, and no request or answer content is recorded.
"""

from contextlib import AbstractContextManager, nullcontext

from opentelemetry.trace import INVALID_SPAN, Span, SpanKind, Status, StatusCode, use_span

from core.request_context import current_request_context
from core.tracing import tracer, tracing_on

from ..catalog.pricing import TokenCounts, usage_cost
from ..providers.outcomes import Failure
from .catalog import Target
from .resolve import Resolution, Source

# The conventions' operation names for byok's APIs; an API without one keeps its own name (count_tokens).
OPERATIONS = {"chat": "chat", "messages": "chat", "responses": "chat", "embeddings": "embeddings"}


def call_span(api: str, body: dict, target: Target) -> Span:
    """The model asked is the name the caller sent, or the tier (the in-process API names no model)."""
    if not tracing_on():
        return INVALID_SPAN
    operation = OPERATIONS.get(api, api)
    asked = body.get("model") if isinstance(body.get("model"), str) else target.tier or target.base_model
    context = current_request_context()
    return tracer().start_span(f"{operation} {asked}", kind=SpanKind.INTERNAL, attributes={
        "gen_ai.operation.name": operation, "gen_ai.request.model": asked,
        "byok.request_id": context.request_id if context else ""})


_UNTRACED = nullcontext()


def as_current(span: Span) -> AbstractContextManager:
    """`span` made the current span (its attempts, and any task queued meanwhile, are its children); with traces off,
    nothing to do (OpenTelemetry would still swap the context for its no-op span on every call)."""
    if span is INVALID_SPAN:
        return _UNTRACED
    return use_span(span, record_exception=False, set_status_on_exception=False)


def attempt_span(resolution: Resolution, *, model: str, api: str, fallback_reason: str) -> Span:
    if not tracing_on():
        return INVALID_SPAN
    operation = OPERATIONS.get(api, api)
    context = current_request_context()
    return tracer().start_span(f"{operation} {model}", kind=SpanKind.CLIENT, attributes={
        **_credentials(resolution, fallback_reason), "gen_ai.operation.name": operation, "gen_ai.request.model": model,
        "byok.request_id": context.request_id if context else ""})


def attempt_failed(span: Span, failure: Failure) -> None:
    if span.is_recording():
        span.set_attributes({"error.type": failure.category, "byok.provider_code": failure.code})
        span.set_status(Status(StatusCode.ERROR, failure.category))
    span.end()


def call_served(span: Span, *, resolution: Resolution, model: str, fallback_reason: str,
                tokens: TokenCounts | None) -> None:
    """The call served (its usage known, or none for a free call): what served it, its tokens and cost."""
    if span.is_recording():
        attributes = {**_credentials(resolution, fallback_reason), "gen_ai.response.model": model}
        if tokens is not None:
            attributes.update({"gen_ai.usage.input_tokens": tokens.prompt, "gen_ai.usage.output_tokens": tokens.output})
            if tokens.cache_read:
                attributes["gen_ai.usage.cache_read.input_tokens"] = tokens.cache_read
            cost = usage_cost(provider=resolution.provider, model=model, tokens=tokens)
            if cost is not None:
                attributes["byok.cost_usd"] = float(cost)
        span.set_attributes(attributes)
    span.end()


def call_refused(span: Span, error: BaseException) -> None:
    """No credentials could serve the call (or it was refused before any): the error's code as `error.type`."""
    if span.is_recording():
        kind = getattr(error, "code", "") or type(error).__name__
        span.set_attribute("error.type", kind)
        span.set_status(Status(StatusCode.ERROR, kind))
    span.end()


def _credentials(resolution: Resolution, fallback_reason: str) -> dict:
    spec = resolution.provider_spec
    provider = spec.gen_ai_provider or spec.family
    # gen_ai.system is the conventions' older name of gen_ai.provider.name, still what many backends read.
    return {"gen_ai.provider.name": provider, "gen_ai.system": provider, "byok.provider": resolution.provider,
            "byok.source": str(resolution.source), "byok.fallback_reason": fallback_reason,
            "byok.key_hint": resolution.key_hint if resolution.source == Source.BYOK else ""}
