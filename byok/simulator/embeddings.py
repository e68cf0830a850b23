"""Deterministic embeddings: the same text to the same model always gives the same unit vector.

Each embedding model has its providers' default size and the sizes it may be shortened to (`dimensions`,
`outputDimensionality`, `output_dimension`); a size it does not offer is refused by the calling protocol.
"""

from __future__ import annotations

import base64
import hashlib
import math
import struct
from dataclasses import dataclass


@dataclass(frozen=True)
class EmbeddingModel:
    default_dimensions: int
    dimensions: tuple[int, ...] | range  # the sizes a caller may ask for
    max_inputs: int  # texts per call


EMBEDDING_MODELS: dict[str, EmbeddingModel] = {
    # OpenAI: any size from 1 up to the default (v3 models only); up to 2,048 inputs per call
    "text-embedding-3-small": EmbeddingModel(1536, range(1, 1537), 2048),
    "text-embedding-3-large": EmbeddingModel(3072, range(1, 3073), 2048),
    "text-embedding-ada-002": EmbeddingModel(1536, (1536,), 2048),
    # Mistral; Z.ai (embedding-3: 256, 512, 1,024 or 2,048 dimensions, up to 64 inputs)
    "mistral-embed": EmbeddingModel(1024, (1024,), 512),
    "embedding-3": EmbeddingModel(2048, (256, 512, 1024, 2048), 64),
    # Bedrock: Titan Text Embeddings v2 takes one text; Cohere Embed up to 96
    "amazon.titan-embed-text-v2:0": EmbeddingModel(1024, (256, 512, 1024), 1),
    "cohere.embed-english-v3": EmbeddingModel(1024, (1024,), 96),
    "cohere.embed-multilingual-v3": EmbeddingModel(1024, (1024,), 96),
    "cohere.embed-v4:0": EmbeddingModel(1536, (256, 512, 1024, 1536), 96),
    # Vertex AI: text-embedding-005 takes up to 250 instances, gemini-embedding-001 one per call
    "text-embedding-005": EmbeddingModel(768, range(1, 769), 250),
    "text-multilingual-embedding-002": EmbeddingModel(768, range(1, 769), 250),
    "gemini-embedding-001": EmbeddingModel(3072, range(1, 3073), 1),
}


def is_embedding_model(model: str) -> bool:
    return model in EMBEDDING_MODELS


def embed(model: str, text: str, dimensions: int) -> list[float]:
    """A unit vector of `dimensions` floats derived from the model and the text."""
    values: list[float] = []
    counter = 0
    while len(values) < dimensions:
        block = hashlib.sha256(f"{model}\0{counter}\0{text}".encode()).digest()
        values.extend(value / 2**31 - 1.0 for value in struct.unpack(">8I", block))
        counter += 1
    values = values[:dimensions]
    norm = math.sqrt(sum(value * value for value in values)) or 1.0
    return [round(value / norm, 8) for value in values]


def base64_floats(vector: list[float]) -> str:
    """OpenAI's `encoding_format: base64`: little-endian float32s, base64-encoded."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()


def int8(vector: list[float]) -> list[int]:
    """Cohere's `int8` embedding type."""
    return [max(-128, min(127, round(value * 127))) for value in vector]
