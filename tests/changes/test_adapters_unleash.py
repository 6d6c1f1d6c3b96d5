"""The Unleash adapter: every fixture, flags enabled and disabled, strategies added, changed
and removed, the events it skips and the bodies it refuses."""

from typing import Any

import pytest

from changes.adapters import unleash
from changes.adapters.base import CanonicalChange
from tests.adapters import (
    REMOVED,
    assert_fixture_converts,
    fixture_request,
    refused,
    skipped,
)
from tests.fixtures import fixture_names, load_fixture

PRODUCER = "unleash"
ENABLED = "feature_environment_enabled"
STRATEGY = "feature_strategy_updated"
CREATED = "feature_created_ignored"


def convert(name: str, changes: dict[str, Any] | None = None) -> CanonicalChange:
    return unleash.to_canonical(*fixture_request(PRODUCER, name, changes))


def strategy(name: str) -> dict[str, Any]:
    return fixture_request(PRODUCER, STRATEGY)[0][name]


@pytest.mark.parametrize("name", fixture_names(PRODUCER))
def test_fixture_converts_as_expected(name):
    expect = load_fixture(PRODUCER, name)["expect"]
    assert_fixture_converts(convert, name, expect)


def test_each_event_is_a_change_of_its_own_named_by_its_id():
    change = convert(ENABLED)
    assert (change.identity, change.event_id, change.idempotency_key) == (
        "event:48213",
        "event:48213",
        "48213",
    )
    assert change.metadata == {"event_id": 48213, "project": "payments", "created_by_user_id": 7}


@pytest.mark.parametrize(
    ("event", "summary", "description"),
    [
        (
            "feature-environment-enabled",
            "Turned on payments.retry-on-timeout in production",
            "Enabled: off → on",
        ),
        (
            "feature-environment-disabled",
            "Turned off payments.retry-on-timeout in production",
            "Enabled: on → off",
        ),
    ],
)
def test_enabling_and_disabling_in_an_environment(event, summary, description):
    change = convert(ENABLED, {"type": event})
    assert (change.summary, change.description, change.event_type) == (summary, description, event)
    assert (change.kind, change.outcome) == ("feature_flag", "succeeded")


def test_a_strategy_change_keeps_before_and_after():
    change = convert(STRATEGY)
    assert change.summary == (
        "Changed targeting of checkout.express-pay in production: flexibleRollout 25% → 50%"
    )
    assert change.description == 'Strategy flexibleRollout:\nparameters.rollout: "25" → "50"'
    assert (change.metadata["strategy"], change.event_type) == (
        "flexibleRollout",
        "feature-strategy-update",
    )


def test_data_and_pre_data_are_compared_as_objects_whatever_their_key_order():
    # Quirk: preData comes from a jsonb column with its keys in another order than data's.
    same = {"preData": dict(reversed(list(strategy("data").items())))}
    change = convert(STRATEGY, same)
    assert change.summary == (
        "Changed targeting of checkout.express-pay in production (flexibleRollout 50%)"
    )
    assert change.description.startswith("Saved without a difference: ")


def test_constraint_and_segment_changes_are_listed():
    changes = {
        "data.constraints": [{"contextName": "region", "operator": "IN", "values": ["eu"]}],
        "data.segments": [4],
        "data.disabled": True,
    }
    lines = convert(STRATEGY, changes).description.splitlines()
    assert lines[1:] == [
        "disabled: false → true",
        'constraints: [] → [{"contextName": "region", "operator": "IN", "values": ["eu"]}]',
        'parameters.rollout: "25" → "50"',
        "segments: [] → [4]",
    ]


def test_a_renamed_strategy_names_both():
    change = convert(STRATEGY, {"data.name": "default", "data.parameters": {}})
    assert change.summary.endswith(": flexibleRollout 25% → default")


def test_a_strategy_added_says_what_it_serves():
    change = convert(STRATEGY, {"type": "feature-strategy-add", "preData": None})
    assert change.summary == (
        "Added the flexibleRollout 50% strategy to checkout.express-pay in production"
    )
    assert change.description.startswith('Added: {"constraints": [], "disabled": false, ')
    assert '"rollout": "50"' in change.description


def test_a_strategy_removed_says_what_it_served():
    change = convert(STRATEGY, {"type": "feature-strategy-remove", "data": None})
    assert change.summary == (
        "Removed the flexibleRollout 25% strategy from checkout.express-pay in production"
    )
    assert '"rollout": "25"' in change.description


def test_a_strategy_with_a_title_is_named_by_it():
    changes = {"data.title": "EU beta", "preData.title": "EU beta"}
    assert convert(STRATEGY, changes).summary.endswith(": EU beta 25% → 50%")


def test_feature_created_is_ignored_until_it_is_enabled():
    ignored = skipped(convert, CREATED)
    assert (ignored.reason, ignored.event_type) == (
        "feature-created: no environment is affected until the flag is enabled",
        "feature-created",
    )


@pytest.mark.parametrize(
    "event",
    [
        "feature-metadata-updated",
        "feature-tagged",
        "feature-stale-on",
        "feature-archived",
        "feature-strategy-updated",  # not Unleash's spelling
        "project-created",
        "user-created",
    ],
)
def test_other_event_types_are_ignored(event):
    ignored = skipped(convert, ENABLED, {"type": event})
    assert (ignored.reason, ignored.event_type) == (f"{event}: event type not recorded", event)


@pytest.mark.parametrize(
    ("tags", "component"),
    [
        ([{"value": "payments-service", "type": "service"}], "payments-service"),
        (
            [{"value": "team-pay", "type": "simple"}, {"value": "payments-api", "type": "service"}],
            "payments-api",
        ),
        (
            [{"value": "#payments", "type": "slack"}, {"value": "ledger", "type": "simple"}],
            "ledger",
        ),
        ([{"value": "#payments", "type": "slack"}], ""),
        ([], ""),
        (None, ""),
    ],
)
def test_the_component_is_the_service_tag_else_the_first_simple_tag(tags, component):
    assert convert(ENABLED, {"tags": tags}).component == component


def test_an_event_without_an_environment_is_recorded_without_one():
    change = convert(ENABLED, {"environment": None})
    assert (change.environment, change.summary) == ("", "Turned on payments.retry-on-timeout")


@pytest.mark.parametrize("body", [[], "feature-environment-enabled", 3, None])
def test_a_body_that_is_not_an_object_is_invalid(body):
    _, headers = fixture_request(PRODUCER, ENABLED)
    assert refused(unleash.to_canonical, body, headers).field_name == "body"


@pytest.mark.parametrize(
    ("name", "changes", "field"),
    [
        (ENABLED, {"type": REMOVED}, "type"),
        (ENABLED, {"type": 3}, "type"),
        (ENABLED, {"id": REMOVED}, "id"),
        (ENABLED, {"id": {"value": 1}}, "id"),
        (ENABLED, {"featureName": REMOVED}, "featureName"),
        (ENABLED, {"featureName": ["a"]}, "featureName"),
        (ENABLED, {"environment": {"name": "production"}}, "environment"),
        (ENABLED, {"createdAt": "soon"}, "createdAt"),
        (ENABLED, {"createdBy": ["dana"]}, "createdBy"),
        (ENABLED, {"tags": "service:payments"}, "tags"),
        (ENABLED, {"tags": ["payments"]}, "tags.0"),
        (STRATEGY, {"data": "flexibleRollout"}, "data"),
        (STRATEGY, {"data": None}, "data"),
        (STRATEGY, {"preData": []}, "preData"),
        (STRATEGY, {"type": "feature-strategy-add", "data": None}, "data"),
        (STRATEGY, {"type": "feature-strategy-remove", "preData": None}, "preData"),
    ],
)
def test_a_missing_or_wrong_typed_field_is_named(name, changes, field):
    assert refused(convert, name, changes).field_name == field


def test_unicode_values_are_kept():
    changes = {
        "featureName": "kasse.neu-ü",
        "environment": "prød",
        "createdBy": "zoë",
        "tags": [{"value": "Zahlungs-Dienst", "type": "service"}],
    }
    change = convert(ENABLED, changes)
    assert (change.version, change.environment, change.triggered_by, change.component) == (
        "kasse.neu-ü",
        "prød",
        "zoë",
        "Zahlungs-Dienst",
    )
    assert change.summary == "Turned on kasse.neu-ü in prød"
