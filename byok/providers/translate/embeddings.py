"""OpenAI Embeddings requests, declared once: every field's type, and for each family that embeds one rule per field
(the rules of translate/chat.py). The OpenAI-compatible families pass the request through (types checked); Bedrock
(Titan Text Embeddings v2, Cohere Embed) and Vertex AI are translated, and their answers come back in OpenAI's shape,
`encoding_format: base64` as OpenAI encodes it (little-endian float32s).
"""

import base64
import struct
from collections.abc import Mapping
from typing import Any

from . import RequestInvalid
from .chat import OWN, Check, Drop, Map, Refuse, Rule, declared, integer, one_of, string, with_schema

MAX_INPUTS = 2048  # OpenAI's own limit on inputs per request
_TOKENS = {"type": "array", "items": {"type": "integer", "minimum": 0}, "minItems": 1}
_TEXT = {"type": "string", "minLength": 1}


@with_schema({"anyOf": [_TEXT, _TOKENS, {"type": "array", "items": {"anyOf": [_TEXT, _TOKENS]}, "minItems": 1,
                                          "maxItems": MAX_INPUTS}]})
def _input(value, name):
    """A string, a list of strings, a token array or a list of token arrays; never empty, at most MAX_INPUTS."""
    if isinstance(value, str) or _tokens(value):
        value = [value]
    if not isinstance(value, list) or not value:
        raise RequestInvalid(f"{name} must be a non-empty string, a list of strings, a token array or a list of "
                             "token arrays.", param=name)
    if len(value) > MAX_INPUTS:
        raise RequestInvalid(f"{name} holds {len(value)} inputs; at most {MAX_INPUTS} per request.", param=name)
    for index, item in enumerate(value):
        if not (isinstance(item, str) and item) and not _tokens(item):
            raise RequestInvalid(f"{name}[{index}] must be a non-empty string or a non-empty token array "
                                 "(integers).", param=name)
    return value


def _tokens(value) -> bool:
    return (isinstance(value, list) and bool(value)
            and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value))


EMBEDDINGS_FIELDS: dict[str, Check] = {
    "model": string, "input": _input, "encoding_format": one_of("float", "base64"),
    "dimensions": integer(1, 65_536), "user": string,
}


def sizes(*allowed: int) -> Check:
    def check(value, name):
        if value not in allowed:
            raise RequestInvalid(f"{name} must be one of {', '.join(map(str, allowed))} (got {value}).", param=name)
        return value
    return check


_COMMON: dict[str, Rule] = {"model": OWN, "input": OWN, "encoding_format": OWN,
                            "user": Drop("OpenAI's end-user identifier; byok's usage records name the member.")}
EMBEDDINGS_ON_TITAN: dict[str, Rule] = _COMMON | {"dimensions": Map("dimensions", check=sizes(256, 512, 1024))}
EMBEDDINGS_ON_COHERE_V3: dict[str, Rule] = _COMMON | {
    "dimensions": Refuse("Cohere Embed v3 answers 1024 dimensions only.", accepts=lambda value: value == 1024)}
EMBEDDINGS_ON_COHERE_V4: dict[str, Rule] = _COMMON | {
    "dimensions": Map("output_dimension", check=sizes(256, 512, 1024, 1536))}
EMBEDDINGS_ON_VERTEX: dict[str, Rule] = _COMMON | {"dimensions": Map("parameters.outputDimensionality")}


def embeddings_checked(body: Mapping[str, Any]) -> None:
    """Every field of the API has the API's type (pass-through families: the provider answers for its extensions)."""
    for name, value in body.items():
        check = EMBEDDINGS_FIELDS.get(name)
        if check is not None and value is not None:
            check(value, name)
    if body.get("input") is None:
        raise RequestInvalid("input is required.", param="input")


def embeddings_request(body: Mapping[str, Any], rules: Mapping[str, Rule], *, family: str) -> tuple[dict, list[str]]:
    """(the family's request fields, the texts): every field checked against its rule; token arrays refused (only
    OpenAI's tokenizer reads them)."""
    out = declared(body, rules, family=family, fields=EMBEDDINGS_FIELDS, api="/v1/embeddings")
    if body.get("input") is None:
        raise RequestInvalid("input is required.", param="input")
    texts = _input(body["input"], "input")
    if not all(isinstance(text, str) for text in texts):
        raise RequestInvalid(f"input: {family} embeds text, not token arrays.", param="input")
    return out, texts


def embeddings_response(vectors: list[list[float]], *, model: str, input_tokens: int, encoding_format: str | None
                        ) -> dict:
    """OpenAI's answer: one embedding per input, in order; base64 as little-endian float32s."""
    def encoded(vector: list[float]):
        if encoding_format == "base64":
            return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
        return vector

    return {"object": "list", "model": model,
            "data": [{"object": "embedding", "index": index, "embedding": encoded(vector)}
                     for index, vector in enumerate(vectors)],
            "usage": {"prompt_tokens": input_tokens, "total_tokens": input_tokens}}
