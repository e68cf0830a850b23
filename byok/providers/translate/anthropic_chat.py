"""OpenAI Chat Completions <-> Anthropic Messages (the Anthropic API, Claude on Vertex)."""

import base64
import json

from . import RequestInvalid
from .chat import (
    COMMON_RULES,
    OWN,
    Drop,
    Map,
    Part,
    Rule,
    declared,
    json_answer_of,
    max_tokens_of,
    number,
    stops_of,
    tool_choice_of,
    tools_of,
    walk,
    JSON_TOOL,
    JSON_TOOL_DESCRIPTION,
    json_answer_choice,
)
from .common import StreamToChat, chat_completion, finish_reason, merge_turns, messages_usage


DEFAULT_MAX_TOKENS = 4096  # Claude needs a limit; OpenAI callers often send none

# reasoning_effort as Claude's extended thinking budget (LiteLLM's mapping; minimal and xhigh at its ends).
THINKING_BUDGETS = {"minimal": 1024, "low": 1024, "medium": 2048, "high": 4096, "xhigh": 8192}


def thinking_of(effort: str) -> dict:
    """Claude's `thinking` setting for a reasoning_effort (Messages and Converse take the same object)."""
    if effort == "none":
        return {"type": "disabled"}
    return {"type": "enabled", "budget_tokens": THINKING_BUDGETS[effort]}


# Chat Completions -> Messages, field by field (docs/providers.md lists the drops and refusals).
CHAT_TO_MESSAGES: dict[str, Rule] = {
    **COMMON_RULES,
    "max_tokens": OWN, "max_completion_tokens": OWN, "parallel_tool_calls": OWN,
    "temperature": Map("temperature", check=number(0, 1)),
    "top_p": Map("top_p"),
    "stop": Map("stop_sequences", stops_of),
    "seed": Drop("Claude has no seed: answers are not reproducible by seed."),
    "reasoning_effort": Map("thinking", thinking_of),
}


def output_limit(body: dict, thinking: dict | None, *, default: int) -> int:
    """max_tokens for Claude: the caller's limit, which must leave room above the thinking budget; without one,
    `default` plus the budget."""
    budget = (thinking or {}).get("budget_tokens", 0)
    limit = max_tokens_of(body, default + budget)
    if limit <= budget:
        raise RequestInvalid(f"max_completion_tokens must be above the thinking budget of reasoning_effort "
                             f"{body.get('reasoning_effort')!r} ({budget} tokens) on Claude (got {limit}).",
                             param="max_completion_tokens")
    return limit


def check_forced_tool(thinking: dict | None, tool_choice: dict | None) -> None:
    """Claude does not think while a tool is forced (tool_choice any/tool, or a JSON answer)."""
    if (thinking or {}).get("type") == "enabled" and (tool_choice or {}).get("type") in ("any", "tool"):
        raise RequestInvalid("reasoning_effort: Claude cannot think while a tool is forced (tool_choice required or "
                             "named, or a JSON response_format); use tool_choice auto or reasoning_effort none.",
                             param="reasoning_effort")


def _block(part: Part) -> dict:
    if part.kind == "text":
        block = {"type": "text", "text": part.text}
    elif part.kind == "file" and part.media == "text/plain":
        block = {"type": "document", "title": part.name, "source": {
            "type": "text", "media_type": "text/plain", "data": base64.b64decode(part.data).decode(errors="replace")}}
    elif part.kind == "file":
        block = {"type": "document", "title": part.name,
                 "source": {"type": "base64", "media_type": part.media, "data": part.data}}
    else:
        source = ({"type": "base64", "media_type": part.media, "data": part.data} if part.data
                  else {"type": "url", "url": part.url})
        block = {"type": "image", "source": source}
    if part.cache:
        block["cache_control"] = part.cache
    return block


def chat_to_messages(body: dict, *, model: str) -> dict:
    """An OpenAI chat request as an Anthropic Messages request for `model` (without `stream`)."""
    out = declared(body, CHAT_TO_MESSAGES, family="Claude")
    system, turns = [], []
    for turn in walk(body.get("messages")):
        if turn.role == "system":
            system += [_block(part) for part in turn.parts if part.text]
        elif turn.role == "user":
            turns.append({"role": "user", "content": [_block(part) for part in turn.parts]})
        elif turn.role == "assistant":
            blocks = [*turn.thinking, *(_block(part) for part in turn.parts if part.text)]
            blocks += [{"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments}
                       for call in turn.tool_calls]
            turns.append({"role": "assistant", "content": blocks})
        else:
            turns.append({"role": "user", "content": [{"type": "tool_result", "tool_use_id": turn.tool_call_id,
                                                       "content": [_block(part) for part in turn.parts] or ""}]})
    out.update(model=model, messages=merge_turns(turns),
               max_tokens=output_limit(body, out.get("thinking"), default=DEFAULT_MAX_TOKENS))
    if system:
        cached = any("cache_control" in block for block in system)
        out["system"] = system if cached else "\n\n".join(block["text"] for block in system)
    out.update(_tools(body))
    check_forced_tool(out.get("thinking"), out.get("tool_choice"))
    return out


def _tools(body: dict) -> dict:
    """tools and tool_choice; a JSON answer (response_format) is a forced tool whose input is the answer."""
    tools = tools_of(body.get("tools"), family="Claude")
    choice = tool_choice_of(body.get("tool_choice"), tools)
    answer = json_answer_of(body.get("response_format"))
    declared_tools = [{"name": t.name, "description": t.description, "input_schema": t.parameters,
                       **({"cache_control": t.cache} if t.cache else {})} for t in tools]
    if answer is not None:
        choice = json_answer_choice(tools, choice)
        declared_tools.append({"name": JSON_TOOL, "description": JSON_TOOL_DESCRIPTION,
                               "input_schema": answer.schema or {"type": "object"}})
    if not declared_tools:
        if choice is not None and choice.mode not in ("auto", "none"):
            raise RequestInvalid("tool_choice needs tools.", param="tool_choice")
        return {}
    out: dict = {"tools": declared_tools}
    tool_choice = {"auto": {"type": "auto"}, "none": {"type": "none"}, "required": {"type": "any"},
                   "named": {"type": "tool", "name": choice.name}}[choice.mode] if choice else {}
    if body.get("parallel_tool_calls") is False:
        tool_choice = {"type": "auto", **tool_choice, "disable_parallel_tool_use": True}
    if tool_choice:
        out["tool_choice"] = tool_choice
    return out


def message_to_chat(message: dict, *, model: str) -> dict:
    """An Anthropic Messages response as an OpenAI chat completion (a JSON answer's tool input as the content)."""
    text, calls, thinking = [], [], []
    for block in message.get("content") or []:
        if block.get("type") in ("thinking", "redacted_thinking"):
            thinking.append(block)
        elif block.get("type") == "text":
            text.append(block.get("text", ""))
        elif block.get("type") == "tool_use" and block.get("name") == JSON_TOOL:
            text.append(json.dumps(block.get("input") or {}))
        elif block.get("type") == "tool_use":
            calls.append({"id": block.get("id"), "type": "function",
                          "function": {"name": block.get("name"), "arguments": json.dumps(block.get("input") or {})}})
    stop = message.get("stop_reason")
    return chat_completion(model=model, text="".join(text), tool_calls=calls,
                           stop="end_turn" if stop == "tool_use" and not calls else stop,
                           tokens=messages_usage(message.get("usage") or {}), thinking_blocks=thinking)


class MessagesStreamToChat(StreamToChat):
    """Anthropic stream events in, OpenAI chat.completion.chunk dicts out. The last chunk carries the usage (with
    empty choices), as OpenAI sends it for stream_options.include_usage."""

    def __init__(self, *, model: str) -> None:
        super().__init__(model=model)
        self.tokens: dict = {}  # the Messages usage, as message_start and message_delta tell it
        self.tool_index: dict[int, int] = {}  # content block index -> tool call index
        self.json_block: int | None = None  # the content block carrying a JSON answer
        self.thinking: dict[int, dict] = {}  # content block index -> the thinking block being streamed

    def feed(self, event: dict) -> list[dict]:
        kind = event.get("type")
        if kind == "message_start":
            self.tokens = dict((event.get("message") or {}).get("usage") or {})
            return [self.chunk({"role": "assistant", "content": ""})]
        if kind == "content_block_start":
            block = event.get("content_block") or {}
            if block.get("type") == "thinking":
                self.thinking[event.get("index", 0)] = {"type": "thinking", "thinking": block.get("thinking", ""),
                                                        "signature": block.get("signature", "")}
                return []
            if block.get("type") == "redacted_thinking":
                return [self.chunk({"thinking_blocks": [{"type": "redacted_thinking", "data": block.get("data", "")}]})]
            if block.get("type") == "tool_use" and block.get("name") == JSON_TOOL:
                self.json_block = event.get("index", 0)
                return []
            if block.get("type") == "tool_use":
                index = self.tool_index[event.get("index", 0)] = len(self.tool_index)
                return [self.chunk({"tool_calls": [{"index": index, "id": block.get("id"), "type": "function",
                                                    "function": {"name": block.get("name"), "arguments": ""}}]})]
            if block.get("type") == "text" and block.get("text"):
                return [self.chunk({"content": block["text"]})]
            return []
        if kind == "content_block_delta":
            delta = event.get("delta") or {}
            if delta.get("type") == "text_delta":
                return [self.chunk({"content": delta.get("text", "")})]
            if delta.get("type") == "thinking_delta" and event.get("index", 0) in self.thinking:
                self.thinking[event.get("index", 0)]["thinking"] += delta.get("thinking", "")
                return [self.chunk({"reasoning_content": delta.get("thinking", "")})]
            if delta.get("type") == "signature_delta" and event.get("index", 0) in self.thinking:
                self.thinking[event.get("index", 0)]["signature"] += delta.get("signature", "")
                return []
            if delta.get("type") == "input_json_delta" and event.get("index", 0) == self.json_block:
                return [self.chunk({"content": delta.get("partial_json", "")})]
            if delta.get("type") == "input_json_delta" and event.get("index", 0) in self.tool_index:
                index = self.tool_index[event.get("index", 0)]
                return [self.chunk({"tool_calls": [{"index": index,
                                                    "function": {"arguments": delta.get("partial_json", "")}}]})]
            return []
        if kind == "content_block_stop" and event.get("index", 0) in self.thinking:
            return [self.chunk({"thinking_blocks": [self.thinking.pop(event.get("index", 0))]})]
        if kind == "message_delta":
            self.tokens.update({k: v for k, v in (event.get("usage") or {}).items() if v is not None})
            stop = (event.get("delta") or {}).get("stop_reason")
            if stop == "tool_use" and not self.tool_index:
                stop = "end_turn"  # only the JSON answer was "called"
            return [self.chunk({}, finish=finish_reason(stop))] if stop else []
        if kind == "message_stop":
            return [self.chunk(usage_=messages_usage(self.tokens))]
        return []
