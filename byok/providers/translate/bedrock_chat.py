"""OpenAI Chat Completions <-> Bedrock Converse / ConverseStream (Bedrock with IAM credentials)."""

import json

from . import RequestInvalid
from .common import (
    IMAGE_FORMATS,
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
            blocks.append({"text": part.get("text", "")})
        elif kind == "image_url":
            url, media, data = image_of(part)
            if data is None:
                raise RequestInvalid("Bedrock takes images as data URLs (data:image/png;base64,…), not links.",
                                     param="messages")
            blocks.append({"image": {"format": IMAGE_FORMATS[media], "source": {"bytes": data}}})
        else:
            raise RequestInvalid(f"Unsupported content part type {kind!r}.", param="messages")
    return blocks


def chat_to_converse(body: dict) -> dict:
    """An OpenAI chat request as a Converse request body (the model id goes in the URL)."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RequestInvalid("messages must be a non-empty list.", param="messages")
    system, turns = [], []
    for message in messages:
        if not isinstance(message, dict):
            raise RequestInvalid("Each message is an object with a role.", param="messages")
        role = message.get("role")
        if role in ("system", "developer"):
            if text := text_of(message.get("content")):
                system.append({"text": text})
        elif role == "user":
            turns.append({"role": "user", "content": _user_blocks(message.get("content"))})
        elif role == "assistant":
            blocks = [{"text": t} for t in [text_of(message.get("content"))] if t]
            for call in message.get("tool_calls") or []:
                function = call.get("function") or {}
                blocks.append({"toolUse": {"toolUseId": call.get("id"), "name": function.get("name"),
                                           "input": tool_arguments(function.get("arguments"))}})
            turns.append({"role": "assistant", "content": blocks})
        elif role == "tool":
            turns.append({"role": "user", "content": [{"toolResult": {
                "toolUseId": message.get("tool_call_id"), "content": [{"text": text_of(message.get("content"))}]}}]})
        else:
            raise RequestInvalid(f"Unknown message role {role!r}.", param="messages")
    if instruction := json_mode_instruction(body.get("response_format")):
        system.append({"text": instruction})
    config = {"maxTokens": max_tokens_of(body)}
    if body.get("temperature") is not None:
        config["temperature"] = body["temperature"]
    if body.get("top_p") is not None:
        config["topP"] = body["top_p"]
    if stops := stop_list(body.get("stop")):
        config["stopSequences"] = stops
    out = {"messages": merge_turns(turns), "inferenceConfig": config}
    if system:
        out["system"] = system
    tools = function_tools(body.get("tools"))
    if tools:
        tool_config = {"tools": [{"toolSpec": {"name": t["name"], "description": t["description"] or t["name"],
                                               "inputSchema": {"json": t["parameters"]}}} for t in tools]}
        choice = body.get("tool_choice")
        if choice == "required":
            tool_config["toolChoice"] = {"any": {}}
        elif isinstance(choice, dict) and (choice.get("function") or {}).get("name"):
            tool_config["toolChoice"] = {"tool": {"name": choice["function"]["name"]}}
        elif choice not in (None, "auto", "none"):
            raise RequestInvalid("tool_choice must be auto, none, required or a named function.", param="tool_choice")
        out["toolConfig"] = tool_config
    return out


def converse_to_chat(response: dict, *, model: str) -> dict:
    text, calls = [], []
    for block in ((response.get("output") or {}).get("message") or {}).get("content") or []:
        if "text" in block:
            text.append(block["text"])
        elif "toolUse" in block:
            use = block["toolUse"]
            calls.append({"id": use.get("toolUseId"), "type": "function",
                          "function": {"name": use.get("name"), "arguments": json.dumps(use.get("input") or {})}})
    tokens = response.get("usage") or {}
    return chat_completion(id=completion_id(), model=model, text="".join(text), tool_calls=calls,
                           stop=response.get("stopReason"), prompt_tokens=tokens.get("inputTokens", 0),
                           completion_tokens=tokens.get("outputTokens", 0))


class ConverseStreamToChat:
    """ConverseStream events ({event type: payload}) in, OpenAI chat.completion.chunk dicts out."""

    def __init__(self, *, model: str) -> None:
        self.id, self.model, self.created = completion_id(), model, now()
        self.tool_index: dict[int, int] = {}

    def _chunk(self, delta=None, finish=None, usage_=None) -> dict:
        return chunk(id=self.id, model=self.model, created=self.created, delta=delta, finish=finish, usage_=usage_)

    def feed(self, kind: str, payload: dict) -> list[dict]:
        if kind == "messageStart":
            return [self._chunk({"role": "assistant", "content": ""})]
        if kind == "contentBlockStart":
            use = (payload.get("start") or {}).get("toolUse")
            if use:
                index = self.tool_index[payload.get("contentBlockIndex", 0)] = len(self.tool_index)
                return [self._chunk({"tool_calls": [{"index": index, "id": use.get("toolUseId"), "type": "function",
                                                     "function": {"name": use.get("name"), "arguments": ""}}]})]
            return []
        if kind == "contentBlockDelta":
            delta = payload.get("delta") or {}
            if "text" in delta:
                return [self._chunk({"content": delta["text"]})]
            if "toolUse" in delta and payload.get("contentBlockIndex", 0) in self.tool_index:
                index = self.tool_index[payload.get("contentBlockIndex", 0)]
                return [self._chunk({"tool_calls": [{"index": index,
                                                     "function": {"arguments": delta["toolUse"].get("input", "")}}]})]
            return []
        if kind == "messageStop":
            return [self._chunk({}, finish=finish_reason(payload.get("stopReason")))]
        if kind == "metadata":
            tokens = payload.get("usage") or {}
            return [self._chunk(usage_=usage(tokens.get("inputTokens", 0), tokens.get("outputTokens", 0)))]
        return []
