import pytest
from rest_framework import serializers

from core.serializers import READ_ONLY_FIELD, UNKNOWN_FIELD, StrictInput


class Inner(StrictInput):
    a = serializers.IntegerField()


class Outer(StrictInput):
    name = serializers.CharField()
    made = serializers.DateTimeField(read_only=True)
    inner = Inner(required=False)


def errors(data):
    serializer = Outer(data=data)
    assert not serializer.is_valid()
    return serializer.errors


def test_valid_input_passes():
    serializer = Outer(data={"name": "x", "inner": {"a": 1}})
    assert serializer.is_valid(), serializer.errors
    assert serializer.validated_data == {"name": "x", "inner": {"a": 1}}


def test_unknown_and_read_only_keys_are_named():
    assert errors({"name": "x", "zzz": 1, "made": "2020-01-01"}) == {"zzz": [UNKNOWN_FIELD], "made": [READ_ONLY_FIELD]}


def test_reported_with_other_errors_and_in_nested_inputs():
    found = errors({"zzz": 1, "inner": {"a": "nope", "b": 2}})
    assert set(found) == {"name", "zzz", "inner"}
    assert set(found["inner"]) == {"a", "b"}


@pytest.mark.parametrize("data", [[], "text", None])
def test_a_body_that_is_not_an_object_is_left_to_drf(data):
    assert errors(data)
