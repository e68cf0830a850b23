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
from .chat import (
    COMMON_RULES,
    OWN,
    Map,
    Part,
    Refuse,
    Rule,
    Turn,
    declared,
    integer,
    json_answer_of,
    max_tokens_of,
    stops_of,
    strings,
    tool_choice_of,
    tools_of,
    walk,
)
from .common import StreamToChat, chat_completion, usage
from .gemini_schema import SchemaBudget, gemini_schema

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


# Chat Completions -> generateContent, field by field (docs/providers.md lists the drops and refusals).
CHAT_TO_GEMINI: dict[str, Rule] = {
    **COMMON_RULES,
    "max_tokens": OWN, "max_completion_tokens": OWN,
    "temperature": Map("generationConfig.temperature"),
    "top_p": Map("generationConfig.topP"),
    "stop": Map("generationConfig.stopSequences", stops_of, check=strings(5)),
    "seed": Map("generationConfig.seed", check=integer(-2**31, 2**31 - 1)),
    "presence_penalty": Map("generationConfig.presencePenalty"),
    "frequency_penalty": Map("generationConfig.frequencyPenalty"),
    "parallel_tool_calls": Refuse("cannot turn parallel function calls off.", accepts=lambda value: value),
    "reasoning_effort": Refuse("takes a thinking budget byok does not set from reasoning_effort yet.",
                               accepts=lambda value: value == "none"),
}


def chat_to_gemini(body: dict) -> dict:
    """The generateContent request body for a chat request."""
    request = declared(body, CHAT_TO_GEMINI, family="Gemini")
    system: list[str] = []
    contents: list[dict] = []
    for index, turn in enumerate(walk(body.get("messages"))):
        if turn.role == "system":
            system += [turn.text] if turn.text else []
            continue
        try:
            parts = _parts_of(turn)
        except RequestInvalid as exc:
            raise RequestInvalid(f"messages[{index}]: {exc}", param="messages") from None
        if not parts:
            continue  # Gemini refuses a turn without parts; an empty message says nothing to the model
        role = "model" if turn.role == "assistant" else "user"
        if contents and contents[-1]["role"] == role:  # a call's results (and what follows) share a turn
            contents[-1]["parts"] += parts
        else:
            contents.append({"role": role, "parts": parts})
    if not any(turn["role"] == "user" for turn in contents):
        raise RequestInvalid("messages: at least one user message is required.", param="messages")
    request["contents"] = contents
    if system:  # a string system instruction, as google-genai sends it: one text part of a user turn
        request["systemInstruction"] = {"role": "user", "parts": [{"text": "\n\n".join(system)}]}
    budget = SchemaBudget()
    request.update(_tools(body, budget))
    config = request.setdefault("generationConfig", {})
    if body.get("max_completion_tokens") or body.get("max_tokens"):
        config["maxOutputTokens"] = max_tokens_of(body, 0)  # otherwise Gemini's own limit, thinking included
    if (answer := json_answer_of(body.get("response_format"))) is not None:
        config["responseMimeType"] = "application/json"
        if answer.schema is not None:
            config["responseSchema"] = gemini_schema(answer.schema, param="response_format.json_schema.schema",
                                                     ordered=True, budget=budget)
    return request


def _parts_of(turn: Turn) -> list[dict]:
    if turn.role == "user":
        return [_image_part(part) if part.kind == "image" else
                {"inlineData": {"mimeType": part.media, "data": part.data}} if part.kind == "file" else
                {"text": part.text} for part in turn.parts if part.kind != "text" or part.text]
    if turn.role == "assistant":
        return [{"text": text} for text in [turn.text] if text] + [
            {"functionCall": {"name": call.name, "args": call.arguments}} for call in turn.tool_calls]
    return [_function_response(turn)]


def _image_part(part: Part) -> dict:
    if part.data is not None:
        if part.media not in _INLINE_TYPES:
            raise RequestInvalid(f"Gemini does not read {part.media} images; send PNG, JPEG or WebP.",
                                 param="messages")
        return {"inlineData": {"mimeType": _INLINE_TYPES[part.media], "data": part.data}}
    try:
        url = urlsplit(part.url)
    except ValueError:  # e.g. an unclosed [IPv6 host]
        raise RequestInvalid("An image_url is a data: URL or an http(s):// link.", param="messages") from None
    if url.scheme == "gs":
        # Vertex AI reads Cloud Storage as the key's service account: a member must not reach the owner's buckets.
        raise RequestInvalid("gs:// images would be read with the key owner's service account; send an https:// "
                             "link or a data URL.", param="messages")
    if url.scheme not in ("https", "http"):
        raise RequestInvalid("An image_url is a data: URL or an http(s):// link.", param="messages")
    suffix = url.path[url.path.rfind("."):].lower() if "." in url.path.rsplit("/", 1)[-1] else ""
    if suffix not in _LINK_TYPES:
        # Vertex AI needs the type of a file it fetches, and an OpenAI image_url does not carry one.
        raise RequestInvalid("Gemini needs an image link's type: use a link whose file name ends in .png, .jpg, "
                             ".jpeg, .webp, .heic or .heif, or send the image as a data URL.", param="messages")
    return {"fileData": {"mimeType": _LINK_TYPES[suffix], "fileUri": part.url}}


def _function_response(turn: Turn) -> dict:
    if not turn.tool_name:
        raise RequestInvalid("tool_call_id must be the id of a tool call in an earlier assistant message (Gemini "
                             "answers a function by its name).", param="messages")
    try:
        value = json.loads(turn.text)
    except ValueError:
        value = None
    # Gemini takes a function's response as an object; anything else goes under "output", the key it reads.
    response = value if isinstance(value, dict) else {"output": turn.text}
    return {"functionResponse": {"name": turn.tool_name, "response": response}}


def _tools(body: dict, budget: SchemaBudget) -> dict:
    """The request's `tools` and `toolConfig` ({} without tools); their schemas spend the request's `budget`."""
    tools = tools_of(body.get("tools"), family="Gemini")
    choice = tool_choice_of(body.get("tool_choice"), tools)
    if not tools:
        if choice is not None and choice.mode not in ("none", "auto"):
            raise RequestInvalid("tool_choice needs tools.", param="tool_choice")
        return {}
    declarations = []
    for index, tool in enumerate(tools):
        if not _FUNCTION_NAME.fullmatch(tool.name):
            raise RequestInvalid(f"tools[{index}].function.name: Gemini takes function names that start with a "
                                 "letter or an underscore, then letters, digits, _ . : or - (128 at most).",
                                 param="tools")
        declaration = {"name": tool.name}
        if tool.description:
            declaration["description"] = tool.description
        parameters = gemini_schema(tool.parameters, param=f"tools[{index}].function.parameters", budget=budget)
        parameters.setdefault("type", "OBJECT")  # a function's parameters are an object, said or not
        if parameters["type"] != "OBJECT":
            raise RequestInvalid(f"tools[{index}].function.parameters must be an object schema.", param="tools")
        if parameters.get("properties"):  # Gemini refuses an object without properties: no parameters at all
            declaration["parameters"] = parameters
        declarations.append(declaration)
    out: dict[str, Any] = {"tools": [{"functionDeclarations": declarations}]}
    if choice is not None:
        calling = ({"mode": "ANY", "allowedFunctionNames": [choice.name]} if choice.mode == "named"
                   else {"mode": _MODES[choice.mode]})
        out["toolConfig"] = {"functionCallingConfig": calling}
    return out


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
    """OpenAI's usage of `usageMetadata`: thinking is output Google bills, so it counts as completion tokens; the
    prompt count includes cached content."""
    meta = meta or {}
    thoughts = meta.get("thoughtsTokenCount") or 0
    return usage(meta.get("promptTokenCount") or 0, (meta.get("candidatesTokenCount") or 0) + thoughts,
                 cache_read=meta.get("cachedContentTokenCount") or 0, reasoning=thoughts)


def gemini_to_chat(response: dict, *, model: str) -> dict:
    parts = _parts(response)
    calls = _tool_calls(parts)
    out = chat_completion(model=model, text=_text(parts), tool_calls=calls, stop=None,
                          tokens=_usage(response.get("usageMetadata")))
    out["choices"][0]["finish_reason"] = "tool_calls" if calls else _reason(response) or "stop"
    return out


class GeminiStreamToChat(StreamToChat):
    """streamGenerateContent's responses (one per server-sent event) in, chat.completion.chunk dicts out; `finish`
    ends with the usage chunk.

    Gemini streams a function call whole, in one part: it becomes one tool_calls delta (id, name, arguments)."""

    def __init__(self, *, model: str) -> None:
        super().__init__(model=model)
        self.started, self.reason, self.usage, self.calls = False, None, None, 0

    def feed(self, response: dict) -> list[dict]:
        out = []
        if not self.started:
            self.started = True
            out.append(self.chunk({"role": "assistant", "content": ""}))
        parts = _parts(response)
        if text := _text(parts):
            out.append(self.chunk({"content": text}))
        for call in _tool_calls(parts):
            out.append(self.chunk({"tool_calls": [{"index": self.calls, **call}]}))
            self.calls += 1
        if reason := _reason(response):
            self.reason = reason
        if response.get("usageMetadata") is not None:
            self.usage = response["usageMetadata"]
        return out

    def finish(self) -> list[dict]:
        out = [] if self.started else [self.chunk({"role": "assistant", "content": ""})]
        reason = "tool_calls" if self.calls else self.reason or "stop"
        return out + [self.chunk({}, finish=reason), self.chunk(usage_=_usage(self.usage))]
