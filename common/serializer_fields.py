"""Serializer fields shared by the apps' APIs."""

from typing import Any, ClassVar

from rest_framework import serializers

from common.payloads import json_type


class StrictCharField(serializers.CharField):
    """A CharField that takes only a JSON string.

    DRF's CharField turns 42 into "42": an unquoted shell variable in a hand-written body would
    be stored as text. Where a string is expected, a number, boolean, list or object is a 400
    naming the field, as in the ingest adapters (common.payloads.pick_text).
    """

    default_error_messages: ClassVar[dict[str, str]] = {
        "not_a_string": "Expected a string, got {type}."
    }

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("not_a_string", type=json_type(data))
        return super().to_internal_value(data)
