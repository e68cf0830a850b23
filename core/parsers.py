"""Request body parsers for the whole API: the body is bounded in size before it is read, and JSON in depth.

These parsers answer 413 `request_too_large` for a body over BYOK_API_MAX_BODY_SIZE (checked on the declared
Content-Length and again while reading, for chunked bodies) and 400 `malformed_request` for JSON nested deeper than
BYOK_JSON_MAX_DEPTH. `read_json` is how every caller's JSON is read, here and on the data plane.
"""

import json
from typing import Any

import jiter
from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import APIException, ParseError


class RequestTooLarge(APIException):
    status_code = 413
    default_detail = "The request body is too large."
    default_code = "request_too_large"


def max_body_size() -> int:
    return settings.BYOK_API_MAX_BODY_SIZE


def max_json_depth() -> int:
    return settings.BYOK_JSON_MAX_DEPTH


def _too_large(limit: int) -> RequestTooLarge:
    return RequestTooLarge(f"The request body is larger than {limit} bytes.")


def declared_length(parser_context) -> int:
    """The request's Content-Length (0 when absent or malformed: the read is bounded anyway)."""
    request = (parser_context or {}).get("request")
    meta = getattr(request, "META", {}) if request is not None else {}
    try:
        return int(meta.get("CONTENT_LENGTH") or 0)
    except (TypeError, ValueError):
        return 0


def read_bounded(stream, parser_context) -> bytes:
    """The whole body, or RequestTooLarge as soon as it is known to exceed the limit (before reading it all)."""
    limit = max_body_size()
    if declared_length(parser_context) > limit:
        raise _too_large(limit)
    body = stream.read(limit + 1) if stream is not None else b""
    if len(body) > limit:
        raise _too_large(limit)
    return body


class NestedTooDeep(ValueError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"arrays and objects nest deeper than {limit} levels")
        self.limit = limit


def read_json(data: bytes | str) -> Any:
    """A caller's JSON document, nested at most BYOK_JSON_MAX_DEPTH deep; ValueError (the json module's reason,
    UnicodeDecodeError for bytes that are not UTF-8) or NestedTooDeep otherwise.

    jiter reads it first: in C, ~3 times the json module's speed (115 KB of prompt text: 75 µs against 220),
    integers of any size kept exact, NaN and Infinity refused, nesting bounded without recursion. What jiter refuses
    is read again by the json module, whose verdict stands: it accepts lone surrogates (a caller's field reaches the
    provider as sent) and says what is wrong with the rest. Its recursion (~1,000 levels) ends in RecursionError,
    refused here like any body nested too deep."""
    limit = max_json_depth()
    try:
        value = jiter.from_json(data.encode() if isinstance(data, str) else data, allow_inf_nan=False,
                                cache_mode="keys")
    except ValueError:
        try:
            value = json.loads(data.decode() if isinstance(data, bytes) else data, parse_constant=_not_json)
        except RecursionError:
            raise NestedTooDeep(limit) from None
    if _may_nest_deeper_than(data, limit) and nested_deeper_than(value, limit):
        raise NestedTooDeep(limit)
    return value


COUNTED_UP_TO = 4096  # bytes: counting a coding agent's 113 KB body cost 95 µs, a third of the walk it could not spare


def _may_nest_deeper_than(data: bytes | str, limit: int) -> bool:
    """False when a short document holds no more `[` and `{` than `limit` (counted in C): it cannot nest deeper, and
    is not gone through level by level. A long one always is: it nearly always holds more."""
    if len(data) > COUNTED_UP_TO:
        return True
    if isinstance(data, str):
        return data.count("[") + data.count("{") > limit
    return data.count(b"[") + data.count(b"{") > limit


def _not_json(constant: str):
    """NaN and Infinity, which Python's json reads and JSON has not: refused, never passed on."""
    raise ValueError(f"{constant} is not JSON")


_CONTAINERS = frozenset((dict, list))


def nested_deeper_than(value: Any, limit: int) -> bool:
    """Whether a parsed JSON value's arrays and objects nest more than `limit` levels deep: one level at a time, no
    recursion. A container's items are gone through one by one only when one of them is a container (a scan of their
    types, in C), so an array of 8,000 token ids costs about what reading it did."""
    level = [value] if type(value) in _CONTAINERS else []
    for _ in range(limit):
        if not level:
            return False
        deeper = []
        for container in level:
            items = container.values() if type(container) is dict else container
            if not _CONTAINERS.isdisjoint(map(type, items)):
                deeper += [item for item in items if type(item) in _CONTAINERS]
        level = deeper
    return bool(level)


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, bounded in body size and nesting depth."""

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parsers.get_encoding(parser_context)
        body = read_bounded(stream, parser_context)
        try:
            text = body.decode(encoding)
        except UnicodeError as exc:
            raise ParseError(f"JSON parse error - the body is not valid {encoding}: {exc.reason}.") from None
        try:
            return read_json(text)
        except NestedTooDeep as exc:
            raise ParseError(f"JSON parse error - {exc}.") from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None


class FormParser(parsers.FormParser):
    """DRF's form parser, bounded in body size (form data is flat: there is no depth to bound)."""

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parsers.get_encoding(parser_context)
        from django.http import QueryDict

        return QueryDict(read_bounded(stream, parser_context), encoding=encoding)


class MultiPartParser(parsers.MultiPartParser):
    """DRF's multipart parser, refusing a declared body over the limit before reading it.

    Django's own parser enforces DATA_UPLOAD_MAX_MEMORY_SIZE on the fields as it reads (RequestDataTooBig, 413).
    """

    def parse(self, stream, media_type=None, parser_context=None):
        if declared_length(parser_context) > max_body_size():
            raise _too_large(max_body_size())
        return super().parse(stream, media_type, parser_context)
