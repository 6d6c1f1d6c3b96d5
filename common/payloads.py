"""Reading producers' JSON payloads, whatever they describe: changes, alerts.

Adapters are pure: a producer's parsed JSON body (and headers) in, our dataclass out. They read
the body with these helpers, which name the dotted path of whatever is wrong, and say no in
one of two ways: PayloadInvalid (400, naming the field) for a body they cannot use, and Ignored
(2xx, nothing stored, the reason in the delivery log) for an event they do not record.
"""

from collections.abc import Callable, Collection, Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any, TypeVar

from common.exceptions import DomainError
from common.times import parse_timestamp

T = TypeVar("T")


class PayloadInvalid(DomainError):
    """The body is JSON but not one we can read; `field_name` names what is wrong."""

    status = 400
    code = "invalid"

    def __init__(self, field_name: str, problem: str) -> None:
        super().__init__(f"{field_name}: {problem}", fields={field_name: [problem]})
        self.field_name = field_name
        self.problem = problem

    def within(self, prefix: str) -> "PayloadInvalid":
        """The same problem, named by its path from a containing object (`links.0` + `href`)."""
        return PayloadInvalid(f"{prefix}.{self.field_name}", self.problem)


class Ignored(Exception):
    """A well-formed event we do not record (a ping, an unused event type, a noisy push)."""

    def __init__(self, reason: str, *, event_type: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.event_type = event_type


def pick(
    payload: Mapping[str, Any],
    path: str,
    expected: type[T] | tuple[type, ...],
    *,
    required: bool = True,
) -> Any:
    """The value at a dotted path, checked for type; PayloadInvalid names the path if not.

    A step of the path that is there but not an object is named in the error. A missing or
    null value (or step) comes back as None when optional. `payload` itself is an object: the
    adapter checks the body before it picks from it.
    """
    steps = path.split(".")
    value: Any = payload
    for depth, step in enumerate(steps):
        if not isinstance(value, Mapping):
            reached = ".".join(steps[:depth])
            raise PayloadInvalid(reached, f"Expected an object, got {json_type(value)}.")
        value = value.get(step)
        if value is None:
            if required:
                raise PayloadInvalid(path, "This field is required.")
            return None
    types = expected if isinstance(expected, tuple) else (expected,)
    # JSON true/false are ints to Python; never accept them as numbers.
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
        raise PayloadInvalid(path, f"Expected {_type_names(types)}, got {json_type(value)}.")
    return value


def pick_text(
    payload: Mapping[str, Any],
    path: str,
    *,
    required: bool = False,
    max_length: int = 0,
    accept_numbers: bool = False,
) -> str:
    """A string field, stripped ("" when absent or null and optional).

    Anything but a string is refused, naming the path: where a producer documents a string, a
    number is a sender's bug (an unquoted shell variable), not a name to store as "4711".
    `accept_numbers` is only for ids and counters a producer documents as numbers (GitHub's
    deployment.id, Jenkins' build number), which are read as their text.
    """
    value = pick(payload, path, (str, int, float) if accept_numbers else str, required=required)
    text = "" if value is None else str(value).strip()
    if required and not text:
        raise PayloadInvalid(path, "This field may not be blank.")
    if max_length and len(text) > max_length:
        raise PayloadInvalid(path, f"Ensure this field has no more than {max_length} characters.")
    return text


def pick_time(payload: Mapping[str, Any], path: str, *, required: bool = False) -> datetime | None:
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


def pick_scalars(payload: Mapping[str, Any], paths: Mapping[str, str]) -> dict[str, Any]:
    """The text, number or boolean at each of `paths`, by name; absent or empty ones left out."""
    picked = {
        name: pick(payload, path, (str, int, float, bool), required=False)
        for name, path in paths.items()
    }
    return {name: value for name, value in picked.items() if value not in (None, "")}


def pick_header(
    headers: Mapping[str, str], name: str, *, max_length: int, required: bool = False
) -> str:
    """A header's value, stripped ("" when absent and optional); PayloadInvalid names it if not."""
    value = headers.get(name, "").strip()
    if required and not value:
        raise PayloadInvalid(name, "This header is required.")
    if len(value) > max_length:
        raise PayloadInvalid(name, f"Ensure this header has no more than {max_length} characters.")
    return value


def pick_links(payload: Mapping[str, Any], labels: Mapping[str, str]) -> tuple[dict[str, str], ...]:
    """The URLs at `labels`' paths, each once with the text of its first path; http(s) only."""
    by_href: dict[str, str] = {}
    for path, text in labels.items():
        href = pick_text(payload, path)
        if href:
            # Producers often send one page under two names (GitHub's target_url and log_url).
            by_href.setdefault(href, text)
    return clean_links([{"href": href, "text": text} for href, text in by_href.items()])


def clean_links(raw: Any, path: str = "links") -> tuple[dict[str, str], ...]:
    """[{href, text}] keeping only http(s) links: a payload must not smuggle `javascript:` in."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise PayloadInvalid(path, f"Expected a list, got {json_type(raw)}.")
    links = []
    for index, item in enumerate(raw):
        if isinstance(item, str):
            item = {"href": item}
        if not isinstance(item, Mapping):
            raise PayloadInvalid(f"{path}.{index}", "Expected an object with href and text.")
        try:
            href = pick_text(item, "href")
            text = pick_text(item, "text")
        except PayloadInvalid as invalid:
            raise invalid.within(f"{path}.{index}") from None
        if href.lower().startswith(("http://", "https://")) and len(href) <= 2000:
            links.append({"href": href, "text": text[:200]})
    return tuple(links)


def summary_line(text: str, max_length: int = 500) -> str:
    """The first line of `text`, cut to `max_length` with "…" when longer."""
    return truncated(text.splitlines()[0] if text else "", max_length)


def truncated(text: str, max_length: int) -> str:
    """`text` cut to `max_length` with "…" when longer, all its lines kept."""
    return text if len(text) <= max_length else text[: max_length - 1] + "…"


def is_number(value: Any) -> bool:
    """Whether a JSON value is a number (true and false are ints to Python, not numbers)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def text_value(value: Any, path: str) -> str:
    """A value already taken out of the body (a label, a dimension: names that may hold dots,
    so not reachable by a dotted path) that must be a string, stripped; PayloadInvalid names
    `path` if it is not one."""
    if not isinstance(value, str):
        raise PayloadInvalid(path, f"Expected a string, got {json_type(value)}.")
    return value.strip()


def without_keys(value: Any, names: Collection[str]) -> Any:
    """`value` with every key whose normalised name is in `names` removed, at any depth.

    A key's normalised name is lower-cased, letters and digits only (see `normalised_name`).
    Producers' credentials go this way before we keep a body.
    """
    if isinstance(value, Mapping):
        return {
            key: without_keys(item, names)
            for key, item in value.items()
            if normalised_name(key) not in names
        }
    if isinstance(value, list):
        return [without_keys(item, names) for item in value]
    return value


def normalised_name(name: object) -> str:
    """A field name as credential lists compare it: routing_key, routingKey, Routing-Key (and
    routing\\u0000_key, which ingest reads as routing_key) are all "routingkey"."""
    text = str(name)
    # Every delivery record normalises each name of its body, and producers send the same
    # names: remembered, unless long (a body's names are anyone's to choose).
    return _remembered(text) if len(text) <= 100 else _normalised(text)


def _normalised(name: str) -> str:
    return "".join(character for character in name.lower() if character.isalnum())


_remembered = lru_cache(maxsize=4096)(_normalised)


def masked(
    value: Any,
    is_secret_name: Callable[[str], bool],
    *,
    secret: str = "",
    mask: str = "[redacted]",
) -> Any:
    """`value` with the value of every field whose normalised name `is_secret_name` accepts
    replaced by `mask`, at any depth, and `secret` (when given) masked inside every string,
    names included. Works on the parsed document, so an escaped name (`"routing\\u005fkey"`)
    is the name it spells."""
    if isinstance(value, Mapping):
        return {
            _masked_text(str(key), secret, mask): (
                mask
                if is_secret_name(normalised_name(key))
                else masked(item, is_secret_name, secret=secret, mask=mask)
            )
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [masked(item, is_secret_name, secret=secret, mask=mask) for item in value]
    if isinstance(value, str):
        return _masked_text(value, secret, mask)
    return value


def _masked_text(text: str, secret: str, mask: str) -> str:
    return text.replace(secret, mask) if secret else text


def _type_names(types: tuple[type, ...]) -> str:
    names = {
        str: "a string",
        int: "a number",
        float: "a number",
        bool: "a boolean",
        dict: "an object",
        list: "a list",
        Mapping: "an object",
    }
    return " or ".join(dict.fromkeys(names.get(t, t.__name__) for t in types))


def json_type(value: object) -> str:
    """What a parsed JSON value is, in words for an error message: "a number", "an object"."""
    if value is None:
        return "null"
    # Checked before int: JSON true/false are ints to Python.
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__
