"""Anthropic Messages <-> Bedrock InvokeModel / InvokeModelWithResponseStream (Claude's native body on Bedrock)."""

import base64

from core import wire_json

from .messages import MESSAGES_ON_BEDROCK, count_tokens_request, messages_request

BEDROCK_ANTHROPIC_VERSION = "bedrock-2023-05-31"


def messages_to_invoke(body: dict, *, betas: tuple[str, ...] = ()) -> dict:
    """The Messages request as Bedrock's InvokeModel body: no model (it is in the URL), no stream flag; the caller's
    beta flags in `anthropic_beta` (Bedrock's place for the `anthropic-beta` header)."""
    out = messages_request(body, MESSAGES_ON_BEDROCK, family="Bedrock")
    out["anthropic_version"] = BEDROCK_ANTHROPIC_VERSION
    if betas:
        out["anthropic_beta"] = list(betas)
    return out


def count_to_invoke(body: dict, *, betas: tuple[str, ...] = ()) -> dict:
    """A token-counting request as the InvokeModel body CountTokens wraps: InvokeModel requires max_tokens, which
    counts nothing; above a thinking budget, as Claude requires. Beta flags as in `messages_to_invoke`."""
    out = count_tokens_request(body, MESSAGES_ON_BEDROCK, family="Bedrock")
    budget = (out.get("thinking") or {}).get("budget_tokens")
    out.update(anthropic_version=BEDROCK_ANTHROPIC_VERSION, max_tokens=budget + 1 if isinstance(budget, int) else 1)
    if betas:
        out["anthropic_beta"] = list(betas)
    return out


def invoke_chunk_event(payload: dict) -> dict:
    """One `chunk` of InvokeModelWithResponseStream as the Anthropic event it carries (Bedrock's metrics dropped)."""
    event = wire_json.loads(base64.b64decode(payload["bytes"]))
    event.pop("amazon-bedrock-invocationMetrics", None)
    return event
