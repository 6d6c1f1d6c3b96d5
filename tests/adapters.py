"""Helpers for the adapter unit tests: fixture requests, edited bodies, refusals and fixture checks.

Each `test_adapters_*.py` keeps its own short wrapper (`convert`, `only`) that feeds
`fixture_request` to its adapter.
"""

import json
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from django.utils.datastructures import CaseInsensitiveMapping

from changes.adapters.base import CanonicalChange
from common.payloads import Ignored, PayloadInvalid
from common.times import parse_timestamp
from incidents.adapters.base import AlertAction, CanonicalAlert
from tests.fixtures import load_fixture

# What a fixture expects only of the stored change, after its `same_change_as` (not per report).
LIFECYCLE_ONLY = {"action", "same_change_as", "started_at", "finished_at"}
# A value for `set_path` that deletes the key (or list item) at the path instead of setting it.
REMOVED = object()

# What a fixture's `expect.action` means for an alert adapter (the lifecycle service does the rest).
ALERT_ACTIONS = {
    "raise": AlertAction.TRIGGER,
    "repeat": AlertAction.TRIGGER,
    "reopen": AlertAction.TRIGGER,
    "resolve": AlertAction.RESOLVE,
    "acknowledge": AlertAction.ACKNOWLEDGE,
}


def set_path(document: Any, dotted_path: str, value: Any) -> None:
    """Set `value` at `dotted_path` in `document`, or delete what is there if it is `REMOVED`.

    A step into a list is the item's index: `alerts.0.labels`.
    """
    *parents, last = dotted_path.split(".")
    target = document
    for step in parents:
        target = target[int(step)] if isinstance(target, list) else target[step]
    key = int(last) if isinstance(target, list) else last
    if value is REMOVED:
        del target[key]
    else:
        target[key] = value


def fixture_request(
    producer: str, name: str, changes: Mapping[str, Any] | None = None
) -> tuple[Any, CaseInsensitiveMapping]:
    """A fixture's parsed body and its headers, with each dotted path in `changes` set anew."""
    fixture = load_fixture(producer, name)
    body = json.loads(fixture["body"])
    for path, value in (changes or {}).items():
        set_path(body, path, value)
    return body, CaseInsensitiveMapping(fixture["headers"])


def refused(call: Callable[..., object], *args: Any) -> PayloadInvalid:
    """The `PayloadInvalid` that `call(*args)` raises; the test fails if it raises none."""
    with pytest.raises(PayloadInvalid) as invalid:
        call(*args)
    return invalid.value


def skipped(call: Callable[..., object], *args: Any) -> Ignored:
    """The `Ignored` that `call(*args)` raises; the test fails if it raises none."""
    with pytest.raises(Ignored) as ignored:
        call(*args)
    return ignored.value


def without_header(headers: CaseInsensitiveMapping, name: str) -> CaseInsensitiveMapping:
    """`headers` without the header `name`, whatever its case."""
    return CaseInsensitiveMapping(
        {header: value for header, value in headers.items() if header.lower() != name.lower()}
    )


def assert_change_matches(change: CanonicalChange, expect: Mapping[str, Any]) -> None:
    """Each field a fixture's `expect` names, besides `action`, has the value it shows.

    The fixture's component is compared trimmed and lower-cased, its `occurred_at` parsed.
    """
    for field, expected in expect.items():
        if field in LIFECYCLE_ONLY:
            continue
        actual = getattr(change, field)
        if field == "component":
            assert actual == expected.strip().lower(), field
        elif field == "occurred_at":
            assert actual == parse_timestamp(expected), field
        else:
            assert actual == expected, field


def assert_fixture_converts(
    convert: Callable[[str], CanonicalChange], name: str, expect: Mapping[str, Any]
) -> None:
    """What a change fixture's `expect` says of its adapter: the change it records, or the reason
    it ignores it. Refusals (`expect.status`, a bad signature) happen before any adapter runs."""
    if "status" in expect:
        return
    if expect["action"] == "ignore":
        assert skipped(convert, name).reason == expect["reason"]
        return
    assert expect["action"] == "record"
    assert_change_matches(convert(name), expect)


def assert_alert_matches(
    alert: CanonicalAlert, expect: Mapping[str, Any], defaults: Mapping[str, Any]
) -> None:
    """The alert has the action, alias, title, severity and components a fixture's `expect` shows.

    Where `expect` shows the source's default (from the fixture's `source_settings`), the
    adapter must leave the severity or components blank for the source to fill in.
    """
    assert alert.action == ALERT_ACTIONS[expect["action"]]
    assert alert.alias == expect["alias"]
    assert alert.title == expect["title"]
    default_severity = expect["severity"] == defaults["default_severity"]
    assert alert.severity == ("" if default_severity else expect["severity"])
    default_components = expect["components"] == defaults["default_components"]
    assert alert.components == (() if default_components else tuple(expect["components"]))
