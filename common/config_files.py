"""Validation of configuration-as-code files, shared by the apps that own each section."""

from collections.abc import Mapping
from typing import Any

from rest_framework import serializers

from common.api_errors import flatten_errors
from common.exceptions import DomainError


class ConfigInvalid(DomainError):
    """The file does not describe a valid configuration; nothing was written."""

    code = "invalid_config"

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


def entry_label(section: str, index: int, entry: object, key: str) -> str:
    """`pipelines[2] (payments-github)`: where an error is, in words a file's author can find."""
    name = entry.get(key) if isinstance(entry, Mapping) else None
    return (
        f"{section}[{index}] ({name})" if isinstance(name, str) and name else f"{section}[{index}]"
    )


def validate_section(
    document: Mapping[str, Any],
    section: str,
    serializer_class: type[serializers.Serializer],
    *,
    key: str,
    errors: list[str],
) -> list[dict[str, Any]]:
    """Validate each entry of one section; append an error per bad field, return the good ones.

    Also refuses two entries with the same `key`, which would silently overwrite each other.
    """
    entries = document.get(section) or []
    if not isinstance(entries, list):
        errors.append(f"{section}: must be a list")
        return []
    valid: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        label = entry_label(section, index, entry, key)
        if not isinstance(entry, Mapping):
            errors.append(f"{label}: must be a mapping")
            continue
        unknown = sorted(set(entry) - set(serializer_class().fields))
        for field in unknown:
            errors.append(f"{label}.{field}: unknown field")
        serializer = serializer_class(data=dict(entry))
        if not serializer.is_valid():
            for field, messages in flatten_errors(serializer.errors).items():
                errors.extend(f"{label}.{field}: {message}" for message in messages)
            continue
        data = serializer.validated_data
        if data[key] in seen:
            errors.append(f"{label}.{key}: listed twice")
            continue
        seen.add(data[key])
        valid.append({**data, "_label": label})
    return valid
