"""Request body parsers for the whole API: the body is bounded in size and JSON in depth BEFORE it is parsed.

Python's `json` recurses once per nested array or object: ~1,000 levels (a 2 KB body) raise RecursionError, a
500. These parsers answer 413 `request_too_large` for a body over BYOK_API_MAX_BODY_SIZE (checked on the
declared Content-Length and again while reading, for chunked bodies) and 400 `malformed_request` for JSON nested
deeper than BYOK_JSON_MAX_DEPTH, measured by a scan of the text that never recurses.
"""

import re
from itertools import accumulate

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import APIException, ParseError
from rest_framework.utils import json


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


# A JSON string, escapes included (the "unrolled loop" form: linear, no backtracking).
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_A_BRACKET = re.compile(r"[^\[\]{}]+")
_DEPTH_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def json_depth(text: str) -> int:
    """How deeply arrays and objects nest in `text` (valid JSON or not), without recursion.

    Strings are removed first (brackets inside them do not count), then the running sum of +1 per opener and
    -1 per closer is taken in C (map + accumulate): linear in the body's size, with no Python loop per byte.
    """
    brackets = _NOT_A_BRACKET.sub("", _STRING.sub("", text))
    if not brackets:
        return 0
    return max(0, max(accumulate(map(_DEPTH_STEP.__getitem__, map(ord, brackets)))))


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
        limit = max_json_depth()
        if json_depth(text) > limit:
            raise ParseError(f"JSON parse error - arrays and objects nest deeper than {limit} levels.")
        try:
            return json.loads(text, parse_constant=json.strict_constant if self.strict else None)
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        except RecursionError:  # cannot happen below the depth limit; kept so a deep body is never a 500
            raise ParseError(f"JSON parse error - arrays and objects nest deeper than {limit} levels.") from None


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
