"""OpenAI Chat Completions <-> Anthropic Messages (the Anthropic API, and Bedrock API keys via AnthropicBedrock)."""

import json

from . import RequestInvalid
from .common import (
    chat_completion,
    chunk,
    completion_id,
    finish_reason,
    function_tools,
    image_of,
    json_mode_instruction,
    max_tokens_of,
    merge_turns,
    now,
    parts_of,
    stop_list,
    text_of,
    tool_arguments,
    usage,
)


def _user_blocks(content) -> list[dict]:
    blocks = []
    for part in parts_of(content):
        kind = part.get("type")
        if kind in ("text", "input_text"):
            blocks.append({"type": "text", "text": part.get("text", "")})
        elif kind == "image_url":
            url, media, data = image_of(part)
            source = {"type": "base64", "media_type": media, "data": data} if data else {"type": "url", "url": url}
            blocks.append({"type": "image", "source": source})
        else:
            raise RequestInvalid(f"Unsupported content part type {kind!r}.", param="messages")
    return blocks


def chat_to_messages(body: dict, *, model: str) -> dict:
    """An OpenAI chat request as an Anthropic Messages request for `model` (without `stream`)."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RequestInvalid("messages must be a non-empty list.", param="messages")
    system, turns = [], []
    for message in messages:
        if not isinstance(message, dict):
            raise RequestInvalid("Each message is an object with a role.", param="messages")
        role = message.get("role")
        if role in ("system", "developer"):
            system.append(text_of(message.get("content")))
        elif role == "user":
            turns.append({"role": "user", "content": _user_blocks(message.get("content"))})
        elif role == "assistant":
            blocks = [{"type": "text", "text": t} for t in [text_of(message.get("content"))] if t]
            for call in message.get("tool_calls") or []:
                function = call.get("function") or {}
                blocks.append({"type": "tool_use", "id": call.get("id"), "name": function.get("name"),
                               "input": tool_arguments(function.get("arguments"))})
            turns.append({"role": "assistant", "content": blocks})
        elif role == "tool":
            turns.append({"role": "user", "content": [{"type": "tool_result", "tool_use_id": message.get("tool_call_id"),
                                                       "content": text_of(message.get("content"))}]})
        else:
            raise RequestInvalid(f"Unknown message role {role!r}.", param="messages")
    instruction = json_mode_instruction(body.get("response_format"))
    if instruction:
        system.append(instruction)
    out = {"model": model, "messages": merge_turns(turns), "max_tokens": max_tokens_of(body)}
    if system:
        out["system"] = "\n\n".join(s for s in system if s)
    for name in ("temperature", "top_p"):
        if body.get(name) is not None:
            out[name] = body[name]
    if stops := stop_list(body.get("stop")):
        out["stop_sequences"] = stops
    tools = function_tools(body.get("tools"))
    if tools:
        out["tools"] = [{"name": t["name"], "description": t["description"], "input_schema": t["parameters"]}
                        for t in tools]
        choice = _tool_choice(body.get("tool_choice"))
        if choice:
            out["tool_choice"] = choice
    return out


def _tool_choice(choice) -> dict | None:
    if choice is None or choice == "auto":
        return {"type": "auto"} if choice else None
    if choice == "required":
        return {"type": "any"}
    if choice == "none":
        return {"type": "none"}
    if isinstance(choice, dict) and (choice.get("function") or {}).get("name"):
        return {"type": "tool", "name": choice["function"]["name"]}
    raise RequestInvalid("tool_choice must be auto, none, required or a named function.", param="tool_choice")


def message_to_chat(message: dict, *, model: str) -> dict:
    """An Anthropic Messages response as an OpenAI chat completion."""
    text, calls = [], []
    for block in message.get("content") or []:
        if block.get("type") == "text":
            text.append(block.get("text", ""))
        elif block.get("type") == "tool_use":
            calls.append({"id": block.get("id"), "type": "function",
                          "function": {"name": block.get("name"), "arguments": json.dumps(block.get("input") or {})}})
    tokens = message.get("usage") or {}
    return chat_completion(id=completion_id(), model=model, text="".join(text), tool_calls=calls,
                           stop=message.get("stop_reason"), prompt_tokens=tokens.get("input_tokens", 0),
                           completion_tokens=tokens.get("output_tokens", 0))


class MessagesStreamToChat:
    """Anthropic stream events in, OpenAI chat.completion.chunk dicts out (`feed` returns 0..n chunks).

    The last chunk carries the usage (with empty choices), as OpenAI sends it for stream_options.include_usage.
    """

    def __init__(self, *, model: str) -> None:
        self.id, self.model, self.created = completion_id(), model, now()
        self.input_tokens = self.output_tokens = 0
        self.tool_index: dict[int, int] = {}  # content block index -> tool call index

    def _chunk(self, delta=None, finish=None, usage_=None) -> dict:
        return chunk(id=self.id, model=self.model, created=self.created, delta=delta, finish=finish, usage_=usage_)

    def feed(self, event: dict) -> list[dict]:
        kind = event.get("type")
        if kind == "message_start":
            tokens = (event.get("message") or {}).get("usage") or {}
            self.input_tokens = tokens.get("input_tokens", 0) or 0
            self.output_tokens = tokens.get("output_tokens", 0) or 0
            return [self._chunk({"role": "assistant", "content": ""})]
        if kind == "content_block_start":
            block = event.get("content_block") or {}
            if block.get("type") == "tool_use":
                index = self.tool_index[event.get("index", 0)] = len(self.tool_index)
                return [self._chunk({"tool_calls": [{"index": index, "id": block.get("id"), "type": "function",
                                                     "function": {"name": block.get("name"), "arguments": ""}}]})]
            if block.get("type") == "text" and block.get("text"):
                return [self._chunk({"content": block["text"]})]
            return []
        if kind == "content_block_delta":
            delta = event.get("delta") or {}
            if delta.get("type") == "text_delta":
                return [self._chunk({"content": delta.get("text", "")})]
            if delta.get("type") == "input_json_delta" and event.get("index", 0) in self.tool_index:
                index = self.tool_index[event.get("index", 0)]
                return [self._chunk({"tool_calls": [{"index": index,
                                                     "function": {"arguments": delta.get("partial_json", "")}}]})]
            return []
        if kind == "message_delta":
            tokens = event.get("usage") or {}
            self.output_tokens = tokens.get("output_tokens", self.output_tokens) or self.output_tokens
            self.input_tokens = tokens.get("input_tokens") or self.input_tokens
            stop = (event.get("delta") or {}).get("stop_reason")
            return [self._chunk({}, finish=finish_reason(stop))] if stop else []
        if kind == "message_stop":
            return [self._chunk(usage_=usage(self.input_tokens, self.output_tokens))]
        return []
