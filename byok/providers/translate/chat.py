"""OpenAI Chat Completions requests, declared once: every field's type, and for each family one rule per field.

A rule is `Map` (the field goes to the family's request, through its transform), `Refuse` (a 400 naming the field
and the family, unless the value asks for nothing the family lacks, e.g. `n: 1`), `Drop` (left out on purpose: the
reason is documented in docs/providers.md) or `Own` (the family's translator reads it itself: messages, tools,
tool_choice, response_format, stream). A field that is not part of the API is a 400, and so is a value of the wrong
type, for every family, before any provider is called. Pass-through families (the OpenAI-compatible ones) check the
types and hand everything else to the provider, which answers for its own extensions.

The shapes of LiteLLM's `map_openai_params` and Portkey's per-provider parameter maps, written as data.
"""

import base64
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from . import RequestInvalid

Check = Callable[[Any, str], Any]  # (value, field name) -> the value, or RequestInvalid naming the field


# --- types ----------------------------------------------------------------------------------------------------

def type_name(value) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
            dict: "an object"}.get(type(value), type(value).__name__)


def with_schema(schema: dict) -> Callable[[Check], Check]:
    """The check states what it accepts as JSON Schema: /v1/openapi.json describes each field by its check
    (byok/gateway/openapi.py), so the description and the checks cannot part."""
    def attach(check: Check) -> Check:
        check.schema = schema
        return check
    return attach


def number(low: float, high: float) -> Check:
    @with_schema({"type": "number", "minimum": low, "maximum": high})
    def check(value, name):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise RequestInvalid(f"{name} must be a number, not {type_name(value)}.", param=name)
        if not low <= value <= high:
            raise RequestInvalid(f"{name} must be between {low:g} and {high:g} (got {value:g}).", param=name)
        return value
    return check


def integer(low: int, high: int) -> Check:
    @with_schema({"type": "integer", "minimum": low, "maximum": high})
    def check(value, name):
        if isinstance(value, bool) or not isinstance(value, int):
            raise RequestInvalid(f"{name} must be an integer, not {type_name(value)}.", param=name)
        if not low <= value <= high:
            raise RequestInvalid(f"{name} must be between {low} and {high} (got {value}).", param=name)
        return value
    return check


JSON_TYPES = {bool: "boolean", str: "string", dict: "object", list: "array"}


def of_type(kind: type, label: str) -> Check:
    @with_schema({"type": JSON_TYPES[kind]})
    def check(value, name):
        if isinstance(value, bool) is not (kind is bool) or not isinstance(value, kind):
            raise RequestInvalid(f"{name} must be {label}, not {type_name(value)}.", param=name)
        return value
    return check


def one_of(*choices: str) -> Check:
    @with_schema({"enum": list(choices)})
    def check(value, name):
        if value not in choices:
            raise RequestInvalid(f"{name} must be one of {', '.join(choices)} (got {value!r}).", param=name)
        return value
    return check


def strings(limit: int) -> Check:
    """A string or a list of up to `limit` strings."""
    @with_schema({"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "maxItems": limit}]})
    def check(value, name):
        if isinstance(value, str):
            return value
        if isinstance(value, list) and len(value) <= limit and all(isinstance(v, str) for v in value):
            return value
        raise RequestInvalid(f"{name} must be a string or a list of at most {limit} strings.", param=name)
    return check


@with_schema({"type": ["string", "object"]})
def string_or_object(value, name):
    if not isinstance(value, (str, dict)):
        raise RequestInvalid(f"{name} must be a string or an object, not {type_name(value)}.", param=name)
    return value


@with_schema({"type": "array", "minItems": 1})
def non_empty_list(value, name):
    if not isinstance(value, list) or not value:
        raise RequestInvalid(f"{name} must be a non-empty list.", param=name)
    return value


boolean = of_type(bool, "a boolean")
string = of_type(str, "a string")
obj = of_type(dict, "an object")
array = of_type(list, "a list")
positive_int = integer(1, 10_000_000)

# Every request field of the Chat Completions API (OpenAI's reference), with its type.
CHAT_FIELDS: dict[str, Check] = {
    "model": string, "messages": non_empty_list, "stream": boolean, "stream_options": obj,
    "max_tokens": positive_int, "max_completion_tokens": positive_int,
    "temperature": number(0, 2), "top_p": number(0, 1), "n": integer(1, 128), "stop": strings(4),
    "presence_penalty": number(-2, 2), "frequency_penalty": number(-2, 2), "logit_bias": obj,
    "logprobs": boolean, "top_logprobs": integer(0, 20), "seed": integer(-2**63, 2**63 - 1),
    "tools": array, "tool_choice": string_or_object, "parallel_tool_calls": boolean,
    "functions": array, "function_call": string_or_object,
    "response_format": obj, "reasoning_effort": one_of("none", "minimal", "low", "medium", "high", "xhigh"),
    "verbosity": one_of("low", "medium", "high"), "user": string, "safety_identifier": string,
    "prompt_cache_key": string, "prompt_cache_retention": string, "metadata": obj, "store": boolean,
    "service_tier": string, "modalities": array, "audio": obj, "prediction": obj, "web_search_options": obj,
}


# --- rules ----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Map:
    """The field goes to `to` (a dotted path in the family's request), through `transform`, once `check` (the
    family's own range, stricter than the API's) accepts it."""
    to: str
    transform: Callable[[Any], Any] = lambda value: value
    check: Check | None = None


@dataclass(frozen=True)
class Refuse:
    """A 400 naming the field and the family, unless `accepts(value)` (a value that asks for nothing missing)."""
    reason: str
    accepts: Callable[[Any], bool] = lambda value: False


@dataclass(frozen=True)
class Drop:
    """Left out on purpose; `reason` is what docs/providers.md says."""
    reason: str


@dataclass(frozen=True)
class Own:
    """The family's translator reads the (type-checked) field itself."""


OWN = Own()
Rule = Map | Refuse | Drop | Own


def one_choice(value) -> bool:
    return value == 1


def falsy(value) -> bool:
    return not value


def zero(value) -> bool:
    return value == 0


def declared(body: Mapping[str, Any], rules: Mapping[str, Rule], *, family: str,
             fields: Mapping[str, Check] | None = None, api: str = "Chat Completions") -> dict:
    """The checked request for a translating family: the `Map`ped fields placed in a new dict (the translator adds
    what it `Own`s). Raises RequestInvalid for an unknown field, a wrong type or a refused value."""
    fields = CHAT_FIELDS if fields is None else fields
    out: dict = {}
    for name, value in body.items():
        check = fields.get(name)
        if check is None:
            raise RequestInvalid(f"{name} is not a {api} request field.", param=name)
        if value is None:
            continue
        value = check(value, name)
        rule = rules[name]
        if isinstance(rule, Refuse) and not rule.accepts(value):
            raise RequestInvalid(f"{name}: {family} {rule.reason}", param=name)
        if isinstance(rule, Map) and rule.to:
            if rule.check is not None:
                try:
                    rule.check(value, name)
                except RequestInvalid as exc:
                    raise RequestInvalid(f"{family}: {exc}", param=name) from None
            _place(out, rule.to, rule.transform(value))
    return out


def checked(body: Mapping[str, Any]) -> None:
    """Pass-through families: the API's fields have the API's types; the provider answers for anything else."""
    for name, value in body.items():
        check = CHAT_FIELDS.get(name)
        if check is not None and value is not None:
            check(value, name)


def _place(out: dict, path: str, value) -> None:
    *parents, last = path.split(".")
    for part in parents:
        out = out.setdefault(part, {})
    out[last] = value


# Rules every translating family shares: what the translator walks itself, and OpenAI account features that mean
# nothing on another provider's API.
COMMON_RULES: dict[str, Rule] = {
    "model": OWN, "messages": OWN, "stream": OWN, "stream_options": OWN, "tools": OWN, "tool_choice": OWN,
    "response_format": OWN, "functions": Refuse("takes tools, not the deprecated functions; send tools."),
    "function_call": Refuse("takes tool_choice, not the deprecated function_call; send tool_choice."),
    "store": Drop("OpenAI's stored completions: byok keeps no completions."),
    "metadata": Drop("OpenAI's stored-completion tags: byok keeps no completions."),
    "service_tier": Drop("OpenAI's processing tiers."),
    "prompt_cache_key": Drop("OpenAI's cache routing hint."),
    "prompt_cache_retention": Drop("OpenAI's cache retention setting."),
    "safety_identifier": Drop("OpenAI's abuse-monitoring identifier; byok's usage records name the member."),
    "user": Drop("OpenAI's end-user identifier; byok's usage records name the member."),
    "n": Refuse("answers one choice per call (n must be 1).", accepts=one_choice),
    "logprobs": Refuse("returns no log probabilities.", accepts=falsy),
    "top_logprobs": Refuse("returns no log probabilities.", accepts=zero),
    "logit_bias": Refuse("has no logit bias."),
    "presence_penalty": Refuse("has no presence penalty.", accepts=zero),
    "frequency_penalty": Refuse("has no frequency penalty.", accepts=zero),
    "modalities": Refuse("answers text only.", accepts=lambda value: value == ["text"]),
    "audio": Refuse("answers text only."),
    "prediction": Refuse("has no predicted outputs."),
    "web_search_options": Refuse("cannot run OpenAI's web search."),
    "verbosity": Refuse("has no verbosity setting."),
}


# --- the message walker: every family reads the conversation from here ---------------------------------------------

@dataclass(frozen=True)
class Part:
    """A text or an image of a message; `cache` is the part's cache_control (Anthropic's prompt-caching mark)."""
    kind: str  # text | image | file
    text: str = ""
    url: str = ""
    media: str | None = None  # an image's or a file's media type, for data URLs
    data: str | None = None  # an image's or a file's base64 data, for data URLs
    cache: dict | None = None
    name: str = ""  # a file's name


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: dict


@dataclass(frozen=True)
class Turn:
    role: str  # system (developer too) | user | assistant | tool
    parts: tuple[Part, ...] = ()
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str = ""  # a tool result: the call it answers
    tool_name: str = ""  # a tool result: the called function's name (read from the call it answers)
    thinking: tuple[dict, ...] = ()  # an assistant turn's Claude thinking blocks, signatures intact

    @property
    def text(self) -> str:
        return "".join(part.text for part in self.parts if part.kind == "text")


_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant", "tool": "tool"}
_TEXT_PARTS = ("text", "input_text")


def walk(messages: list) -> list[Turn]:
    """The conversation as turns, every value type-checked (a 400 naming the message and the field otherwise)."""
    if not messages:
        raise RequestInvalid("messages must be a non-empty list.", param="messages")
    turns: list[Turn] = []
    call_names: dict[str, str] = {}
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            raise RequestInvalid(f"{where} must be an object with a role.", param="messages")
        role = _ROLES.get(message.get("role"))
        if role is None:
            raise RequestInvalid(f"{where}.role must be system, developer, user, assistant or tool "
                                 f"(got {message.get('role')!r}).", param="messages")
        parts = _parts(message.get("content"), where=f"{where}.content", images=role == "user")
        if role == "assistant":
            calls = _tool_calls(message.get("tool_calls"), where=f"{where}.tool_calls")
            call_names.update((call.id, call.name) for call in calls)
            thinking = thinking_blocks_of(message.get("thinking_blocks"), where=f"{where}.thinking_blocks")
            turns.append(Turn("assistant", parts, calls, thinking=thinking))
        elif role == "tool":
            call_id = message.get("tool_call_id")
            if not isinstance(call_id, str) or not call_id:
                raise RequestInvalid(f"{where}.tool_call_id must be the id of the tool call it answers.",
                                     param="messages")
            turns.append(Turn("tool", parts, tool_call_id=call_id, tool_name=call_names.get(call_id, "")))
        else:
            turns.append(Turn(role, parts))
    return turns


def _parts(content, *, where: str, images: bool) -> tuple[Part, ...]:
    if content is None:
        return ()
    if isinstance(content, str):
        return (Part("text", text=content),) if content else ()
    if not isinstance(content, list):
        raise RequestInvalid(f"{where} must be a string or a list of content parts.", param="messages")
    parts = []
    for index, part in enumerate(content):
        at = f"{where}[{index}]"
        if not isinstance(part, dict):
            raise RequestInvalid(f"{at} must be a content part object.", param="messages")
        kind = part.get("type")
        cache = part.get("cache_control")
        if cache is not None and not isinstance(cache, dict):
            raise RequestInvalid(f"{at}.cache_control must be an object.", param="messages")
        if kind in _TEXT_PARTS or kind == "refusal":
            text = part.get("text", part.get("refusal"))
            if not isinstance(text, str):
                raise RequestInvalid(f"{at}.text must be a string.", param="messages")
            parts.append(Part("text", text=text, cache=cache))
        elif kind == "image_url" and images:
            url, media, data = image_of(part, where=at)
            parts.append(Part("image", url=url, media=media, data=data, cache=cache))
        elif kind == "file" and images:
            media, data, name = file_of(part, where=at)
            parts.append(Part("file", media=media, data=data, cache=cache, name=name))
        else:
            allowed = "text, image_url or file" if images else "text"
            raise RequestInvalid(f"{at}.type must be {allowed} here (got {kind!r}).", param="messages")
    return tuple(parts)


def _tool_calls(calls, *, where: str) -> tuple[ToolCall, ...]:
    if calls is None:
        return ()
    if not isinstance(calls, list):
        raise RequestInvalid(f"{where} must be a list.", param="messages")
    out = []
    for index, call in enumerate(calls):
        at = f"{where}[{index}]"
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str) or not function["name"]:
            raise RequestInvalid(f"{at} must be {{\"id\", \"type\": \"function\", \"function\": {{\"name\", "
                                 f"\"arguments\"}}}}.", param="messages")
        call_id = call.get("id")
        if not isinstance(call_id, str) or not call_id:
            raise RequestInvalid(f"{at}.id must be a non-empty string.", param="messages")
        out.append(ToolCall(call_id, function["name"], tool_arguments(function.get("arguments"), where=at)))
    return tuple(out)


def thinking_blocks_of(blocks, *, where: str, param: str = "messages") -> tuple[dict, ...]:
    """Claude's thinking blocks as LiteLLM carries them on an assistant message (`thinking_blocks`): `thinking` with
    its `signature`, or `redacted_thinking` with its `data`; handed back to Claude as they came."""
    if blocks is None:
        return ()
    if not isinstance(blocks, list):
        raise RequestInvalid(f"{where} must be a list of thinking blocks.", param=param)
    out = []
    for index, block in enumerate(blocks):
        at = f"{where}[{index}]"
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "thinking" and isinstance(block.get("thinking"), str) and isinstance(block.get("signature"), str):
            out.append({"type": "thinking", "thinking": block["thinking"], "signature": block["signature"]})
        elif kind == "redacted_thinking" and isinstance(block.get("data"), str):
            out.append({"type": "redacted_thinking", "data": block["data"]})
        else:
            raise RequestInvalid(f"{at} must be {{\"type\": \"thinking\", \"thinking\", \"signature\"}} or "
                                 f"{{\"type\": \"redacted_thinking\", \"data\"}}.", param=param)
    return tuple(out)


def tool_arguments(arguments, *, where: str = "messages") -> dict:
    if isinstance(arguments, dict):
        return arguments
    if arguments is not None and not isinstance(arguments, str):
        raise RequestInvalid(f"{where}.function.arguments must be a JSON object string.", param="messages")
    try:
        value = json.loads(arguments or "{}")
    except ValueError:
        raise RequestInvalid(f"{where}.function.arguments is not valid JSON.", param="messages") from None
    if not isinstance(value, dict):
        raise RequestInvalid(f"{where}.function.arguments must be a JSON object.", param="messages")
    return value


_DATA_URL = re.compile(r"data:(?P<media>image/[a-zA-Z0-9.+-]+);base64,(?P<data>.+)", re.S)
IMAGE_FORMATS = {"image/png": "png", "image/jpeg": "jpeg", "image/jpg": "jpeg", "image/gif": "gif",
                 "image/webp": "webp"}


def image_of(part: dict, *, where: str = "messages") -> tuple[str, str | None, str | None]:
    """An image_url part as (url, media type, base64 data): data URLs decoded, other URLs kept as URLs."""
    image = part.get("image_url")
    url = image.get("url") if isinstance(image, dict) else image
    if not isinstance(url, str) or not url:
        raise RequestInvalid(f"{where}.image_url.url must be a URL or a data URL.", param="messages")
    match = _DATA_URL.fullmatch(url)
    if match is None:
        return url, None, None
    media = match["media"].lower()
    if media not in IMAGE_FORMATS:
        raise RequestInvalid(f"{where}: unsupported image type {media}; use PNG, JPEG, GIF or WebP.",
                             param="messages")
    data = match["data"].strip()
    try:
        base64.b64decode(data, validate=True)
    except ValueError:
        raise RequestInvalid(f"{where}: the image's data URL is not valid base64.", param="messages") from None
    return url, media, data


_FILE_DATA_URL = re.compile(r"data:(?P<media>[a-zA-Z0-9.+-]+/[a-zA-Z0-9.+-]+);base64,(?P<data>.+)", re.S)
FILE_FORMATS = {"application/pdf": "pdf", "text/plain": "txt"}  # what every translating family reads


def file_of(part: dict, *, where: str = "messages") -> tuple[str, str, str]:
    """A file part ({"type": "file", "file": {"file_data": data URL, "filename"}}) as (media type, base64 data,
    name); byok keeps no files, so a `file_id` is refused."""
    file = part.get("file") if isinstance(part.get("file"), dict) else {}
    match = _FILE_DATA_URL.fullmatch(file.get("file_data") or "") if isinstance(file.get("file_data"), str) else None
    if match is None:
        raise RequestInvalid(f"{where}.file.file_data must be a data URL (data:application/pdf;base64,…); byok keeps "
                             f"no files, so a file_id cannot be read.", param="messages")
    media = match["media"].lower()
    if media not in FILE_FORMATS:
        raise RequestInvalid(f"{where}: unsupported file type {media}; send a PDF or plain text.", param="messages")
    data = match["data"].strip()
    try:
        base64.b64decode(data, validate=True)
    except ValueError:
        raise RequestInvalid(f"{where}: the file's data URL is not valid base64.", param="messages") from None
    name = file.get("filename") or "document"
    if not isinstance(name, str):
        raise RequestInvalid(f"{where}.file.filename must be a string.", param="messages")
    return media, data, name


# --- tools ----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    parameters: dict
    cache: dict | None = None


def tools_of(tools, *, family: str) -> list[Tool]:
    """Function tools, checked; another kind of tool (a hosted one) is a 400 naming it and the family."""
    out = []
    for index, tool in enumerate(tools or []):
        at = f"tools[{index}]"
        if not isinstance(tool, dict):
            raise RequestInvalid(f"{at} must be an object.", param="tools")
        if tool.get("type", "function") != "function":
            raise RequestInvalid(f"{at}: {family} runs function tools only, not {tool.get('type')!r} tools.",
                                 param="tools")
        function = tool.get("function")
        if not isinstance(function, dict) or not isinstance(function.get("name"), str) or not function["name"]:
            raise RequestInvalid(f"{at} must be {{\"type\": \"function\", \"function\": {{\"name\": …}}}}.",
                                 param="tools")
        description = function.get("description") or ""
        parameters = function.get("parameters") or {"type": "object", "properties": {}}
        if not isinstance(description, str):
            raise RequestInvalid(f"{at}.function.description must be a string.", param="tools")
        if not isinstance(parameters, dict):
            raise RequestInvalid(f"{at}.function.parameters must be a JSON Schema object.", param="tools")
        cache = tool.get("cache_control")
        if cache is not None and not isinstance(cache, dict):
            raise RequestInvalid(f"{at}.cache_control must be an object.", param="tools")
        out.append(Tool(function["name"], description, parameters, cache))
    return out


@dataclass(frozen=True)
class ToolChoice:
    mode: str  # auto | none | required | named
    name: str = ""


def tool_choice_of(choice, tools: list[Tool]) -> ToolChoice | None:
    if choice is None:
        return None
    if choice in ("auto", "none", "required"):
        return ToolChoice(choice)
    function = choice.get("function") if isinstance(choice, dict) else None
    if isinstance(function, dict) and isinstance(function.get("name"), str):
        name = function["name"]
        if name not in {tool.name for tool in tools}:
            raise RequestInvalid(f"tool_choice names {name!r}, which is not one of the tools.", param="tool_choice")
        return ToolChoice("named", name)
    raise RequestInvalid("tool_choice must be auto, none, required or {\"type\": \"function\", \"function\": "
                         "{\"name\": …}}.", param="tool_choice")


# --- structured output ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class JsonAnswer:
    """response_format asking for JSON: an object (no schema), or one that follows `schema`."""
    schema: dict | None
    name: str = "answer"


JSON_TOOL = "json_answer"  # the forced tool that carries a JSON answer (response_format), never shown to the caller
JSON_TOOL_DESCRIPTION = "Give your final answer as this JSON value."


def json_answer_choice(tools: list[Tool], choice: ToolChoice | None) -> ToolChoice:
    """The tool choice once a JSON answer is a forced tool beside the caller's tools: the model must call one of them
    (the answer tool alone when the caller gave none, or asked for no tool)."""
    if any(tool.name == JSON_TOOL for tool in tools):
        raise RequestInvalid(f"tools: {JSON_TOOL!r} is the name byok gives the JSON answer; rename the tool.",
                             param="tools")
    if choice is None or choice.mode in ("auto", "required"):
        return ToolChoice("required") if tools else ToolChoice("named", JSON_TOOL)
    if choice.mode == "none":
        return ToolChoice("named", JSON_TOOL)
    return choice


def json_answer_of(response_format) -> JsonAnswer | None:
    if response_format is None:
        return None
    kind = response_format.get("type")
    if kind == "text":
        return None
    if kind == "json_object":
        return JsonAnswer(None)
    if kind == "json_schema":
        spec = response_format.get("json_schema")
        if not isinstance(spec, dict) or not isinstance(spec.get("schema"), dict):
            raise RequestInvalid("response_format.json_schema.schema must be a JSON Schema object.",
                                 param="response_format")
        name = spec.get("name") or "answer"
        if not isinstance(name, str):
            raise RequestInvalid("response_format.json_schema.name must be a string.", param="response_format")
        return JsonAnswer(spec["schema"], name)
    raise RequestInvalid("response_format.type must be text, json_object or json_schema.", param="response_format")


def max_tokens_of(body: Mapping[str, Any], default: int) -> int:
    """The caller's limit (max_completion_tokens, else max_tokens; both type-checked already), or `default`."""
    return body.get("max_completion_tokens") or body.get("max_tokens") or default


def stops_of(stop) -> list[str]:
    return [] if stop is None else [stop] if isinstance(stop, str) else list(stop)

