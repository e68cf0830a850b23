"""The AWS event-stream binary framing (`application/vnd.amazon.eventstream`) that Bedrock's streaming operations
answer with, and that botocore's `EventStreamBuffer` decodes.

A message: prelude (total length, headers length: two big-endian uint32), the prelude's CRC32, the headers, the
payload, then the CRC32 of everything before it. A header: name length (uint8), name, value type (7: string),
value length (uint16), value.
"""

from __future__ import annotations

import json
import struct
import zlib
from typing import Any

CONTENT_TYPE = "application/vnd.amazon.eventstream"
_STRING = 7
_PRELUDE = struct.Struct(">II")
_CRC = struct.Struct(">I")


def _header(name: str, value: str) -> bytes:
    name_bytes, value_bytes = name.encode(), value.encode()
    return struct.pack(">B", len(name_bytes)) + name_bytes + struct.pack(">BH", _STRING, len(value_bytes)) + value_bytes


def encode_message(headers: dict[str, str], payload: bytes) -> bytes:
    header_bytes = b"".join(_header(name, value) for name, value in headers.items())
    total_length = _PRELUDE.size + _CRC.size + len(header_bytes) + len(payload) + _CRC.size
    prelude = _PRELUDE.pack(total_length, len(header_bytes))
    message = prelude + _CRC.pack(zlib.crc32(prelude)) + header_bytes + payload
    return message + _CRC.pack(zlib.crc32(message))


def _json(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def event(event_type: str, payload: Any) -> bytes:
    """An event frame, e.g. `event("contentBlockDelta", {...})`."""
    return encode_message(
        {":event-type": event_type, ":content-type": "application/json", ":message-type": "event"}, _json(payload)
    )


def exception(exception_type: str, message: str) -> bytes:
    """An exception frame: the stream's way to fail after it started (botocore raises `EventStreamError`)."""
    return encode_message(
        {":exception-type": exception_type, ":content-type": "application/json", ":message-type": "exception"},
        _json({"message": message}),
    )
