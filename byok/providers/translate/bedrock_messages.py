"""Anthropic Messages <-> Bedrock InvokeModel / InvokeModelWithResponseStream (Claude's native body on Bedrock)."""

import base64
import json

from . import RequestInvalid

BEDROCK_ANTHROPIC_VERSION = "bedrock-2023-05-31"
_NOT_IN_BODY = ("model", "stream")


def messages_to_invoke(body: dict) -> dict:
    """The Messages request as Bedrock's InvokeModel body: no model (it is in the URL), no stream flag."""
    if not isinstance(body.get("messages"), list) or not body["messages"]:
        raise RequestInvalid("messages must be a non-empty list.", param="messages")
    if not isinstance(body.get("max_tokens"), int):
        raise RequestInvalid("max_tokens is required.", param="max_tokens")
    out = {name: value for name, value in body.items() if name not in _NOT_IN_BODY}
    out["anthropic_version"] = BEDROCK_ANTHROPIC_VERSION
    return out


def invoke_chunk_event(payload: dict) -> dict:
    """One `chunk` of InvokeModelWithResponseStream as the Anthropic event it carries (Bedrock's metrics dropped)."""
    event = json.loads(base64.b64decode(payload["bytes"]))
    event.pop("amazon-bedrock-invocationMetrics", None)
    return event
