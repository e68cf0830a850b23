"""What every protocol module shares: the request as received, the response to send, call counters, answers."""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

from .accounts import Account, AccountRegistry

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
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> SimResponse:
    return SimResponse(
        status=status,
        body=json.dumps(payload, separators=(",", ":")).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
    )


class CallStats:
    """Counts every call that reached a provider route, by operation and by who made it.

    `principal` is the AWS access key id for SigV4 calls (not a secret, and what a test about "which keys called
    STS" needs), otherwise the account name; calls with unknown credentials count under "unknown".
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: Counter[tuple[str, str]] = Counter()
        self._by_account: Counter[tuple[str, str]] = Counter()
        self._statuses: Counter[tuple[str, int]] = Counter()

    def record(self, *, operation: str, principal: str, account: Account | None, status: int) -> None:
        with self._lock:
            self._calls[(operation, principal)] += 1
            self._by_account[(account.name if account else "unknown", operation)] += 1
            self._statuses[(operation, status)] += 1

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


@dataclass
class SimulatorState:
    """What request handlers need: the accounts and the counters."""

    accounts: AccountRegistry
    stats: CallStats = field(default_factory=CallStats)

    def simulate_latency(self, account: Account) -> None:
        # Sleeps only this request's thread: slow accounts never hold up other callers.
        if account.latency_ms > 0:
            time.sleep(account.latency_ms / 1000)


def count_tokens(text: str) -> int:
    """Roughly how providers count: about 1.3 tokens per word, at least one for non-empty text."""
    words = len(text.split())
    return math.ceil(words * 1.3) if words else 0


@dataclass(frozen=True)
class Answer:
    text: str
    input_tokens: int
    output_tokens: int
    truncated: bool  # stopped by the caller's max_tokens


def answer(*, provider: str, model: str, prompt: str, max_tokens: int | None) -> Answer:
    """A short deterministic reply: the same prompt to the same model always gets the same text and counts."""
    text = f"Simulated {provider} reply from {model}: I read {len(prompt.split())} words of your prompt."
    words = text.split()
    truncated = False
    if max_tokens is not None and count_tokens(text) > max_tokens:
        words = words[: max(1, int(max_tokens / 1.3))]
        truncated = True
    text = " ".join(words)
    return Answer(
        text=text, input_tokens=max(1, count_tokens(prompt)), output_tokens=count_tokens(text), truncated=truncated
    )


def text_of(content: Any) -> str:
    """The text in a message's content, whichever shape the protocol uses (string, or list of text blocks)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(text_of(block.get("text", "")) for block in content if isinstance(block, dict))
    return ""
