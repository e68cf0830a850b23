"""What every protocol module shares: the request as received, the response to send, call counters, answers."""

from __future__ import annotations

import json
import logging
import math
import re
import threading
import time
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.message import Message
from typing import Any
from urllib.parse import unquote

from .accounts import Account, AccountRegistry
from .caching import CacheUsage, PromptCache
from .thinking import Signer

logger = logging.getLogger("byok.simulator")


@dataclass(frozen=True)
class SimRequest:
    method: str
    path: str  # raw (still percent-encoded) path, without the query string
    query: str  # raw query string, without "?"
    headers: Message
    body: bytes

    def json(self) -> Any:
        """The JSON body, or None when it is absent or not JSON (callers answer with their own 400)."""
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None


@dataclass
class SimResponse:
    """`stream`, when set, replaces `body`: its parts go out as HTTP/1.1 chunks, each flushed as it comes."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    stream: Iterable[bytes] | None = None
    log: dict[str, Any] = field(default_factory=dict)  # what the call log notes about this call; never sent


def cache_log(reply: Answer) -> dict[str, Any]:
    """The call log's note of a reply's prompt-cache tokens (only when the cache was used)."""
    cache = reply.cache
    if not (cache.read or cache.write):
        return {}
    return {"cache": {"read": cache.read, "write_5m": cache.write_5m, "write_1h": cache.write_1h}}


class InvalidRequest(Exception):
    """A request the provider refuses with a 400; each protocol module words it in its own error shape."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message, self.param = message, param


class StreamAborted(Exception):
    """Raised by a response stream to drop the connection without ending the body, as a crashed upstream does."""


class ConnectionDropped(Exception):
    """Raised while answering a request to close the connection without any answer, as a network failure between
    the caller and the provider does (behaviour "disconnect")."""


def drop_if_disconnected(account) -> None:
    """An account with behaviour "disconnect" gets no answer: its connection is closed."""
    if account.behaviour == "disconnect":
        raise ConnectionDropped


def sse_response(events: Iterable[bytes], headers: dict[str, str] | None = None, *, account: Account) -> SimResponse:
    return SimResponse(
        status=200,
        headers={"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache", **(headers or {})},
        stream=paced(account, events),
    )


def paced(account: Account, parts: Iterable[bytes]) -> Iterable[bytes]:
    """A stream's parts, each after the first `stream_interval_ms` after the one before (a model generating as it
    goes); all at once by default."""
    for position, part in enumerate(parts):
        if position and account.stream_interval_ms > 0:
            time.sleep(account.stream_interval_ms / 1000)
        yield part


def sse(data: Any, event: str | None = None) -> bytes:
    """One server-sent event: `event: …` (when named) and `data: <json>` (or the raw string), then a blank line."""
    line = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return (f"event: {event}\n" if event else "").encode() + f"data: {line}\n\n".encode()


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> SimResponse:
    return SimResponse(
        status=status,
        body=json.dumps(payload, separators=(",", ":")).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
    )


# How many calls the log keeps (the oldest go first): enough for any test, bounded for long benchmark runs.
CALL_LOG_SIZE = 10_000


class CallStats:
    """Counts every call that reached a provider route, by operation and by who made it, and logs each call.

    `principal` is the AWS access key id for SigV4 calls (not a secret, and what a test about "which keys called
    STS" needs), otherwise the account name; calls with unknown credentials count under "unknown". The log says, per
    call, which account, region (Bedrock: the SigV4 scope; Vertex: the location), endpoint and model it was, and
    what the call asked for that a test may check (`betas`, cache tokens).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: Counter[tuple[str, str]] = Counter()
        self._by_account: Counter[tuple[str, str]] = Counter()
        self._statuses: Counter[tuple[str, int]] = Counter()
        self._log: deque[dict[str, Any]] = deque(maxlen=CALL_LOG_SIZE)

    def record(
        self, *, operation: str, principal: str, account: Account | None, status: int, **details: Any
    ) -> None:
        """`details`: `endpoint` (the path, percent-decoded), `region`, `model` and anything else worth a test's
        reading."""
        if details.get("endpoint"):
            details["endpoint"] = unquote(details["endpoint"])
        entry = {"operation": operation, "account": account.name if account else "unknown", "principal": principal,
                 "status": status, **{key: value for key, value in details.items() if value not in (None, "", [])}}
        with self._lock:
            self._calls[(operation, principal)] += 1
            self._by_account[(account.name if account else "unknown", operation)] += 1
            self._statuses[(operation, status)] += 1
            self._log.append(entry)

    def log(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._log)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            calls: dict[str, dict[str, int]] = {}
            for (operation, principal), count in sorted(self._calls.items()):
                calls.setdefault(operation, {})[principal] = count
            by_account: dict[str, dict[str, int]] = {}
            for (name, operation), count in sorted(self._by_account.items()):
                by_account.setdefault(name, {})[operation] = count
            statuses: dict[str, dict[str, int]] = {}
            for (operation, status), count in sorted(self._statuses.items()):
                statuses.setdefault(operation, {})[str(status)] = count
            return {"calls": calls, "by_account": by_account, "statuses": statuses, "total": sum(self._calls.values())}

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()
            self._by_account.clear()
            self._statuses.clear()
            self._log.clear()


@dataclass
class SimulatorState:
    """What request handlers need: the accounts and the counters."""

    accounts: AccountRegistry
    stats: CallStats = field(default_factory=CallStats)
    tls: bool = False  # served over HTTPS (what URLs the server reports, e.g. the audience of Google's JWTs)
    prompt_cache: PromptCache = field(default_factory=PromptCache)
    signer: Signer = field(default_factory=Signer)  # thinking signatures, reasoning items' encrypted content
    # OpenAI Responses API (`store`): responses by id -> (account name, the conversation's items, the response),
    # and their items by id -> (account name, item)
    responses: dict[str, tuple[str, list[Any], dict[str, Any]]] = field(default_factory=dict)
    response_items: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)

    def simulate_latency(self, account: Account) -> None:
        # Sleeps only this request's thread: slow accounts never hold up other callers.
        if account.latency_ms > 0:
            time.sleep(account.latency_ms / 1000)


def count_tokens(text: str) -> int:
    """Roughly how providers count: about 1.3 tokens per word, at least one for non-empty text."""
    words = len(text.split())
    return math.ceil(words * 1.3) if words else 0


@dataclass(frozen=True)
class Tool:
    name: str
    description: str = ""
    schema: dict[str, Any] = field(default_factory=dict)  # JSON Schema of the tool's input


@dataclass(frozen=True)
class Prompt:
    """What a request asks, whichever protocol carried it; each protocol module builds one from its own body."""

    text: str  # every text the model reads (system, messages, tool results): what input tokens count
    last_user_text: str = ""
    images: int = 0
    tools: tuple[Tool, ...] = ()
    forced_tool: str | None = None  # None: the model chooses; "": it must call some tool; a name: that tool
    answers_tool_result: bool = False  # the last message hands back a tool's result


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: dict[str, Any]

    @property
    def arguments_json(self) -> str:
        return json.dumps(self.arguments, separators=(",", ":"))


@dataclass(frozen=True)
class Answer:
    text: str
    input_tokens: int
    output_tokens: int
    truncated: bool  # stopped by the caller's max_tokens
    tool_call: ToolCall | None = None  # set instead of text when the model calls a tool
    thinking: str | None = None  # what the model thought first (thinking / reasoning enabled); counted in output
    signature: str = ""  # the thinking's signature (Signer.sign)
    reasoning_tokens: int = 0
    cache: CacheUsage = CacheUsage()  # of input_tokens, how many were read from / written to the prompt cache

    @property
    def stop(self) -> str:
        """"tool_use", "max_tokens" or "end_turn"; each protocol maps it onto its own stop/finish reason."""
        if self.tool_call is not None:
            return "tool_use"
        return "max_tokens" if self.truncated else "end_turn"

    def pieces(self) -> list[str]:
        """What a stream sends, in order: the text word by word, or the tool call's JSON arguments in slices."""
        if self.tool_call is not None:
            arguments = self.tool_call.arguments_json
            return [arguments[i : i + 12] for i in range(0, len(arguments), 12)]
        return re.findall(r"\s*\S+", self.text)


# How many deltas a stream of a "mid_stream_failure" account sends before it fails.
STREAM_FAILURE_AFTER = 3


def streamed_pieces(account: Account, reply: Answer) -> tuple[list[str], bool]:
    """The pieces a stream sends, and whether it then fails instead of finishing (behaviour "mid_stream_failure")."""
    pieces = reply.pieces()
    if account.behaviour == "mid_stream_failure":
        return pieces[:STREAM_FAILURE_AFTER], True
    return pieces, False


def answer(*, provider: str, model: str, prompt: Prompt, max_tokens: int | None) -> Answer:
    """A short deterministic reply: the same prompt to the same model always gets the same text and counts.

    With tools offered, the model calls one when the caller forces it or the last user message mentions "weather",
    unless the conversation is handing back a tool's result (then it answers in text).
    """
    input_tokens = max(1, count_tokens(prompt.text))
    tool = _tool_to_call(prompt)
    if tool is not None:
        call = ToolCall(name=tool.name, arguments=sample_object(tool.schema))
        return Answer(
            text="",
            input_tokens=input_tokens,
            output_tokens=count_tokens(f"{call.name} {call.arguments_json}"),
            truncated=False,
            tool_call=call,
        )
    text = f"Simulated {provider} reply from {model}: I read {len(prompt.text.split())} words of your prompt."
    if prompt.images:
        text = text.removesuffix(".") + f" and I see {prompt.images} image{'s' if prompt.images > 1 else ''}."
    if prompt.answers_tool_result:
        text += " Thanks for the tool result."
    words = text.split()
    truncated = False
    if max_tokens is not None and count_tokens(text) > max_tokens:
        words = words[: max(1, int(max_tokens / 1.3))]
        truncated = True
    text = " ".join(words)
    return Answer(text=text, input_tokens=input_tokens, output_tokens=count_tokens(text), truncated=truncated)


def _tool_to_call(prompt: Prompt) -> Tool | None:
    if not prompt.tools or prompt.answers_tool_result:
        return None
    if prompt.forced_tool:
        return next((tool for tool in prompt.tools if tool.name == prompt.forced_tool), prompt.tools[0])
    if prompt.forced_tool is None and "weather" not in prompt.last_user_text.lower():
        return None
    about_weather = (tool for tool in prompt.tools if "weather" in f"{tool.name} {tool.description}".lower())
    return next(about_weather, prompt.tools[0])


_SAMPLE_VALUES = {"string": "Paris", "number": 21.5, "integer": 1, "boolean": True, "array": [], "object": {},
                  "null": None}


def sample_object(schema: dict[str, Any]) -> dict[str, Any]:
    """An object that fits a JSON schema (a tool's input, a JSON answer's): its required properties (or all), each
    with a sample value; nested objects are filled the same way."""
    properties = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(properties, dict):
        return {}
    required = schema.get("required") or list(properties)
    return {name: _sample_value(properties.get(name)) for name in required}


def _sample_value(spec: Any) -> Any:
    spec = spec if isinstance(spec, dict) else {}
    if spec.get("enum"):
        return spec["enum"][0]
    if "const" in spec:
        return spec["const"]
    if isinstance(spec.get("anyOf"), list) and spec["anyOf"]:
        return _sample_value(spec["anyOf"][0])
    kind = spec.get("type")
    if isinstance(kind, list):
        kind = next((item for item in kind if item != "null"), "null")
    if kind == "object" and isinstance(spec.get("properties"), dict):
        return sample_object(spec)
    if kind == "array" and spec.get("minItems"):
        return [_sample_value(spec.get("items"))] * int(spec["minItems"])
    return _SAMPLE_VALUES.get(kind, "Paris")


def text_of(content: Any) -> str:
    """The text in a message's content, whichever shape the protocol uses (string, or list of blocks); tool results
    (Anthropic `tool_result`, Converse `toolResult`) count as text the model reads."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(_block_text(block) for block in content if isinstance(block, dict))
    return ""


def _block_text(block: dict[str, Any]) -> str:
    if "text" in block:
        return text_of(block["text"])
    if block.get("type") == "tool_result":
        return text_of(block.get("content"))
    if isinstance(block.get("toolResult"), dict):
        return text_of(block["toolResult"].get("content"))
    return ""


def _is_image(block: Any) -> bool:
    # OpenAI: {"type": "image_url"}; Anthropic: {"type": "image"}; Converse: {"image": {...}}
    return isinstance(block, dict) and (block.get("type") in ("image", "image_url") or "image" in block)


def _is_tool_result(message: dict[str, Any]) -> bool:
    # OpenAI: a "tool" message; Anthropic and Converse: a user message with a tool_result / toolResult block.
    content = message.get("content")
    blocks = content if isinstance(content, list) else []
    return message.get("role") == "tool" or any(
        isinstance(block, dict) and (block.get("type") == "tool_result" or "toolResult" in block) for block in blocks
    )


def conversation_prompt(
    messages: list[Any], *, system: str = "", tools: tuple[Tool, ...] = (), forced_tool: str | None = None
) -> Prompt:
    """The Prompt of a list of chat messages (`role` + `content`), in any of the three protocols' shapes."""
    messages = [message for message in messages if isinstance(message, dict)]
    user_texts = [text_of(message.get("content")) for message in messages if message.get("role") == "user"]
    return Prompt(
        text=" ".join([system] * bool(system) + [text_of(message.get("content")) for message in messages]),
        last_user_text=user_texts[-1] if user_texts else "",
        images=sum(
            _is_image(block)
            for message in messages
            if isinstance(message.get("content"), list)
            for block in message["content"]
        ),
        tools=tools,
        forced_tool=forced_tool,
        answers_tool_result=bool(messages) and _is_tool_result(messages[-1]),
    )
