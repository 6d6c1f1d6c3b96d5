"""What every change adapter shares: the canonical change, and how adapters say no.

Adapters are pure: a producer's parsed JSON body (and headers) in, a CanonicalChange out.
They raise PayloadInvalid (400, naming the field) for a body they cannot use, and Ignored
(2xx, nothing stored, reason in the delivery log) for an event they do not record.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from common.exceptions import DomainError
from common.times import parse_timestamp

T = TypeVar("T")

KINDS = ("deployment", "rollback", "config", "feature_flag", "infrastructure", "manual", "other")
OUTCOMES = ("succeeded", "failed", "started")


@dataclass(frozen=True)
class CanonicalChange:
    """A change in our terms. `occurred_at` None means "when we received it"."""

    component: str
    occurred_at: datetime | None = None
    environment: str = ""
    kind: str = "deployment"
    outcome: str = "succeeded"
    summary: str = ""
    description: str = ""
    triggered_by: str = ""
    version: str = ""
    commit: str = ""
    links: tuple[Mapping[str, str], ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)
    idempotency_key: str = ""
    # For noise filters and the delivery log; not stored on the change itself.
    event_type: str = ""
    branch: str = ""


class PayloadInvalid(DomainError):
    """The body is JSON but not a change we can read; `field` names what is wrong."""

    status = 400
    code = "invalid"

    def __init__(self, field_name: str, problem: str) -> None:
        super().__init__(f"{field_name}: {problem}", fields={field_name: [problem]})
        self.field_name = field_name


class Ignored(Exception):
    """A well-formed event we do not record (a ping, an unused event type, a noisy push)."""

    def __init__(self, reason: str, *, event_type: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.event_type = event_type


_MISSING = object()


def pick(
    payload: Any, path: str, expected: type[T] | tuple[type, ...], *, required: bool = True
) -> Any:
    """The value at a dotted path, checked for type; PayloadInvalid names the path if not.

    Missing (or null) optional values come back as None.
    """
    value: Any = payload
    for part in path.split("."):
        if not isinstance(value, Mapping):
            value = _MISSING
            break
        value = value.get(part, _MISSING)
    if value is _MISSING or value is None:
        if required:
            raise PayloadInvalid(path, "This field is required.")
        return None
    types = expected if isinstance(expected, tuple) else (expected,)
    # JSON true/false are ints to Python; never accept them as numbers.
    if isinstance(value, bool) and bool not in types:
        raise PayloadInvalid(path, f"Expected {_type_names(types)}, got a boolean.")
    if not isinstance(value, types):
        raise PayloadInvalid(path, f"Expected {_type_names(types)}, got {_json_type(value)}.")
    return value


def pick_text(payload: Any, path: str, *, required: bool = False, max_length: int = 0) -> str:
    """A string field ("" when absent and optional); numbers are accepted and stringified."""
    value = pick(payload, path, (str, int, float), required=required)
    text = "" if value is None else str(value).strip()
    if required and not text:
        raise PayloadInvalid(path, "This field may not be blank.")
    if max_length and len(text) > max_length:
        raise PayloadInvalid(path, f"Ensure this field has no more than {max_length} characters.")
    return text


def pick_time(payload: Any, path: str, *, required: bool = False) -> datetime | None:
    """A timestamp field in any format producers use (see common.times)."""
    value = pick(payload, path, (str, int, float), required=required)
    if value is None or value == "":
        if required:
            raise PayloadInvalid(path, "This field is required.")
        return None
    parsed = parse_timestamp(value)
    if parsed is None:
        raise PayloadInvalid(path, "Expected an ISO 8601 time or epoch seconds/milliseconds.")
    return parsed


def clean_links(raw: Any, path: str = "links") -> tuple[dict[str, str], ...]:
    """[{href, text}] keeping only http(s) links: a payload must not smuggle `javascript:` in."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise PayloadInvalid(path, f"Expected a list, got {_json_type(raw)}.")
    links = []
    for index, item in enumerate(raw):
        if isinstance(item, str):
            item = {"href": item}
        if not isinstance(item, Mapping):
            raise PayloadInvalid(f"{path}.{index}", "Expected an object with href and text.")
        href = pick_text(item, "href", required=False)
        text = pick_text(item, "text", required=False)
        if href.lower().startswith(("http://", "https://")) and len(href) <= 2000:
            links.append({"href": href, "text": text[:200]})
    return tuple(links)


def _type_names(types: tuple[type, ...]) -> str:
    names = {str: "a string", int: "a number", float: "a number", bool: "a boolean",
             dict: "an object", list: "a list", Mapping: "an object"}  # fmt: skip
    return " or ".join(dict.fromkeys(names.get(t, t.__name__) for t in types))


def _json_type(value: object) -> str:
    if isinstance(value, str):
        return "a string"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__
