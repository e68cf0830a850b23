"""What each simulated model allows: its most output tokens per call, and how each provider words a request over it.

The figures are the providers' published limits for the models the simulator serves (a provider's own data, which
the simulator stands in for); a model not listed gets its family's default.
"""

from __future__ import annotations

import re

from .accounts import bedrock_base_model_id

# (pattern on the model id without a Bedrock prefix / Vertex "@date" suffix, most output tokens), first match wins.
_MAX_OUTPUT_TOKENS: tuple[tuple[str, int], ...] = (
    (r"claude-opus-4-[01]", 32_000),
    (r"claude-opus-4-[6-9]|claude-opus-[5-9]", 128_000),
    (r"claude-(sonnet|opus|haiku)", 64_000),
    (r"gpt-5", 128_000),
    (r"gpt-4\.1", 32_768),
    (r"gpt-4o", 16_384),
    (r"o[134]", 100_000),
    (r"gemini-2\.5|gemini-3", 65_535),
    (r"gemini", 8_192),
    (r"deepseek-reasoner", 65_536),
    (r"deepseek", 8_192),
    (r"grok", 131_072),
    (r"glm", 98_304),
    (r"gpt-oss", 65_536),
    (r"llama-3\.1-8b", 131_072),
    (r"llama", 32_768),
    (r"mistral|magistral|codestral|devstral", 32_768),
)
DEFAULT_MAX_OUTPUT_TOKENS = 8_192


def max_output_tokens(model: str) -> int:
    """The most output tokens `model` (any provider's spelling) answers in one call."""
    name = bedrock_base_model_id(model).removeprefix("anthropic.").partition("@")[0]
    for pattern, limit in _MAX_OUTPUT_TOKENS:
        if re.search(pattern, name):
            return limit
    return DEFAULT_MAX_OUTPUT_TOKENS


def anthropic_max_tokens_error(max_tokens: int, model: str) -> str | None:
    """The Messages API's refusal of a `max_tokens` over the model's limit (Anthropic, Bedrock, Vertex), or None."""
    limit = max_output_tokens(model)
    if max_tokens <= limit:
        return None
    return f"max_tokens: {max_tokens} > {limit}, which is the maximum allowed number of output tokens for {model}"


def openai_max_tokens_error(field: str, max_tokens: int, model: str) -> str | None:
    """OpenAI's refusal of `max_tokens` / `max_completion_tokens` / `max_output_tokens` over the limit, or None."""
    limit = max_output_tokens(model)
    if max_tokens <= limit:
        return None
    return (f"{field} is too large: {max_tokens}. This model supports at most {limit} completion tokens, whereas "
            f"you provided {max_tokens}.")


def converse_max_tokens_error(max_tokens: int, model: str) -> str | None:
    """Bedrock Converse's refusal of `inferenceConfig.maxTokens` over the limit, or None."""
    limit = max_output_tokens(model)
    if max_tokens <= limit:
        return None
    return (f"The maximum tokens you requested exceeds the model limit of {limit}. Try again with a maximum tokens "
            f"value that is lower than {limit}.")


def gemini_max_tokens_error(max_tokens: int, model: str) -> str | None:
    """Vertex AI Gemini's refusal of `maxOutputTokens` over the limit, or None."""
    limit = max_output_tokens(model)
    if max_tokens <= limit:
        return None
    return (f"Unable to submit request because it has a maxOutputTokens value of {max_tokens} but the supported "
            f"range is from 1 (inclusive) to {limit + 1} (exclusive). Update the value and try again.")
