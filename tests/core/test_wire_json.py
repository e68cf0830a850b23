"""JSON on the data plane's wire (core.wire_json): compact UTF-8 from orjson, and what orjson refuses written as the
json module writes it, so a caller's field reaches the provider as sent."""

import json

import pytest

from core import wire_json


def test_compact_utf8():
    assert wire_json.dumps({"text": "héllo", "n": [1, 2.5]}) == '{"text":"héllo","n":[1,2.5]}'.encode()


@pytest.mark.parametrize("value", [{"seed": 2**70}, {"seed": -(2**64)}, {"text": "\ud800 alone"}])
def test_what_orjson_refuses_is_written_as_the_json_module_writes_it(value):
    written = wire_json.dumps(value)
    assert written == json.dumps(value, separators=(",", ":")).encode()
    assert json.loads(written) == value


@pytest.mark.parametrize("text", [b"[NaN]", b'{"a": Infinity}', b"{", b"", b"\xff"])
def test_anything_that_is_not_json_is_a_value_error(text):
    with pytest.raises(ValueError):
        wire_json.loads(text)
