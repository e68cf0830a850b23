"""OpenAI Chat Completions ↔ Gemini generateContent (google-genai), text only: system and conversation turns in,
a chat.completion or chat.completion.chunk dicts out (usage last). Tools and images are refused with a 400."""

from typing import Any

from . import RequestInvalid
from .common import chat_completion, chunk, completion_id, max_tokens_of, now, stop_list, text_of, usage

_FINISH = {"STOP": "stop", "MAX_TOKENS": "length", "SAFETY": "content_filter", "RECITATION": "content_filter",
           "BLOCKLIST": "content_filter", "PROHIBITED_CONTENT": "content_filter", "SPII": "content_filter"}


def _finish(reason: Any) -> str | None:
    value = getattr(reason, "value", reason)
    return _FINISH.get(str(value), "stop") if value else None


def chat_to_gemini(body: dict) -> dict:
    """generate_content keyword arguments (contents, config) for a chat request."""
    if body.get("tools") or body.get("functions"):
        raise RequestInvalid("Gemini on byok's data plane takes text only: tools are not supported.", param="tools")
    system, contents = [], []
    for message in body.get("messages") or []:
        if not isinstance(message, dict):
            raise RequestInvalid("Each message must be an object.", param="messages")
        content = message.get("content")
        if isinstance(content, list) and any(isinstance(p, dict) and p.get("type") not in ("text", "input_text")
                                             for p in content):
            raise RequestInvalid("Gemini on byok's data plane takes text only: send text content parts.",
                                 param="messages")
        role, text = message.get("role"), text_of(content)
        if role in ("system", "developer"):
            system.append(text)
        elif role in ("user", "assistant"):
            contents.append({"role": "model" if role == "assistant" else "user", "parts": [{"text": text}]})
        else:
            raise RequestInvalid(f"Gemini on byok's data plane takes system, user and assistant messages, not "
                                 f"{role!r}.", param="messages")
    if not contents:
        raise RequestInvalid("messages: at least one user message is required.", param="messages")
    config: dict[str, Any] = {"max_output_tokens": max_tokens_of(body)}
    if system:
        config["system_instruction"] = "\n".join(system)
    for ours, theirs in (("temperature", "temperature"), ("top_p", "top_p")):
        if body.get(ours) is not None:
            config[theirs] = body[ours]
    if stop := stop_list(body.get("stop")):
        config["stop_sequences"] = stop
    return {"contents": contents, "config": config}


def _text(response) -> str:
    candidates = getattr(response, "candidates", None) or []
    parts = (candidates[0].content.parts or []) if candidates and candidates[0].content else []
    return "".join(p.text or "" for p in parts if getattr(p, "text", None) and not getattr(p, "thought", False))


def _tokens(response) -> tuple[int, int]:
    meta = getattr(response, "usage_metadata", None)
    if meta is None:
        return 0, 0
    return meta.prompt_token_count or 0, (meta.candidates_token_count or 0) + (meta.thoughts_token_count or 0)


def gemini_to_chat(response, *, model: str) -> dict:
    candidates = getattr(response, "candidates", None) or []
    prompt, completion = _tokens(response)
    reason = _finish(candidates[0].finish_reason) if candidates else None
    out = chat_completion(id=completion_id(), model=model, text=_text(response), tool_calls=[], stop=None,
                          prompt_tokens=prompt, completion_tokens=completion)
    out["choices"][0]["finish_reason"] = reason or "stop"
    return out


class GeminiStreamToChat:
    """generate_content_stream responses in, chat.completion.chunk dicts out; `finish` ends with the usage chunk."""

    def __init__(self, *, model: str) -> None:
        self.id, self.model, self.created = completion_id(), model, now()
        self.started, self.reason, self.tokens = False, None, (0, 0)

    def _chunk(self, delta=None, finish=None, usage_=None) -> dict:
        return chunk(id=self.id, model=self.model, created=self.created, delta=delta, finish=finish, usage_=usage_)

    def feed(self, response) -> list[dict]:
        out = []
        if not self.started:
            self.started = True
            out.append(self._chunk({"role": "assistant", "content": ""}))
        if text := _text(response):
            out.append(self._chunk({"content": text}))
        candidates = getattr(response, "candidates", None) or []
        if candidates and candidates[0].finish_reason:
            self.reason = _finish(candidates[0].finish_reason)
        if getattr(response, "usage_metadata", None) is not None:
            self.tokens = _tokens(response)
        return out

    def finish(self) -> list[dict]:
        out = [] if self.started else [self._chunk({"role": "assistant", "content": ""})]
        return out + [self._chunk({}, finish=self.reason or "stop"), self._chunk(usage_=usage(*self.tokens))]
