"""Anthropic Messages requests, declared once: every field's type, and for each Claude family one rule per field
(the same rules as translate/chat.py). Messages requests pass through to Claude; a field a family's API does not
take is a 400 naming it, never dropped without a word."""

from collections.abc import Mapping
from typing import Any

from . import RequestInvalid
from .chat import (
    OWN,
    Check,
    Map,
    Refuse,
    Rule,
    array,
    boolean,
    declared,
    integer,
    non_empty_list,
    number,
    obj,
    positive_int,
    string,
    with_schema,
)


@with_schema({"type": ["string", "array"]})
def _system(value, name):
    if not isinstance(value, (str, list)):
        raise RequestInvalid(f"{name} must be a string or a list of text blocks.", param=name)
    return value


@with_schema({"type": "array", "items": {"type": "string"}})
def _strings(value, name):
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RequestInvalid(f"{name} must be a list of strings.", param=name)
    return value


MESSAGES_FIELDS: dict[str, Check] = {
    "model": string, "messages": non_empty_list, "max_tokens": positive_int, "system": _system, "stop_sequences": _strings,
    "stream": boolean, "temperature": number(0, 1), "top_p": number(0, 1), "top_k": integer(0, 1_000_000),
    "tools": array, "tool_choice": obj, "metadata": obj, "thinking": obj, "service_tier": string,
    "container": string, "mcp_servers": array, "context_management": obj, "output_format": obj,
}
# Token counting takes the Messages request without what only shapes the answer.
COUNT_TOKENS_FIELDS: dict[str, Check] = {name: MESSAGES_FIELDS[name] for name in (
    "model", "messages", "system", "tools", "tool_choice", "thinking", "mcp_servers", "context_management",
    "output_format")}
PASS = Map("")  # the field goes to the provider as it came

MESSAGES_ON_ANTHROPIC: dict[str, Rule] = {name: PASS for name in MESSAGES_FIELDS} | {"model": OWN, "stream": OWN}
_ANTHROPIC_API_ONLY = {
    "service_tier": Refuse("has no service tiers (the Anthropic API's priority tier)."),
    "container": Refuse("runs no code-execution containers."),
    "mcp_servers": Refuse("connects to no MCP servers (the Anthropic API's MCP connector)."),
    "metadata": Refuse("takes no request metadata."),
}
MESSAGES_ON_BEDROCK: dict[str, Rule] = MESSAGES_ON_ANTHROPIC | _ANTHROPIC_API_ONLY
MESSAGES_ON_VERTEX: dict[str, Rule] = MESSAGES_ON_ANTHROPIC | _ANTHROPIC_API_ONLY


def messages_request(body: Mapping[str, Any], rules: Mapping[str, Rule], *, family: str,
                     fields: Mapping[str, Check] = MESSAGES_FIELDS, api: str = "Messages") -> dict:
    """The Messages body for the family (without model and stream), every field checked against its rule."""
    declared(body, rules, family=family, fields=fields, api=api)
    return {name: value for name, value in body.items() if isinstance(rules[name], Map) and value is not None}


def count_tokens_request(body: Mapping[str, Any], rules: Mapping[str, Rule], *, family: str) -> dict:
    """A token-counting body for the family (without model), every field checked against its rule."""
    return messages_request(body, rules, family=family, fields=COUNT_TOKENS_FIELDS, api="token counting")
