"""What every translation into OpenAI Chat Completions shares: its answer and chunk shapes, finish reasons, merged
turns and the stream-translator interface."""

import time
import uuid


def completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex[:24]}"


def now() -> int:
    return int(time.time())


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
                    tokens: dict, thinking_blocks: list[dict] = ()) -> dict:
    """An OpenAI chat completion; Claude's thinking rides along as LiteLLM carries it (`thinking_blocks`, signed, to
    hand back in a tool loop, and their text as `reasoning_content`)."""
    message = {"role": "assistant", "content": text or (None if tool_calls else "")}
    if tool_calls:
        message["tool_calls"] = tool_calls
    if thinking_blocks:
        message["reasoning_content"] = "".join(block.get("thinking", "") for block in thinking_blocks)
        message["thinking_blocks"] = list(thinking_blocks)
    return {"id": id or completion_id(), "object": "chat.completion", "created": now(), "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish_reason(stop), "logprobs": None}],
            "usage": tokens}


def usage(prompt_tokens: int, completion_tokens: int, *, cache_read: int = 0, cache_write_5m: int = 0,
          cache_write_1h: int = 0, reasoning: int = 0) -> dict:
    """Chat's usage. `prompt_tokens` counts every input token, cached or not (as OpenAI's does); cache reads are
    OpenAI's `prompt_tokens_details.cached_tokens`, and cache writes, which OpenAI's shape has no field for, are given
    under Anthropic's names (`cache_creation_input_tokens`, `cache_creation`), as LiteLLM does."""
    out = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
           "total_tokens": prompt_tokens + completion_tokens}
    if cache_read or cache_write_5m or cache_write_1h:
        out["prompt_tokens_details"] = {"cached_tokens": cache_read}
    if cache_write_5m or cache_write_1h:
        out["cache_creation_input_tokens"] = cache_write_5m + cache_write_1h
        out["cache_creation"] = {"ephemeral_5m_input_tokens": cache_write_5m,
                                 "ephemeral_1h_input_tokens": cache_write_1h}
    if reasoning:
        out["completion_tokens_details"] = {"reasoning_tokens": reasoning}
    return out


def messages_usage(tokens: dict) -> dict:
    """Chat's usage of an Anthropic Messages `usage` (its input_tokens exclude cache reads and writes)."""
    split = tokens.get("cache_creation") or {}
    write = tokens.get("cache_creation_input_tokens") or 0
    write_1h = split.get("ephemeral_1h_input_tokens") or 0
    read = tokens.get("cache_read_input_tokens") or 0
    return usage((tokens.get("input_tokens") or 0) + write + read, tokens.get("output_tokens") or 0,
                 cache_read=read, cache_write_5m=write - write_1h, cache_write_1h=write_1h)


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
