"""Prompt caching as the providers report it, per account and model, in memory, with a time to live.

- Explicit breakpoints (Anthropic `cache_control` on Anthropic, Bedrock InvokeModel and Vertex; Bedrock Converse
  `cachePoint` blocks): the prefix up to each breakpoint is cached. A call reads the longest cached prefix and writes
  the prefixes past it; a prefix shorter than `MIN_CACHEABLE_TOKENS` is never cached (and no error is raised), as the
  real APIs do. A hit refreshes the entry's time to live ("5m" default, or "1h").
- Automatic (OpenAI): a prompt of at least 1,024 tokens is cached in 128-token steps; a later prompt with the same
  beginning reads the longest cached step (`cached_tokens`). Entries live `AUTOMATIC_TTL_SECONDS` after their last use.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

MIN_CACHEABLE_TOKENS = 1024
AUTOMATIC_STEP_TOKENS = 128
AUTOMATIC_TTL_SECONDS = 5 * 60
TTL_SECONDS = {"5m": 5 * 60, "1h": 60 * 60}
TOKENS_PER_WORD = 1.3  # as `wire.count_tokens` counts


@dataclass(frozen=True)
class Segment:
    """One piece of a prompt in order (a tool, a system block, a content block): what identifies it, how many words
    it has, and the breakpoint's time to live when it ends a cached prefix ("5m", "1h"; None: no breakpoint)."""

    identity: str
    words: int
    ttl: str | None = None


@dataclass(frozen=True)
class CacheUsage:
    read: int = 0
    write_5m: int = 0
    write_1h: int = 0

    @property
    def write(self) -> int:
        return self.write_5m + self.write_1h


def _tokens(words: int) -> int:
    return math.ceil(words * TOKENS_PER_WORD) if words else 0


class PromptCache:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock  # tests move time forward by replacing it
        self._lock = threading.Lock()
        self._expiry: dict[tuple[str, str, str], float] = {}

    def _alive(self, key: tuple[str, str, str], now: float) -> bool:
        expiry = self._expiry.get(key)
        if expiry is None:
            return False
        if expiry <= now:
            del self._expiry[key]
            return False
        return True

    def use_breakpoints(self, *, account: str, model: str, segments: Iterable[Segment]) -> CacheUsage:
        """Read the longest cached prefix ending at a breakpoint, write the longer ones; the tokens of each."""
        digest = hashlib.sha256()
        words = 0
        breakpoints: list[tuple[str, int, str]] = []  # (prefix hash, prefix tokens, ttl)
        for segment in segments:
            digest.update(segment.identity.encode())
            digest.update(b"\0")
            words += segment.words
            if segment.ttl is not None and _tokens(words) >= MIN_CACHEABLE_TOKENS:
                breakpoints.append((digest.hexdigest(), _tokens(words), segment.ttl))
        if not breakpoints:
            return CacheUsage()
        now = self.clock()
        read, write = 0, {"5m": 0, "1h": 0}
        with self._lock:
            hit = max((i for i, (h, _, _) in enumerate(breakpoints) if self._alive((account, model, h), now)),
                      default=-1)
            if hit >= 0:
                prefix, read, ttl = breakpoints[hit]
                self._expiry[(account, model, prefix)] = now + TTL_SECONDS.get(ttl, TTL_SECONDS["5m"])
            covered = read
            for prefix, tokens, ttl in breakpoints[hit + 1 :]:
                ttl = ttl if ttl in TTL_SECONDS else "5m"
                write[ttl] += tokens - covered
                covered = tokens
                self._expiry[(account, model, prefix)] = now + TTL_SECONDS[ttl]
        return CacheUsage(read=read, write_5m=write["5m"], write_1h=write["1h"])

    def use_automatic(self, *, account: str, model: str, text: str) -> tuple[int, int]:
        """OpenAI's automatic caching: (cached tokens read, tokens newly written) for this prompt, which is cached
        for the next call."""
        words = text.split()
        total = _tokens(len(words))
        if total < MIN_CACHEABLE_TOKENS:
            return 0, 0
        steps = range(MIN_CACHEABLE_TOKENS, total + 1, AUTOMATIC_STEP_TOKENS)
        step_words = {int(step / TOKENS_PER_WORD): step for step in steps}
        digest = hashlib.sha256()
        prefixes: list[tuple[str, int]] = []
        for index, word in enumerate(words, start=1):
            digest.update(word.encode() + b" ")
            if index in step_words:
                prefixes.append((digest.hexdigest(), step_words[index]))
        now = self.clock()
        with self._lock:
            cached = max((tokens for prefix, tokens in prefixes if self._alive((account, model, prefix), now)),
                         default=0)
            for prefix, _ in prefixes:
                self._expiry[(account, model, prefix)] = now + AUTOMATIC_TTL_SECONDS
        written = max((tokens for _, tokens in prefixes), default=0) - cached
        return cached, max(0, written)
