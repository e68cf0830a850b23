"""What the Anthropic and OpenAI-compatible APIs share: what their errors mean (as the transport raises them) and
their model-list checks."""

from dataclasses import replace

from . import transport
from .outcomes import Category, CheckResult, Failure

_HINTS = {
    Category.INVALID_CREDENTIALS: "{name} rejected this API key: copy it again from {console} (keys are shown once).",
    Category.EXPIRED: "This {name} API key has expired or was revoked: create a new one in {console}.",
    Category.PERMISSION_DENIED: "This {name} key is not allowed to use the API: check its project or workspace "
    "permissions in {console}.",
    Category.MODEL_ACCESS: "This {name} key cannot use {model}: enable the model for its project or organisation "
    "in {console}.",
    Category.RATE_LIMITED: "{name} is rate-limiting this key (or its credit is exhausted): retry later, or raise "
    "the limits in {console}.",
    Category.PROVIDER_UNAVAILABLE: "{name} answered with a server error; this is usually temporary: retry shortly.",
    Category.TIMEOUT: "{name} did not answer in time. Retry; if it persists, check {name}'s status page.",
    Category.NETWORK: "Could not reach {name}. Check the network path to its API.",
    Category.BAD_REQUEST: "{name} rejected the request as invalid ({code}).",
}


def hint(category: str, *, name: str, console: str, model: str = "", code: str = "") -> str:
    return _HINTS[category].format(name=name, console=console, model=model or "this model", code=code)


def classify(exc: BaseException, *, name: str, console: str, model: str = "") -> Failure:
    """Map a transport error to a category (anything else is re-raised: a bug, not a provider's answer)."""
    if isinstance(exc, transport.HttpStatusError):
        error = exc.json().get("error")
        kind = error.get("type") if isinstance(error, dict) else None
        failure = _status_failure(exc.status, exc.body.decode(errors="replace"), code=kind or f"http_{exc.status}",
                                  name=name, console=console, model=model)
        reason = error.get("message") if isinstance(error, dict) else None
        return with_reason(failure, reason, name=name)
    if isinstance(exc, TimeoutError):
        category = Category.TIMEOUT
    elif isinstance(exc, transport.TransportFailed):
        category = Category.NETWORK
    else:
        raise exc
    code = type(exc).__name__
    return Failure(category, hint(category, name=name, console=console, model=model, code=code), code=code)


REASON_LIMIT = 300  # characters of a provider's own words kept in a bad request's hint


def with_reason(failure: Failure, reason, *, name: str) -> Failure:
    """A bad request's hint ends with the provider's own words (which field, which beta): the caller's request is
    what they are about, so the caller may read them; other failures keep byok's words only."""
    if failure.category != Category.BAD_REQUEST or not isinstance(reason, str) or not reason:
        return failure
    return replace(failure, hint=f"{failure.hint} {name} says: {reason[:REASON_LIMIT]}")


def _status_failure(status: int, body: str, *, code: str, name: str, console: str, model: str) -> Failure:
    """What an error status means, as the SDKs read it (401 authentication, 403 permission, 404 not found, 429 rate
    limit, 5xx server error, any other status a bad request)."""
    if status == 401:
        text = body.lower()
        category = Category.EXPIRED if "expired" in text or "revoked" in text else Category.INVALID_CREDENTIALS
    else:
        category = {403: Category.PERMISSION_DENIED, 404: Category.MODEL_ACCESS,
                    429: Category.RATE_LIMITED}.get(status, Category.PROVIDER_UNAVAILABLE if status >= 500
                                                    else Category.BAD_REQUEST)
    return Failure(category, hint(category, name=name, console=console, model=model, code=code), code=code,
                   status=status)


def model_list_checks(list_ids, *, models: dict[str, str], name: str, console: str, classify) -> list[CheckResult]:
    """`GET /v1/models` (unbilled) once, then whether each model byok needs is in the list. `list_ids()` is a
    coroutine function: the listing goes through the transport, as calls do."""
    listing = CheckResult.from_call("models:list", lambda: {"models": sorted(transport.run_sync(list_ids()))},
                                    target="GET /v1/models", classify=classify)
    if not listing.ok:
        return [listing]
    available = set(listing.detail["models"])
    return [listing] + [
        CheckResult(name=f"model:{tier}", ok=True, target=model) if model in available else
        CheckResult(name=f"model:{tier}", ok=False, target=model, category=Category.MODEL_ACCESS,
                    hint=hint(Category.MODEL_ACCESS, name=name, console=console, model=model))
        for tier, model in models.items()
    ]


_ERROR_CATEGORIES = {"overloaded_error": Category.PROVIDER_UNAVAILABLE, "api_error": Category.PROVIDER_UNAVAILABLE,
                     "rate_limit_error": Category.RATE_LIMITED, "authentication_error": Category.INVALID_CREDENTIALS,
                     "permission_error": Category.PERMISSION_DENIED, "not_found_error": Category.MODEL_ACCESS,
                     "timeout_error": Category.TIMEOUT}


def stream_error(error, *, name: str, console: str) -> Failure:
    """An error event inside a stream (Anthropic's `event: error`, OpenAI's `{"error": …}` chunk) as a Failure."""
    kind = error.get("type", "") if isinstance(error, dict) else ""
    category = _ERROR_CATEGORIES.get(kind, Category.PROVIDER_UNAVAILABLE)
    return Failure(category, hint(category, name=name, console=console, code=kind), code=kind or "stream_error")
