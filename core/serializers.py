"""Input serializers that refuse what they do not accept, instead of silently dropping it.

DRF ignores keys a serializer does not declare: a PATCH with `owner` or `status`, or a gateway call with
`model` or `base_url`, succeeds while doing something other than what the caller asked. Every request-body
serializer of the API uses `StrictInput` (or `StrictInputMixin` on a serializer it does not own), so each such key
is a 400 that names it, alongside any other invalid field.
"""

from collections.abc import Mapping

from rest_framework import serializers

UNKNOWN_FIELD = "Unknown field."
READ_ONLY_FIELD = "This field is read-only."


class StrictInputMixin:
    def unexpected_fields(self, data) -> dict[str, list[str]]:
        if not isinstance(data, Mapping):
            return {}
        fields = self.fields
        errors = {}
        for name in data:
            field = fields.get(name)
            if field is None:
                errors[str(name)] = [UNKNOWN_FIELD]
            elif field.read_only:
                errors[str(name)] = [READ_ONLY_FIELD]
        return errors

    def to_internal_value(self, data):
        unexpected = self.unexpected_fields(data)
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if unexpected and isinstance(exc.detail, dict):
                raise serializers.ValidationError({**exc.detail, **unexpected}) from None
            raise
        if unexpected:
            raise serializers.ValidationError(unexpected)
        return value


class StrictInput(StrictInputMixin, serializers.Serializer):
    """Base of every API input (request body) serializer."""
