"""What every translation of an OpenAI Chat Completions request shares: content parts, images, JSON mode."""

import base64
import json
import re
import time
import uuid

from . import RequestInvalid

DEFAULT_MAX_TOKENS = 4096  # Anthropic and Bedrock need a limit; OpenAI callers often send none
_DATA_URL = re.compile(r"data:(?P<media>image/[a-zA-Z0-9.+-]+);base64,(?P<data>.+)", re.S)
IMAGE_FORMATS = {"image/png": "png", "image/jpeg": "jpeg", "image/jpg": "jpeg", "image/gif": "gif",
                 "image/webp": "webp"}
JSON_INSTRUCTION = "Respond with a single valid JSON object and nothing else (no prose, no code fences)."


def completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex[:24]}"


def now() -> int:
    return int(time.time())


def text_of(content) -> str:
    """The text of a message's content (a string or a list of parts)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict)
                       and part.get("type") in ("text", "input_text"))
    raise RequestInvalid("Message content must be a string or a list of content parts.", param="messages")


def parts_of(content) -> list[dict]:
    """Content as a list of OpenAI content parts."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if isinstance(content, list) and all(isinstance(p, dict) for p in content):
        return content
    raise RequestInvalid("Message content must be a string or a list of content parts.", param="messages")


def image_of(part: dict) -> tuple[str, str | None, str | None]:
    """An image_url part as (url, media type, base64 data): data URLs decoded, other URLs kept as URLs."""
    image = part.get("image_url")
    url = image.get("url") if isinstance(image, dict) else image
    if not isinstance(url, str) or not url:
        raise RequestInvalid("An image_url part needs image_url.url.", param="messages")
    match = _DATA_URL.fullmatch(url)
    if match is None:
        return url, None, None
    media = match["media"].lower()
    if media not in IMAGE_FORMATS:
        raise RequestInvalid(f"Unsupported image type {media}; use PNG, JPEG, GIF or WebP.", param="messages")
    data = match["data"].strip()
    try:
        base64.b64decode(data, validate=True)
    except ValueError:
        raise RequestInvalid("The image's data URL is not valid base64.", param="messages") from None
    return url, media, data


def json_mode_instruction(response_format) -> str:
    """Providers without a JSON mode get the instruction in the system prompt ("" when none is asked)."""
    if not isinstance(response_format, dict):
        return ""
    kind = response_format.get("type")
    if kind == "json_object":
        return JSON_INSTRUCTION
    if kind == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema")
        return JSON_INSTRUCTION + (f" The object must follow this JSON schema: {json.dumps(schema)}" if schema else "")
    return ""


def max_tokens_of(body: dict) -> int:
    """The caller's limit (max_completion_tokens, else max_tokens; 0 is refused, not taken for none), or ours."""
    value = next((body[name] for name in ("max_completion_tokens", "max_tokens") if body.get(name) is not None),
                 DEFAULT_MAX_TOKENS)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise RequestInvalid("max_tokens must be a positive integer.", param="max_tokens")
    return value


def stop_list(stop) -> list[str]:
    if stop is None:
        return []
    if isinstance(stop, str):
        return [stop]
    if isinstance(stop, list) and all(isinstance(s, str) for s in stop):
        return stop
    raise RequestInvalid("stop must be a string or a list of strings.", param="stop")


def tool_arguments(arguments) -> dict:
    if isinstance(arguments, dict):
        return arguments
    try:
        value = json.loads(arguments or "{}")
    except (TypeError, ValueError):
        raise RequestInvalid("A tool call's function.arguments must be a JSON object string.",
                             param="messages") from None
    if not isinstance(value, dict):
        raise RequestInvalid("A tool call's function.arguments must be a JSON object.", param="messages")
    return value


def function_tools(tools) -> list[dict]:
    """OpenAI tools as (name, description, parameters) dicts."""
    if not tools:
        return []
    if not isinstance(tools, list):
        raise RequestInvalid("tools must be a list.", param="tools")
    out = []
    for tool in tools:
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(function, dict) or not function.get("name"):
            raise RequestInvalid("Each tool is {\"type\": \"function\", \"function\": {\"name\": …}}.", param="tools")
        out.append({"name": function["name"], "description": function.get("description", ""),
                    "parameters": function.get("parameters") or {"type": "object", "properties": {}}})
    return out


def merge_turns(turns: list[dict]) -> list[dict]:
    """Consecutive messages of one role merged (Anthropic and Bedrock alternate user and assistant)."""
    merged: list[dict] = []
    for turn in turns:
        if merged and merged[-1]["role"] == turn["role"]:
            merged[-1]["content"] = merged[-1]["content"] + turn["content"]
        else:
            merged.append({"role": turn["role"], "content": list(turn["content"])})
    return merged


FINISH_REASONS = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length", "tool_use": "tool_calls",
                  "content_filtered": "content_filter", "guardrail_intervened": "content_filter",
                  "refusal": "content_filter", "pause_turn": "stop", "model_context_window_exceeded": "length"}


def finish_reason(stop: str | None) -> str | None:
    return FINISH_REASONS.get(stop, "stop") if stop else None


def chat_completion(*, model: str, id: str = "", text: str, tool_calls: list[dict], stop: str | None,
                    prompt_tokens: int, completion_tokens: int) -> dict:
    message = {"role": "assistant", "content": text or (None if tool_calls else "")}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {"id": id or completion_id(), "object": "chat.completion", "created": now(), "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish_reason(stop), "logprobs": None}],
            "usage": usage(prompt_tokens, completion_tokens)}


def usage(prompt_tokens: int, completion_tokens: int) -> dict:
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens}


def chunk(*, id: str, model: str, created: int, delta: dict | None = None, finish: str | None = None,
          usage_: dict | None = None) -> dict:
    out = {"id": id, "object": "chat.completion.chunk", "created": created, "model": model,
           "choices": [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish,
                                                 "logprobs": None}]}
    if usage_ is not None:
        out["usage"] = usage_
    return out


class StreamToChat:
    """The one interface of every stream translation: `feed(event)` takes one event of the provider's stream and
    returns 0..n chat.completion.chunk dicts; `finish()` returns what is left once the stream ends."""

    def __init__(self, *, model: str) -> None:
        self.id, self.model, self.created = completion_id(), model, now()

    def feed(self, event) -> list[dict]:
        raise NotImplementedError

    def finish(self) -> list[dict]:
        return []

    def chunk(self, delta=None, finish=None, usage_=None) -> dict:
        return chunk(id=self.id, model=self.model, created=self.created, delta=delta, finish=finish, usage_=usage_)
