"""OpenAI Chat Completions ↔ Gemini generateContent / streamGenerateContent on Vertex AI (google-genai).

In: `chat_to_gemini` gives the request as plain dicts in google-genai's field names (the provider validates them
into the SDK's types): system/developer messages as `system_instruction`; user text and images (data URLs as
`inline_data`, http(s) links as `file_data`, which Vertex AI fetches itself); assistant tool calls as
`function_call` parts and tool messages as `function_response` parts (named after the call they answer); tools as
function declarations (their JSON Schema in Gemini's subset, see gemini_schema), tool_choice as the function
calling mode; temperature, top_p, stop, max tokens and response_format (JSON, with its schema) as generation config.

Out: chat.completion (and chunk) dicts: text, `function_call` parts as `tool_calls` with `call_…` ids and JSON
arguments (finish_reason `tool_calls`), usage last.
"""

import base64
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
    value = getattr(reason, "value", reason)
    return _FINISH.get(str(value), "stop") if value else None


def chat_to_gemini(body: dict) -> dict:
    """generate_content keyword arguments (contents, config) for a chat request."""
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
    config: dict[str, Any] = _generation_config(body)
    if system:
        config["system_instruction"] = "\n".join(system)
    config.update(_tools(body))
    return {"contents": contents, "config": config}


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
        return {"inline_data": {"mime_type": _INLINE_TYPES[media], "data": base64.b64decode(data)}}
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
    return {"file_data": {"mime_type": _LINK_TYPES[suffix], "file_uri": url}}


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
        parts.append({"function_call": {"name": function["name"], "args": arguments}})
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
    return {"function_response": {"name": call_names[call_id], "response": response}}


def _number(body: dict, name: str) -> float | None:
    value = body.get(name)
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise RequestInvalid(f"{name} must be a number.", param=name)
    return value


def _generation_config(body: dict) -> dict:
    config: dict[str, Any] = {}
    if body.get("max_completion_tokens") is not None or body.get("max_tokens") is not None:
        config["max_output_tokens"] = max_tokens_of(body)  # otherwise Gemini's own limit, thinking included
    for ours, theirs in (("temperature", "temperature"), ("top_p", "top_p")):
        if (value := _number(body, ours)) is not None:
            config[theirs] = value
    if stop := stop_list(body.get("stop")):
        config["stop_sequences"] = stop
    response_format = body.get("response_format")
    if response_format is None:
        return config
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if kind == "json_object":
        config["response_mime_type"] = "application/json"
    elif kind == "json_schema":
        spec = response_format.get("json_schema")
        if not isinstance(spec, dict):
            raise RequestInvalid("response_format.json_schema must be an object with a schema.",
                                 param="response_format")
        config["response_mime_type"] = "application/json"
        if spec.get("schema") is not None:
            config["response_schema"] = gemini_schema(spec["schema"], param="response_format.json_schema.schema")
    elif kind != "text":
        raise RequestInvalid("response_format.type must be text, json_object or json_schema.",
                             param="response_format")
    return config


def _tools(body: dict) -> dict:
    """`tools` and `tool_config` of the generate_content config ({} without tools)."""
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
        return {"tools": [{"function_declarations": declarations}]}
    if isinstance(choice, str) and choice in _MODES:
        calling = {"mode": _MODES[choice]}
    elif isinstance(choice, dict) and isinstance((choice.get("function") or {}).get("name"), str):
        name = choice["function"]["name"]
        if name not in {tool["name"] for tool in tools}:
            raise RequestInvalid(f"tool_choice names {name!r}, which is not one of the tools.", param="tool_choice")
        calling = {"mode": "ANY", "allowed_function_names": [name]}
    else:
        raise RequestInvalid("tool_choice must be auto, none, required or a named function.", param="tool_choice")
    return {"tools": [{"function_declarations": declarations}], "tool_config": {"function_calling_config": calling}}


# --- Gemini → OpenAI ----------------------------------------------------------------------------------------------


def _parts(response) -> list:
    candidates = getattr(response, "candidates", None) or []
    return (candidates[0].content.parts or []) if candidates and candidates[0].content else []


def _text(parts: list) -> str:
    return "".join(p.text or "" for p in parts if getattr(p, "text", None) and not getattr(p, "thought", False))


def _tool_calls(parts: list) -> list[dict]:
    """The function calls, as OpenAI tool calls; Vertex AI gives no call ids, so each gets one."""
    return [{"id": part.function_call.id or f"call_{uuid.uuid4().hex[:24]}", "type": "function",
             "function": {"name": part.function_call.name, "arguments": json.dumps(part.function_call.args or {})}}
            for part in parts if getattr(part, "function_call", None)]


def _reason(response) -> str | None:
    candidates = getattr(response, "candidates", None) or []
    if candidates:
        return _finish(candidates[0].finish_reason)
    feedback = getattr(response, "prompt_feedback", None)
    return "content_filter" if feedback is not None and feedback.block_reason else None


def _tokens(response) -> tuple[int, int]:
    meta = getattr(response, "usage_metadata", None)
    if meta is None:
        return 0, 0
    return meta.prompt_token_count or 0, (meta.candidates_token_count or 0) + (meta.thoughts_token_count or 0)


def gemini_to_chat(response, *, model: str) -> dict:
    parts = _parts(response)
    calls = _tool_calls(parts)
    prompt, completion = _tokens(response)
    out = chat_completion(id=completion_id(), model=model, text=_text(parts), tool_calls=calls, stop=None,
                          prompt_tokens=prompt, completion_tokens=completion)
    out["choices"][0]["finish_reason"] = "tool_calls" if calls else _reason(response) or "stop"
    return out


class GeminiStreamToChat:
    """generate_content_stream responses in, chat.completion.chunk dicts out; `finish` ends with the usage chunk.

    Gemini streams a function call whole, in one part: it becomes one tool_calls delta (id, name, arguments)."""

    def __init__(self, *, model: str) -> None:
        self.id, self.model, self.created = completion_id(), model, now()
        self.started, self.reason, self.tokens, self.calls = False, None, (0, 0), 0

    def _chunk(self, delta=None, finish=None, usage_=None) -> dict:
        return chunk(id=self.id, model=self.model, created=self.created, delta=delta, finish=finish, usage_=usage_)

    def feed(self, response) -> list[dict]:
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
        if getattr(response, "usage_metadata", None) is not None:
            self.tokens = _tokens(response)
        return out

    def finish(self) -> list[dict]:
        out = [] if self.started else [self._chunk({"role": "assistant", "content": ""})]
        reason = "tool_calls" if self.calls else self.reason or "stop"
        return out + [self._chunk({}, finish=reason), self._chunk(usage_=usage(*self.tokens))]
