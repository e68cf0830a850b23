"""Extended thinking and beta flags, as Claude's Messages API has them on Anthropic, Bedrock and Vertex.

A thinking block carries a `signature` over its text that only this simulator can make; a request that hands a
thinking block back with a signature that does not verify is refused, as Claude refuses it. Reasoning items of the
OpenAI Responses API carry their `encrypted_content` the same way.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Any, get_args

from anthropic.types import AnthropicBetaParam

MIN_BUDGET_TOKENS = 1024
# The beta flags Anthropic's API knows: those the installed `anthropic` SDK lists (it is generated from the API).
ANTHROPIC_BETAS = frozenset(value for member in get_args(AnthropicBetaParam) for value in get_args(member))
# The subset Claude on Bedrock and on Vertex AI takes: model features, not Anthropic-platform services (files,
# batches, MCP connectors, skills, …), which only the Anthropic API serves.
PLATFORM_BETAS = ANTHROPIC_BETAS & frozenset({
    "computer-use-2024-10-22", "computer-use-2025-01-24", "computer-use-2025-11-24", "token-efficient-tools-2025-02-19",
    "interleaved-thinking-2025-05-14", "output-128k-2025-02-19", "dev-full-thinking-2025-05-14",
    "context-1m-2025-08-07", "context-management-2025-06-27", "fine-grained-tool-streaming-2025-05-14",
    "tool-search-tool-2025-10-19", "effort-2025-11-24", "structured-outputs-2025-11-13",
})


class Signer:
    """Signs thinking text (Claude's `signature`, OpenAI's `encrypted_content`) with a key of this server's own."""

    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)

    def sign(self, text: str) -> str:
        mac = hmac.new(self._key, text.encode(), hashlib.sha256).digest()
        return base64.b64encode(b"\x12\x08sim" + mac).decode()

    def verify(self, text: str, signature: Any) -> bool:
        return isinstance(signature, str) and hmac.compare_digest(signature.encode(), self.sign(text).encode())

    def seal(self, text: str) -> str:
        """An opaque token that carries `text` and proves it came from here (Responses API `encrypted_content`)."""
        return base64.b64encode(text.encode()).decode() + "." + self.sign(text)

    def unseal(self, token: Any) -> str | None:
        """The text sealed in `token`, or None when it was not made here or was changed."""
        if not isinstance(token, str) or "." not in token:
            return None
        encoded, _, signature = token.partition(".")
        try:
            text = base64.b64decode(encoded, validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            return None
        return text if self.verify(text, signature) else None


def thinking_text(model: str, words: int) -> str:
    """What the model "thinks" before answering: deterministic, like the answers."""
    return f"The user wrote {words} words; {model} considers them and plans a short, direct answer."


def parse_betas(values: Any) -> list[str]:
    """Beta flags from an `anthropic-beta` header (comma-separated) or an `anthropic_beta` body list."""
    if isinstance(values, str):
        values = values.split(",")
    if not isinstance(values, list):
        return []
    return [str(value).strip() for value in values if str(value).strip()]
