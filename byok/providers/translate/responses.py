"""The OpenAI Responses API, declared once: every request field's type, and how a family that does not speak it
(everyone but OpenAI) gets it: the request as a Chat Completions request (then the family's chat translation), and
the chat answer back as a Response object or as the typed Responses stream events.

byok keeps no state: `previous_response_id` and stored items are refused for a translated family, and a reasoning
item travels whole in its `encrypted_content` (base64 of the JSON thinking blocks, Claude's signature inside), so a
tool loop hands Claude its thinking back intact.
"""

import base64
import binascii
import json
import time
import uuid
from collections.abc import Mapping
from typing import Any

from . import RequestInvalid
from .chat import (
    OWN,
    Check,
    Drop,
    Map,
    Refuse,
    Rule,
    type_name,
    array,
    boolean,
    declared,
    integer,
    number,
    obj,
    one_of,
    positive_int,
    string,
    thinking_blocks_of,
    with_schema,
)

MAX_INPUT_ITEMS = 2048  # byok's bound on one request's conversation, checked before anything is translated
ENCRYPTED_REASONING = "reasoning.encrypted_content"
EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")
INCLUDES = (ENCRYPTED_REASONING, "message.output_text.logprobs", "message.input_image.image_url",
            "computer_call_output.output.image_url", "file_search_call.results", "web_search_call.results",
            "web_search_call.action.sources", "code_interpreter_call.outputs")


@with_schema({"anyOf": [{"type": "string"}, {"type": "array", "maxItems": MAX_INPUT_ITEMS}]})
def _input(value, name):
    if isinstance(value, str):
        return value
    if not isinstance(value, list):
        raise RequestInvalid(f"{name} must be a string or a list of items, not {type_name(value)}.", param=name)
    if len(value) > MAX_INPUT_ITEMS:
        raise RequestInvalid(f"{name} has {len(value)} items; byok takes at most {MAX_INPUT_ITEMS} in one request.",
                             param=name)
    return value


@with_schema({"type": "array", "items": {"enum": list(INCLUDES)}})
def _include(value, name):
    array(value, name)
    for index, entry in enumerate(value):
        one_of(*INCLUDES)(entry, f"{name}[{index}]")
    return value


@with_schema({"anyOf": [{"enum": ["auto", "none", "required"]}, {"type": "object"}]})
def _tool_choice(value, name):
    if isinstance(value, str):
        return one_of("auto", "none", "required")(value, name)
    return obj(value, name)


# Every request field of the Responses API (OpenAI's reference), with its type.
RESPONSES_FIELDS: dict[str, Check] = {
    "model": string, "input": _input, "instructions": string, "stream": boolean, "stream_options": obj,
    "tools": array, "tool_choice": _tool_choice, "parallel_tool_calls": boolean, "max_tool_calls": positive_int,
    "text": obj, "reasoning": obj, "max_output_tokens": integer(16, 10_000_000), "temperature": number(0, 2),
    "top_p": number(0, 1), "top_logprobs": integer(0, 20), "metadata": obj, "store": boolean,
    "include": _include, "previous_response_id": string, "conversation": obj, "prompt": obj,
    "prompt_cache_key": string, "prompt_cache_retention": string, "safety_identifier": string, "user": string,
    "service_tier": string, "background": boolean, "truncation": one_of("auto", "disabled"),
}

_NO_STATE = "keeps no state for this family: send the whole conversation in input."

# Responses -> Chat Completions, field by field; the family's chat rules then apply to what is mapped.
RESPONSES_TO_CHAT: dict[str, Rule] = {
    "model": OWN, "input": OWN, "instructions": OWN, "stream": OWN, "tools": OWN, "tool_choice": OWN,
    "text": OWN, "reasoning": OWN, "include": OWN,
    "parallel_tool_calls": Map("parallel_tool_calls"),
    "max_output_tokens": Map("max_completion_tokens"),
    "temperature": Map("temperature"), "top_p": Map("top_p"), "top_logprobs": Map("top_logprobs"),
    "user": Map("user"), "safety_identifier": Map("safety_identifier"), "service_tier": Map("service_tier"),
    "prompt_cache_key": Map("prompt_cache_key"), "prompt_cache_retention": Map("prompt_cache_retention"),
    "stream_options": Drop("OpenAI's stream obfuscation setting: byok's stream carries no obfuscation."),
    "metadata": Drop("tags of a stored response: byok stores no responses."),
    "store": Drop("byok stores no responses (store: true stores nothing)."),
    "truncation": Refuse("does not truncate a conversation for you (truncation must be disabled).",
                         accepts=lambda value: value == "disabled"),
    "max_tool_calls": Refuse("has no limit on hosted tool calls (it runs function tools only)."),
    "background": Refuse("answers in the foreground only (background must be false).", accepts=lambda v: not v),
    "previous_response_id": Refuse(f"has no stored responses: byok {_NO_STATE}"),
    "conversation": Refuse(f"has no stored conversations: byok {_NO_STATE}"),
    "prompt": Refuse("has no stored prompt templates (they live in an OpenAI project)."),
}


def checked(body: Mapping[str, Any]) -> None:
    """Pass-through (OpenAI): the API's fields have the API's types; the provider answers for anything else."""
    for name, value in body.items():
        check = RESPONSES_FIELDS.get(name)
        if check is not None and value is not None:
            check(value, name)


# --- request: Responses -> Chat Completions ---------------------------------------------------------------------

def responses_to_chat(body: dict, *, family: str, thinking: bool) -> dict:
    """A Responses request as a Chat Completions request, for `family` (named in refusals). `thinking`: the family
    carries Claude's thinking blocks, so reasoning items with encrypted content go back to it."""
    chat = declared(body, RESPONSES_TO_CHAT, family=family, fields=RESPONSES_FIELDS, api="Responses API")
    messages = [{"role": "system", "content": body["instructions"]}] if body.get("instructions") else []
    messages += _messages(body.get("input"), family=family, thinking=thinking)
    chat.update(model=body.get("model"), messages=messages, stream=bool(body.get("stream")))
    if body.get("tools"):
        chat["tools"] = [_tool(tool, index, family=family) for index, tool in enumerate(body["tools"])]
    if body.get("tool_choice") is not None:
        chat["tool_choice"] = _choice(body["tool_choice"])
    text = body.get("text") or {}
    if text.get("format") is not None:
        chat["response_format"] = _response_format(text["format"])
    if text.get("verbosity") is not None:
        chat["verbosity"] = text["verbosity"]
    reasoning = body.get("reasoning") or {}
    if reasoning.get("summary") is not None:
        one_of("auto", "concise", "detailed")(reasoning["summary"], "reasoning.summary")
    if reasoning.get("effort") is not None:
        chat["reasoning_effort"] = one_of(*EFFORTS)(reasoning["effort"], "reasoning.effort")
    if "message.output_text.logprobs" in (body.get("include") or ()):
        chat["logprobs"] = True
    return chat


# The chat fields a translated request carries, by the Responses field they came from: a family's refusal names the
# caller's field.
CHAT_PARAMS = {"max_completion_tokens": "max_output_tokens", "reasoning_effort": "reasoning.effort",
               "response_format": "text.format", "verbosity": "text.verbosity", "logprobs": "include",
               "messages": "input"}


def in_responses_terms(exc: RequestInvalid) -> RequestInvalid:
    """A refusal of the translated chat request, naming the Responses field the caller sent."""
    field = CHAT_PARAMS.get(exc.param)
    if field is None:
        return exc
    return RequestInvalid(str(exc).replace(exc.param, field), param=field)


def _messages(items, *, family: str, thinking: bool) -> list[dict]:
    if items is None:
        raise RequestInvalid("input is required: a string or a list of items.", param="input")
    if not items:
        raise RequestInvalid("input must be a non-empty string or at least one item.", param="input")
    if isinstance(items, str):
        return [{"role": "user", "content": items}]
    messages: list[dict] = []
    assistant: dict | None = None  # the assistant turn being gathered: reasoning, text, function calls

    def turn() -> dict:
        nonlocal assistant
        if assistant is None:
            assistant = {"role": "assistant", "content": None}
            messages.append(assistant)
        return assistant

    for index, item in enumerate(items):
        at = f"input[{index}]"
        if not isinstance(item, dict):
            raise RequestInvalid(f"{at} must be an item object.", param=at)
        kind = item.get("type", "message")
        if kind == "message" and item.get("role") == "assistant":
            if turn()["content"] is not None or turn().get("tool_calls"):
                assistant = None  # a second assistant message starts a new turn
            turn()["content"] = _content(item.get("content"), at=at, assistant=True)
        elif kind == "message":
            role = item.get("role")
            if role not in ("user", "system", "developer"):
                raise RequestInvalid(f"{at}.role must be user, assistant, system or developer (got {role!r}).",
                                     param=f"{at}.role")
            assistant = None
            messages.append({"role": role, "content": _content(item.get("content"), at=at, assistant=False)})
        elif kind == "function_call":
            for field in ("call_id", "name", "arguments"):
                if not isinstance(item.get(field), str) or (field != "arguments" and not item[field]):
                    raise RequestInvalid(f"{at}.{field} must be a string.", param=f"{at}.{field}")
            turn().setdefault("tool_calls", []).append(
                {"id": item["call_id"], "type": "function",
                 "function": {"name": item["name"], "arguments": item["arguments"]}})
        elif kind == "function_call_output":
            if not isinstance(item.get("call_id"), str) or not item["call_id"]:
                raise RequestInvalid(f"{at}.call_id must be the call_id of the function call it answers.",
                                     param=f"{at}.call_id")
            assistant = None
            messages.append({"role": "tool", "tool_call_id": item["call_id"],
                             "content": _output(item.get("output"), at=at)})
        elif kind == "reasoning":  # Claude's thinking goes back to Claude; no other family can take reasoning back
            blocks = _reasoning_blocks(item, at=at) if thinking else []
            if blocks:
                if turn()["content"] is not None or turn().get("tool_calls"):
                    assistant = None  # reasoning opens the next assistant turn
                turn().setdefault("thinking_blocks", []).extend(blocks)
        elif kind == "item_reference":
            raise RequestInvalid(f"{at}: item_reference: {family} has no stored items: byok {_NO_STATE}",
                                 param=f"{at}.type")
        else:
            raise RequestInvalid(f"{at}.type: {kind!r} is not an input item byok translates for {family} (message, "
                                 f"function_call, function_call_output, reasoning).", param=f"{at}.type")
    return [m for m in messages if m["role"] != "assistant" or m["content"] is not None or m.get("tool_calls")]


def _content(content, *, at: str, assistant: bool) -> str | list[dict]:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise RequestInvalid(f"{at}.content must be a string or a list of content parts.", param=f"{at}.content")
    parts = []
    for index, part in enumerate(content):
        where = f"{at}.content[{index}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in ("input_text", "output_text") and isinstance(part.get("text"), str):
            parts.append({"type": "text", "text": part["text"]})
        elif kind == "refusal" and assistant and isinstance(part.get("refusal"), str):
            parts.append({"type": "text", "text": part["refusal"]})
        elif kind == "input_image" and not assistant:
            if not isinstance(part.get("image_url"), str) or not part["image_url"]:
                raise RequestInvalid(f"{where}.image_url must be a URL or a data URL (byok keeps no files: "
                                     f"file_id is not supported here).", param=f"{where}.image_url")
            parts.append({"type": "image_url", "image_url": {"url": part["image_url"],
                                                             "detail": part.get("detail") or "auto"}})
        elif kind == "input_file" and not assistant:
            if not isinstance(part.get("file_data"), str):
                raise RequestInvalid(f"{where}.file_data must be the file as a data URL (byok keeps no files: "
                                     f"file_id and file_url are not supported here).", param=f"{where}.file_data")
            parts.append({"type": "file", "file": {"file_data": part["file_data"],
                                                   "filename": part.get("filename") or "document"}})
        else:
            allowed = "output_text or refusal" if assistant else "input_text, input_image or input_file"
            raise RequestInvalid(f"{where}.type must be {allowed} (got {kind!r}), with its value.",
                                 param=f"{where}.type")
    return parts


def _output(output, *, at: str) -> str | list[dict]:
    if isinstance(output, str):
        return output
    if isinstance(output, list):
        return _content(output, at=f"{at}.output", assistant=False)
    raise RequestInvalid(f"{at}.output must be a string or a list of content parts.", param=f"{at}.output")


def _reasoning_blocks(item: dict, *, at: str) -> list[dict]:
    """The thinking blocks sealed in a reasoning item by `reasoning_item` (none when it carries no encrypted
    content: the reasoning is then the caller's summary only)."""
    sealed = item.get("encrypted_content")
    if sealed is None:
        return []
    try:
        blocks = json.loads(base64.b64decode(sealed, validate=True)) if isinstance(sealed, str) else None
    except (binascii.Error, ValueError):
        blocks = None
    if not isinstance(blocks, list):
        raise RequestInvalid(f"{at}.encrypted_content is not one byok gave: hand back the reasoning item unchanged.",
                             param=f"{at}.encrypted_content")
    return list(thinking_blocks_of(blocks, where=f"{at}.encrypted_content", param=f"{at}.encrypted_content"))


HOSTED_TOOLS = ("web_search", "web_search_preview", "file_search", "code_interpreter", "computer_use_preview",
                "image_generation", "mcp", "local_shell", "shell", "apply_patch", "custom")


def _tool(tool, index: int, *, family: str) -> dict:
    at = f"tools[{index}]"
    if not isinstance(tool, dict):
        raise RequestInvalid(f"{at} must be an object.", param=at)
    kind = tool.get("type")
    if kind != "function":
        what = "OpenAI's hosted tool" if str(kind).split("_20")[0] in HOSTED_TOOLS else "the tool type"
        raise RequestInvalid(f"{at}: {family} cannot run {what} {kind!r}; byok translates function tools only.",
                             param=f"{at}.type")
    if not isinstance(tool.get("name"), str) or not tool["name"]:
        raise RequestInvalid(f"{at}.name must be a non-empty string.", param=f"{at}.name")
    function = {"name": tool["name"]}
    for field in ("description", "parameters", "strict"):
        if tool.get(field) is not None:
            function[field] = tool[field]
    return {"type": "function", "function": function}


def _choice(choice):
    if isinstance(choice, str):
        return choice
    if choice.get("type") == "function" and isinstance(choice.get("name"), str):
        return {"type": "function", "function": {"name": choice["name"]}}
    raise RequestInvalid("tool_choice must be auto, none, required or {\"type\": \"function\", \"name\": …} (a "
                         "hosted tool or allowed_tools is not translated).", param="tool_choice")


def _response_format(format_) -> dict:
    obj(format_, "text.format")
    kind = format_.get("type")
    if kind in ("text", "json_object"):
        return {"type": kind}
    if kind == "json_schema":
        if not isinstance(format_.get("schema"), dict):
            raise RequestInvalid("text.format.schema must be a JSON Schema object.", param="text.format.schema")
        spec = {"name": format_.get("name") or "answer", "schema": format_["schema"]}
        if format_.get("strict") is not None:
            spec["strict"] = format_["strict"]
        return {"type": "json_schema", "json_schema": spec}
    raise RequestInvalid(f"text.format.type must be text, json_object or json_schema (got {kind!r}).",
                         param="text.format.type")


# --- answer: chat completion -> Response -------------------------------------------------------------------------

def _id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def response_usage(chat_usage: Mapping | None) -> dict:
    tokens = chat_usage or {}
    input_tokens, output_tokens = tokens.get("prompt_tokens") or 0, tokens.get("completion_tokens") or 0
    return {"input_tokens": input_tokens,
            "input_tokens_details": {"cached_tokens": (tokens.get("prompt_tokens_details") or {}).get(
                "cached_tokens") or 0},
            "output_tokens": output_tokens,
            "output_tokens_details": {"reasoning_tokens": (tokens.get("completion_tokens_details") or {}).get(
                "reasoning_tokens") or 0},
            "total_tokens": input_tokens + output_tokens,
            # Cache writes, which OpenAI's shape has no field for, under Anthropic's names (as in chat's usage).
            **{name: tokens[name] for name in ("cache_creation_input_tokens", "cache_creation") if name in tokens}}


def response_shell(request: dict, *, id: str, model: str, created: int) -> dict:
    """A Response object in progress, echoing the request's settings (as OpenAI does)."""
    return {"id": id, "object": "response", "created_at": created, "status": "in_progress", "background": False,
            "error": None, "incomplete_details": None, "instructions": request.get("instructions"),
            "max_output_tokens": request.get("max_output_tokens"), "model": model, "output": [],
            "parallel_tool_calls": request.get("parallel_tool_calls", True), "previous_response_id": None,
            "reasoning": {"effort": (request.get("reasoning") or {}).get("effort"),
                          "summary": (request.get("reasoning") or {}).get("summary")},
            "store": False, "temperature": request.get("temperature", 1.0),
            "text": request.get("text") or {"format": {"type": "text"}},
            "tool_choice": request.get("tool_choice", "auto"), "tools": request.get("tools") or [],
            "top_p": request.get("top_p", 1.0), "truncation": "disabled", "usage": None,
            "user": request.get("user"), "metadata": request.get("metadata") or {}}


_INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}


def finished(response: dict, finish_reason: str | None, chat_usage: Mapping | None) -> dict:
    """The Response completed (or incomplete, when the answer was cut) with its usage."""
    reason = _INCOMPLETE.get(finish_reason or "")
    response.update(status="incomplete" if reason else "completed", usage=response_usage(chat_usage),
                    incomplete_details={"reason": reason} if reason else None)
    return response


def reasoning_item(text: str, blocks: list[dict], request: dict, *, id: str = "") -> dict:
    """Reasoning as an output item: its text as the summary when one is asked for; the thinking blocks sealed in
    `encrypted_content` when the caller includes it."""
    item = {"id": id or _id("rs"), "type": "reasoning", "summary": []}
    if text and (request.get("reasoning") or {}).get("summary"):
        item["summary"] = [{"type": "summary_text", "text": text}]
    if blocks and ENCRYPTED_REASONING in (request.get("include") or ()):
        item["encrypted_content"] = base64.b64encode(json.dumps(blocks, separators=(",", ":")).encode()).decode()
    return item


def message_item(text: str, *, id: str = "", status: str = "completed") -> dict:
    return {"id": id or _id("msg"), "type": "message", "status": status, "role": "assistant",
            "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]}


def function_call_item(call_id: str, name: str, arguments: str, *, id: str = "", status: str = "completed") -> dict:
    return {"id": id or _id("fc"), "type": "function_call", "status": status, "call_id": call_id, "name": name,
            "arguments": arguments}


def chat_to_response(completion: dict, request: dict) -> dict:
    """A chat completion as a Response object for `request` (the caller's Responses request)."""
    choice = (completion.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    response = response_shell(request, id=_id("resp"), model=completion.get("model") or request.get("model"),
                              created=completion.get("created") or int(time.time()))
    output = response["output"]
    if message.get("reasoning_content") or message.get("thinking_blocks"):
        output.append(reasoning_item(message.get("reasoning_content") or "", message.get("thinking_blocks") or [],
                                     request))
    if message.get("content"):
        output.append(message_item(message["content"]))
    for call in message.get("tool_calls") or []:
        function = call.get("function") or {}
        output.append(function_call_item(call.get("id", ""), function.get("name", ""),
                                         function.get("arguments") or "{}"))
    return finished(response, choice.get("finish_reason"), completion.get("usage"))


# --- answer: chat chunks -> typed Responses stream events --------------------------------------------------------

class ChatStreamToResponses:
    """chat.completion.chunk dicts in, Responses stream events out, in OpenAI's order, each with its
    `sequence_number`: created and in_progress first; per output item (reasoning, message, function call) added,
    its parts and deltas (a reasoning item's summary when asked for), done; completed (or incomplete) last with the
    usage."""

    def __init__(self, request: dict, *, model: str) -> None:
        self.request = request
        self.response = response_shell(request, id=_id("resp"), model=model, created=int(time.time()))
        self.sequence = 0
        self.item: dict | None = None  # the output item being streamed
        self.reasoning_text, self.thinking = "", []
        self.calls: dict[int, dict] = {}  # chat tool call index -> its function_call item
        self.finish_reason: str | None = None
        self.usage: dict | None = None

    def event(self, kind: str, **fields) -> dict:
        event = {"type": kind, "sequence_number": self.sequence, **fields}
        self.sequence += 1
        return event

    def start(self) -> list[dict]:
        return [self.event("response.created", response=dict(self.response)),
                self.event("response.in_progress", response=dict(self.response))]

    def feed(self, chunk: dict) -> list[dict]:
        events: list[dict] = []
        if chunk.get("usage"):
            self.usage = chunk["usage"]
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            if delta.get("reasoning_content") or delta.get("thinking_blocks"):
                events += self._open("reasoning")
                events += self._summary_delta(delta.get("reasoning_content") or "")
                self.thinking += delta.get("thinking_blocks") or []
            if delta.get("content"):
                events += self._open("message")
                self.item["content"][0]["text"] += delta["content"]
                events.append(self.event("response.output_text.delta", item_id=self.item["id"],
                                         output_index=self._index(), content_index=0, delta=delta["content"],
                                         logprobs=[]))
            for call in delta.get("tool_calls") or []:
                events += self._tool_call(call)
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]
        return events

    def finish(self) -> list[dict]:
        events = self._close()
        response = finished(self.response, self.finish_reason, self.usage)
        return events + [self.event(f"response.{response['status']}", response=response)]

    def failed(self, code: str, message: str) -> list[dict]:
        """The provider failed after the first event: the open item closed as incomplete, then response.failed."""
        if self.item is not None and self.item["type"] != "reasoning":
            self.item["status"] = "incomplete"
        self.item = None
        self.response.update(status="failed", error={"code": code, "message": message},
                             usage=response_usage(self.usage))
        return [self.event("response.failed", response=self.response)]

    def _index(self) -> int:
        return len(self.response["output"]) - 1

    def _open(self, kind: str) -> list[dict]:
        if self.item is not None and self.item["type"] == kind:
            return []
        events = self._close()
        self.item = {"id": _id("rs"), "type": "reasoning", "summary": []} if kind == "reasoning" else \
            message_item("", status="in_progress")
        self.response["output"].append(self.item)
        events.append(self.event("response.output_item.added", output_index=self._index(), item=_copy(self.item)))
        if kind == "message":
            events.append(self.event("response.content_part.added", item_id=self.item["id"],
                                     output_index=self._index(), content_index=0,
                                     part={"type": "output_text", "text": "", "annotations": [], "logprobs": []}))
        return events

    def _summary_delta(self, text: str) -> list[dict]:
        """Reasoning text, streamed as the item's summary when the caller asks for one (OpenAI's summary events)."""
        events: list[dict] = []
        if text and (self.request.get("reasoning") or {}).get("summary"):
            if not self.reasoning_text:
                events.append(self.event("response.reasoning_summary_part.added", item_id=self.item["id"],
                                         output_index=self._index(), summary_index=0,
                                         part={"type": "summary_text", "text": ""}))
            events.append(self.event("response.reasoning_summary_text.delta", item_id=self.item["id"],
                                     output_index=self._index(), summary_index=0, delta=text))
        self.reasoning_text += text
        return events

    def _tool_call(self, call: dict) -> list[dict]:
        function = call.get("function") or {}
        index = call.get("index", 0)
        events: list[dict] = []
        if index not in self.calls:
            events += self._close()
            self.item = self.calls[index] = function_call_item(call.get("id") or _id("call"),
                                                               function.get("name") or "", "", status="in_progress")
            self.response["output"].append(self.item)
            events.append(self.event("response.output_item.added", output_index=self._index(),
                                     item=_copy(self.item)))
        item = self.calls[index]
        if function.get("arguments"):
            item["arguments"] += function["arguments"]
            events.append(self.event("response.function_call_arguments.delta", item_id=item["id"],
                                     output_index=self.response["output"].index(item), delta=function["arguments"]))
        return events

    def _close(self) -> list[dict]:
        item, self.item = self.item, None
        if item is None:
            return []
        index = self.response["output"].index(item)
        events = []
        if item["type"] == "reasoning":
            sealed = reasoning_item(self.reasoning_text, self.thinking, self.request, id=item["id"])
            item.clear()
            item.update(sealed)
            if item["summary"]:
                text = item["summary"][0]["text"]
                events += [self.event("response.reasoning_summary_text.done", item_id=item["id"], output_index=index,
                                      summary_index=0, text=text),
                           self.event("response.reasoning_summary_part.done", item_id=item["id"], output_index=index,
                                      summary_index=0, part={"type": "summary_text", "text": text})]
            self.reasoning_text, self.thinking = "", []
        elif item["type"] == "message":
            part = item["content"][0]
            events += [self.event("response.output_text.done", item_id=item["id"], output_index=index,
                                  content_index=0, text=part["text"], logprobs=[]),
                       self.event("response.content_part.done", item_id=item["id"], output_index=index,
                                  content_index=0, part=dict(part))]
            item["status"] = "completed"
        else:
            item["arguments"] = item["arguments"] or "{}"
            events.append(self.event("response.function_call_arguments.done", item_id=item["id"],
                                     output_index=index, name=item["name"], arguments=item["arguments"]))
            item["status"] = "completed"
        return events + [self.event("response.output_item.done", output_index=index, item=_copy(item))]


def _copy(item: dict) -> dict:
    return json.loads(json.dumps(item))
