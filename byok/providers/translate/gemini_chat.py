"""OpenAI Chat Completions ↔ Gemini generateContent / streamGenerateContent on Vertex AI, in its REST API's JSON.

In: `chat_to_gemini` gives the request body: system/developer messages as `systemInstruction`; user text and images
(data URLs as `inlineData`, http(s) links as `fileData`, which Vertex AI fetches itself); assistant tool calls as
`functionCall` parts and tool messages as `functionResponse` parts (named after the call they answer); tools as
function declarations (their JSON Schema in Gemini's subset, see gemini_schema), tool_choice as the function calling
mode; temperature, top_p, stop, max tokens and response_format (JSON, with its schema) as `generationConfig`. The
body is what google-genai sends for the same request, in the REST reference's camelCase (Vertex AI's JSON parser
takes either spelling of a field) and with an image's base64 passed on as the caller sent it.

Out: chat.completion (and chunk) dicts from the response JSON: text (thoughts left out), `functionCall` parts as
`tool_calls` with `call_…` ids and JSON arguments (finish_reason `tool_calls`), usage last (thinking tokens count as
completion tokens, and are also given as `reasoning_tokens`; cached prompt tokens as `cached_tokens`).
"""

import json
import re
import uuid
from typing import Any
from urllib.parse import urlsplit

from . import RequestInvalid
from .common import (
    chat_completion,
    chunk,
    completion_id,
    function_tools,
    image_of,
    max_tokens_of,
    now,
    parts_of,
    stop_list,
    text_of,
    tool_arguments,
    usage,
)
from .gemini_schema import gemini_schema

_FINISH = {"STOP": "stop", "MAX_TOKENS": "length", "SAFETY": "content_filter", "RECITATION": "content_filter",
           "BLOCKLIST": "content_filter", "PROHIBITED_CONTENT": "content_filter", "SPII": "content_filter",
           "IMAGE_SAFETY": "content_filter"}
# What Gemini on Vertex AI reads as images (no GIF); a link's type comes from its file name.
_INLINE_TYPES = {"image/png": "image/png", "image/jpeg": "image/jpeg", "image/jpg": "image/jpeg",
                 "image/webp": "image/webp"}
_LINK_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp",
               ".heic": "image/heic", ".heif": "image/heif"}
_FUNCTION_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_.:-]{0,127}")
_MODES = {"auto": "AUTO", "none": "NONE", "required": "ANY"}


def _finish(reason: Any) -> str | None:
    return _FINISH.get(str(reason), "stop") if reason else None


def chat_to_gemini(body: dict) -> dict:
    """The generateContent request body for a chat request."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RequestInvalid("messages must be a non-empty list.", param="messages")
    system: list[str] = []
    contents: list[dict] = []
    call_names: dict[str, str] = {}  # tool call id -> function name, for the tool messages that answer them
    for index, message in enumerate(messages):
        try:
            turn = _turn(message, system, call_names)
        except RequestInvalid as exc:
            raise RequestInvalid(f"messages[{index}]: {exc}", param="messages") from None
        if turn is None:
            continue
        if contents and contents[-1]["role"] == turn["role"]:  # a call's results (and what follows) share a turn
            contents[-1]["parts"] += turn["parts"]
        else:
            contents.append(turn)
    if not any(turn["role"] == "user" for turn in contents):
        raise RequestInvalid("messages: at least one user message is required.", param="messages")
    request: dict[str, Any] = {"contents": contents}
    if system:  # a string system instruction, as google-genai sends it: one text part of a user turn
        request["systemInstruction"] = {"role": "user", "parts": [{"text": "\n".join(system)}]}
    request.update(_tools(body))
    request["generationConfig"] = _generation_config(body)
    return request


def _turn(message, system: list[str], call_names: dict[str, str]) -> dict | None:
    """One message as a Gemini turn (None: it adds nothing Gemini takes, as an empty message or a system one)."""
    if not isinstance(message, dict):
        raise RequestInvalid("Each message is an object with a role.", param="messages")
    role, content = message.get("role"), message.get("content")
    if role in ("system", "developer"):
        system.append(text_of(content))
        return None
    if role == "user":
        parts = [part for part in map(_user_part, parts_of(content)) if part != {"text": ""}]
    elif role == "assistant":
        parts = [{"text": text} for text in [text_of(content)] if text] + _function_calls(message, call_names)
    elif role == "tool":
        parts = [_function_response(message, call_names)]
    else:
        raise RequestInvalid(f"Unknown message role {role!r}; use system, developer, user, assistant or tool.",
                             param="messages")
    # Gemini refuses a turn without parts; an empty message says nothing to the model.
    return {"role": "model" if role == "assistant" else "user", "parts": parts} if parts else None


def _user_part(part: dict) -> dict:
    kind = part.get("type")
    if kind in ("text", "input_text"):
        if not isinstance(part.get("text", ""), str):
            raise RequestInvalid("A text part's text must be a string.", param="messages")
        return {"text": part.get("text", "")}
    if kind == "image_url":
        return _image_part(part)
    raise RequestInvalid(f"Unsupported content part type {kind!r}; Gemini takes text and image_url parts.",
                         param="messages")


def _image_part(part: dict) -> dict:
    url, media, data = image_of(part)
    if data is not None:
        if media not in _INLINE_TYPES:
            raise RequestInvalid(f"Gemini does not read {media} images; send PNG, JPEG or WebP.", param="messages")
        return {"inlineData": {"mimeType": _INLINE_TYPES[media], "data": data}}  # base64, checked by image_of
    parts = urlsplit(url)
    if parts.scheme == "gs":
        # Vertex AI reads Cloud Storage as the key's service account: a member must not reach the owner's buckets.
        raise RequestInvalid("gs:// images would be read with the key owner's service account; send an https:// "
                             "link or a data URL.", param="messages")
    if parts.scheme not in ("https", "http"):
        raise RequestInvalid("An image_url is a data: URL or an http(s):// link.", param="messages")
    suffix = parts.path[parts.path.rfind("."):].lower() if "." in parts.path.rsplit("/", 1)[-1] else ""
    if suffix not in _LINK_TYPES:
        # Vertex AI needs the type of a file it fetches, and an OpenAI image_url does not carry one.
        raise RequestInvalid("Gemini needs an image link's type: use a link whose file name ends in .png, .jpg, "
                             ".jpeg, .webp, .heic or .heif, or send the image as a data URL.", param="messages")
    return {"fileData": {"mimeType": _LINK_TYPES[suffix], "fileUri": url}}


def _function_calls(message: dict, call_names: dict[str, str]) -> list[dict]:
    calls = message.get("tool_calls") or []
    if not isinstance(calls, list):
        raise RequestInvalid("tool_calls must be a list.", param="messages")
    parts = []
    for index, call in enumerate(calls):
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str) or not function["name"]:
            raise RequestInvalid(f"tool_calls[{index}] needs function.name.", param="messages")
        try:
            arguments = tool_arguments(function.get("arguments"))
        except RequestInvalid as exc:
            raise RequestInvalid(f"tool_calls[{index}]: {exc}", param="messages") from None
        if isinstance(call.get("id"), str):
            call_names[call["id"]] = function["name"]
        parts.append({"functionCall": {"name": function["name"], "args": arguments}})
    return parts


def _function_response(message: dict, call_names: dict[str, str]) -> dict:
    call_id = message.get("tool_call_id")
    if call_id not in call_names:
        raise RequestInvalid("tool_call_id must be the id of a tool call in an earlier assistant message (Gemini "
                             "answers a function by its name).", param="messages")
    text = text_of(message.get("content"))
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    # Gemini takes a function's response as an object; anything else goes under "output", the key it reads.
    response = value if isinstance(value, dict) else {"output": text}
    return {"functionResponse": {"name": call_names[call_id], "response": response}}


def _number(body: dict, name: str) -> float | None:
    value = body.get(name)
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise RequestInvalid(f"{name} must be a number.", param=name)
    return value


def _generation_config(body: dict) -> dict:
    config: dict[str, Any] = {}
    if body.get("max_completion_tokens") is not None or body.get("max_tokens") is not None:
        config["maxOutputTokens"] = max_tokens_of(body)  # otherwise Gemini's own limit, thinking included
    for ours, theirs in (("temperature", "temperature"), ("top_p", "topP")):
        if (value := _number(body, ours)) is not None:
            config[theirs] = value
    if stop := stop_list(body.get("stop")):
        config["stopSequences"] = stop
    response_format = body.get("response_format")
    if response_format is None:
        return config
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if kind == "json_object":
        config["responseMimeType"] = "application/json"
    elif kind == "json_schema":
        spec = response_format.get("json_schema")
        if not isinstance(spec, dict):
            raise RequestInvalid("response_format.json_schema must be an object with a schema.",
                                 param="response_format")
        config["responseMimeType"] = "application/json"
        if spec.get("schema") is not None:
            config["responseSchema"] = gemini_schema(spec["schema"], param="response_format.json_schema.schema",
                                                     ordered=True)
    elif kind != "text":
        raise RequestInvalid("response_format.type must be text, json_object or json_schema.",
                             param="response_format")
    return config


def _tools(body: dict) -> dict:
    """The request's `tools` and `toolConfig` ({} without tools)."""
    tools = function_tools(body.get("tools"))
    choice = body.get("tool_choice")
    if not tools:
        if choice not in (None, "none", "auto"):
            raise RequestInvalid("tool_choice needs tools.", param="tool_choice")
        return {}
    declarations = []
    for index, tool in enumerate(tools):
        if not _FUNCTION_NAME.fullmatch(tool["name"]):
            raise RequestInvalid(f"tools[{index}].function.name: Gemini takes function names that start with a "
                                 "letter or an underscore, then letters, digits, _ . : or - (128 at most).",
                                 param="tools")
        declaration = {"name": tool["name"]}
        if tool["description"]:
            declaration["description"] = tool["description"]
        parameters = gemini_schema(tool["parameters"], param=f"tools[{index}].function.parameters")
        parameters.setdefault("type", "OBJECT")  # a function's parameters are an object, said or not
        if parameters["type"] != "OBJECT":
            raise RequestInvalid(f"tools[{index}].function.parameters must be an object schema.", param="tools")
        if parameters.get("properties"):  # Gemini refuses an object without properties: no parameters at all
            declaration["parameters"] = parameters
        declarations.append(declaration)
    calling: dict[str, Any]
    if choice is None:
        return {"tools": [{"functionDeclarations": declarations}]}
    if isinstance(choice, str) and choice in _MODES:
        calling = {"mode": _MODES[choice]}
    elif isinstance(choice, dict) and isinstance((choice.get("function") or {}).get("name"), str):
        name = choice["function"]["name"]
        if name not in {tool["name"] for tool in tools}:
            raise RequestInvalid(f"tool_choice names {name!r}, which is not one of the tools.", param="tool_choice")
        calling = {"mode": "ANY", "allowedFunctionNames": [name]}
    else:
        raise RequestInvalid("tool_choice must be auto, none, required or a named function.", param="tool_choice")
    return {"tools": [{"functionDeclarations": declarations}], "toolConfig": {"functionCallingConfig": calling}}


# --- Gemini → OpenAI ----------------------------------------------------------------------------------------------


def _candidate(response: dict) -> dict:
    candidates = response.get("candidates") or []
    return candidates[0] if candidates else {}


def _parts(response: dict) -> list[dict]:
    return (_candidate(response).get("content") or {}).get("parts") or []


def _text(parts: list[dict]) -> str:
    return "".join(part["text"] for part in parts if part.get("text") and not part.get("thought"))


def _tool_calls(parts: list[dict]) -> list[dict]:
    """The function calls, as OpenAI tool calls; Vertex AI gives no call ids, so each gets one."""
    return [{"id": call.get("id") or f"call_{uuid.uuid4().hex[:24]}", "type": "function",
             "function": {"name": call.get("name", ""), "arguments": json.dumps(call.get("args") or {})}}
            for call in (part.get("functionCall") for part in parts) if call]


def _reason(response: dict) -> str | None:
    if response.get("candidates"):
        return _finish(_candidate(response).get("finishReason"))
    return "content_filter" if (response.get("promptFeedback") or {}).get("blockReason") else None


def _usage(meta: dict | None) -> dict:
    """OpenAI's usage of `usageMetadata`: thinking is output Google bills, so it counts as completion tokens."""
    meta = meta or {}
    thoughts, cached = meta.get("thoughtsTokenCount") or 0, meta.get("cachedContentTokenCount") or 0
    out = usage(meta.get("promptTokenCount") or 0, (meta.get("candidatesTokenCount") or 0) + thoughts)
    if cached:
        out["prompt_tokens_details"] = {"cached_tokens": cached}
    if thoughts:
        out["completion_tokens_details"] = {"reasoning_tokens": thoughts}
    return out


def gemini_to_chat(response: dict, *, model: str) -> dict:
    parts = _parts(response)
    calls = _tool_calls(parts)
    tokens = _usage(response.get("usageMetadata"))
    out = chat_completion(id=completion_id(), model=model, text=_text(parts), tool_calls=calls, stop=None,
                          prompt_tokens=tokens["prompt_tokens"], completion_tokens=tokens["completion_tokens"])
    out["choices"][0]["finish_reason"] = "tool_calls" if calls else _reason(response) or "stop"
    out["usage"] = tokens  # with its details
    return out


class GeminiStreamToChat:
    """streamGenerateContent's responses (one per server-sent event) in, chat.completion.chunk dicts out; `finish`
    ends with the usage chunk.

    Gemini streams a function call whole, in one part: it becomes one tool_calls delta (id, name, arguments)."""

    def __init__(self, *, model: str) -> None:
        self.id, self.model, self.created = completion_id(), model, now()
        self.started, self.reason, self.usage, self.calls = False, None, None, 0

    def _chunk(self, delta=None, finish=None, usage_=None) -> dict:
        return chunk(id=self.id, model=self.model, created=self.created, delta=delta, finish=finish, usage_=usage_)

    def feed(self, response: dict) -> list[dict]:
        out = []
        if not self.started:
            self.started = True
            out.append(self._chunk({"role": "assistant", "content": ""}))
        parts = _parts(response)
        if text := _text(parts):
            out.append(self._chunk({"content": text}))
        for call in _tool_calls(parts):
            out.append(self._chunk({"tool_calls": [{"index": self.calls, **call}]}))
            self.calls += 1
        if reason := _reason(response):
            self.reason = reason
        if response.get("usageMetadata") is not None:
            self.usage = response["usageMetadata"]
        return out

    def finish(self) -> list[dict]:
        out = [] if self.started else [self._chunk({"role": "assistant", "content": ""})]
        reason = "tool_calls" if self.calls else self.reason or "stop"
        return out + [self._chunk({}, finish=reason), self._chunk(usage_=_usage(self.usage))]
