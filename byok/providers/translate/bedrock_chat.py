"""OpenAI Chat Completions <-> Bedrock Converse / ConverseStream (Bedrock with IAM credentials)."""

import json
import re

from . import RequestInvalid
from .anthropic_chat import check_forced_tool, output_limit, thinking_of
from .chat import (
    COMMON_RULES,
    FILE_FORMATS,
    IMAGE_FORMATS,
    OWN,
    Drop,
    Map,
    Refuse,
    Rule,
    declared,
    json_answer_of,
    number,
    stops_of,
    tool_choice_of,
    tools_of,
    walk,
    JSON_TOOL,
    JSON_TOOL_DESCRIPTION,
    json_answer_choice,
)
from .common import StreamToChat, chat_completion, finish_reason, merge_turns, usage


DEFAULT_MAX_TOKENS = 4096  # Converse needs a limit; OpenAI callers often send none
CACHE_POINT = {"cachePoint": {"type": "default"}}  # Converse's mark: cache everything up to here

# Chat Completions -> Converse, field by field (docs/providers.md lists the drops and refusals).
CHAT_TO_CONVERSE: dict[str, Rule] = {
    **COMMON_RULES,
    "max_tokens": OWN, "max_completion_tokens": OWN,
    "temperature": Map("inferenceConfig.temperature", check=number(0, 1)),
    "top_p": Map("inferenceConfig.topP"),
    "stop": Map("inferenceConfig.stopSequences", stops_of),
    "seed": Drop("Bedrock Converse has no seed: answers are not reproducible by seed."),
    "parallel_tool_calls": Refuse("cannot turn parallel tool calls off on Converse.", accepts=lambda value: value),
    "reasoning_effort": Map("additionalModelRequestFields.thinking", thinking_of),
}


def _blocks(parts) -> list[dict]:
    blocks = []
    for part in parts:
        if part.kind == "text":
            if part.text:
                blocks.append({"text": part.text})
        elif part.kind == "file":
            blocks.append({"document": {"format": FILE_FORMATS[part.media], "name": _document_name(part.name),
                                        "source": {"bytes": part.data}}})
        elif part.data is None:
            raise RequestInvalid("Bedrock takes images as data URLs (data:image/png;base64,…), not links.",
                                 param="messages")
        else:
            blocks.append({"image": {"format": IMAGE_FORMATS[part.media], "source": {"bytes": part.data}}})
        if part.cache:
            blocks.append(CACHE_POINT)
    return blocks


def _document_name(name: str) -> str:
    """Converse's rule for a document name: letters, digits, single spaces, hyphens, parentheses and brackets."""
    cleaned = " ".join(re.sub(r"[^A-Za-z0-9\s\-()\[\]]", " ", name).split())
    return cleaned[:200] or "document"


def _reasoning_block(block: dict) -> dict:
    """A Claude thinking block as Converse's reasoningContent (and back, below)."""
    if block["type"] == "redacted_thinking":
        return {"reasoningContent": {"redactedContent": block["data"]}}
    return {"reasoningContent": {"reasoningText": {"text": block["thinking"], "signature": block["signature"]}}}


def _thinking_block(reasoning: dict) -> dict:
    if "redactedContent" in reasoning:
        return {"type": "redacted_thinking", "data": reasoning["redactedContent"]}
    text = reasoning.get("reasoningText") or {}
    return {"type": "thinking", "thinking": text.get("text", ""), "signature": text.get("signature", "")}


def chat_to_converse(body: dict) -> dict:
    """An OpenAI chat request as a Converse request body (the model id goes in the URL)."""
    out = declared(body, CHAT_TO_CONVERSE, family="Bedrock")
    system, turns = [], []
    for turn in walk(body.get("messages")):
        if turn.role == "system":
            system += _blocks(turn.parts)
        elif turn.role == "user":
            turns.append({"role": "user", "content": _blocks(turn.parts)})
        elif turn.role == "assistant":
            blocks = [*(_reasoning_block(block) for block in turn.thinking), *_blocks(turn.parts)]
            blocks += [{"toolUse": {"toolUseId": call.id, "name": call.name, "input": call.arguments}}
                       for call in turn.tool_calls]
            turns.append({"role": "assistant", "content": blocks})
        else:
            turns.append({"role": "user", "content": [{"toolResult": {
                "toolUseId": turn.tool_call_id, "content": [{"text": turn.text}]}}]})
    thinking = (out.get("additionalModelRequestFields") or {}).get("thinking")
    out.setdefault("inferenceConfig", {})["maxTokens"] = output_limit(body, thinking, default=DEFAULT_MAX_TOKENS)
    out["messages"] = merge_turns(turns)
    if system:
        out["system"] = system
    if tool_config := _tool_config(body):
        out["toolConfig"] = tool_config
        forced = tool_config.get("toolChoice", {})
        check_forced_tool(thinking, {"type": "any"} if "any" in forced else {"type": "tool"} if forced else None)
    return out


def _tool_config(body: dict) -> dict:
    """Converse's toolConfig; a JSON answer (response_format) is a forced tool whose input is the answer."""
    tools = tools_of(body.get("tools"), family="Bedrock")
    choice = tool_choice_of(body.get("tool_choice"), tools)
    answer = json_answer_of(body.get("response_format"))
    specs = []
    for tool in tools:
        specs.append({"toolSpec": {"name": tool.name, "description": tool.description or tool.name,
                                   "inputSchema": {"json": tool.parameters}}})
        if tool.cache:
            specs.append(CACHE_POINT)
    if answer is not None:
        choice = json_answer_choice(tools, choice)
        specs.append({"toolSpec": {"name": JSON_TOOL, "description": JSON_TOOL_DESCRIPTION,
                                   "inputSchema": {"json": answer.schema or {"type": "object"}}}})
    if not specs:
        if choice is not None and choice.mode not in ("auto", "none"):
            raise RequestInvalid("tool_choice needs tools.", param="tool_choice")
        return {}
    config: dict = {"tools": specs}
    if choice is not None and choice.mode == "required":
        config["toolChoice"] = {"any": {}}
    elif choice is not None and choice.mode == "named":
        config["toolChoice"] = {"tool": {"name": choice.name}}
    return config


def converse_to_chat(response: dict, *, model: str) -> dict:
    text, calls, thinking = [], [], []
    for block in ((response.get("output") or {}).get("message") or {}).get("content") or []:
        if "reasoningContent" in block:
            thinking.append(_thinking_block(block["reasoningContent"]))
        elif "text" in block:
            text.append(block["text"])
        elif "toolUse" in block and block["toolUse"].get("name") == JSON_TOOL:
            text.append(json.dumps(block["toolUse"].get("input") or {}))
        elif "toolUse" in block:
            use = block["toolUse"]
            calls.append({"id": use.get("toolUseId"), "type": "function",
                          "function": {"name": use.get("name"), "arguments": json.dumps(use.get("input") or {})}})
    stop = response.get("stopReason")
    return chat_completion(model=model, text="".join(text), tool_calls=calls,
                           stop="end_turn" if stop == "tool_use" and not calls else stop,
                           tokens=converse_usage(response.get("usage") or {}), thinking_blocks=thinking)


def converse_usage(tokens: dict) -> dict:
    """Chat's usage of Converse's (its inputTokens exclude cache reads and writes; a cachePoint writes for 5 min)."""
    read, write = tokens.get("cacheReadInputTokens") or 0, tokens.get("cacheWriteInputTokens") or 0
    return usage((tokens.get("inputTokens") or 0) + read + write, tokens.get("outputTokens") or 0,
                 cache_read=read, cache_write_5m=write)


class ConverseStreamToChat(StreamToChat):
    """ConverseStream events, each a (event type, payload) pair, in; OpenAI chat.completion.chunk dicts out."""

    def __init__(self, *, model: str) -> None:
        super().__init__(model=model)
        self.tool_index: dict[int, int] = {}
        self.json_block: int | None = None
        self.thinking: dict[int, dict] = {}  # content block index -> the reasoningContent being streamed

    def feed(self, event: tuple[str, dict]) -> list[dict]:
        kind, payload = event
        if kind == "messageStart":
            return [self.chunk({"role": "assistant", "content": ""})]
        if kind == "contentBlockStart":
            use = (payload.get("start") or {}).get("toolUse")
            if use and use.get("name") == JSON_TOOL:
                self.json_block = payload.get("contentBlockIndex", 0)
                return []
            if use:
                index = self.tool_index[payload.get("contentBlockIndex", 0)] = len(self.tool_index)
                return [self.chunk({"tool_calls": [{"index": index, "id": use.get("toolUseId"), "type": "function",
                                                    "function": {"name": use.get("name"), "arguments": ""}}]})]
            return []
        if kind == "contentBlockDelta":
            delta = payload.get("delta") or {}
            block = payload.get("contentBlockIndex", 0)
            if "text" in delta:
                return [self.chunk({"content": delta["text"]})]
            if "reasoningContent" in delta:
                return self._reasoning(block, delta["reasoningContent"])
            if "toolUse" in delta and block == self.json_block:
                return [self.chunk({"content": delta["toolUse"].get("input", "")})]
            if "toolUse" in delta and block in self.tool_index:
                return [self.chunk({"tool_calls": [{"index": self.tool_index[block],
                                                    "function": {"arguments": delta["toolUse"].get("input", "")}}]})]
            return []
        if kind == "contentBlockStop" and payload.get("contentBlockIndex", 0) in self.thinking:
            reasoning = self.thinking.pop(payload.get("contentBlockIndex", 0))
            return [self.chunk({"thinking_blocks": [_thinking_block(reasoning)]})]
        if kind == "messageStop":
            stop = payload.get("stopReason")
            return [self.chunk({}, finish=finish_reason("end_turn" if stop == "tool_use" and not self.tool_index
                                                        else stop))]
        if kind == "metadata":
            tokens = payload.get("usage") or {}
            return [self.chunk(usage_=converse_usage(tokens))]
        return []

    def _reasoning(self, block: int, delta: dict) -> list[dict]:
        reasoning = self.thinking.setdefault(block, {})
        if "redactedContent" in delta:
            reasoning["redactedContent"] = delta["redactedContent"]
            return []
        text = reasoning.setdefault("reasoningText", {"text": "", "signature": ""})
        text["signature"] += delta.get("signature", "")
        text["text"] += delta.get("text", "")
        return [self.chunk({"reasoning_content": delta["text"]})] if delta.get("text") else []
