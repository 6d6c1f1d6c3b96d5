"""The Flagsmith adapter: both fixtures, each kind of feature-state change, deletions, the
deliveries it skips and the bodies it refuses."""

from typing import Any

import pytest

from changes.adapters import flagsmith
from changes.adapters.base import CanonicalChange
from tests.adapters import REMOVED, assert_change_matches, fixture_request, refused, skipped
from tests.fixtures import fixture_names, load_fixture

PRODUCER = "flagsmith"
UPDATED = "flag_updated"
DELETED = "flag_deleted"
SEGMENT = {"segment": {"id": 55, "name": "beta-testers", "description": ""}, "priority": 1}


def convert(name: str, changes: dict[str, Any] | None = None) -> CanonicalChange:
    return flagsmith.to_canonical(*fixture_request(PRODUCER, name, changes))


@pytest.mark.parametrize("name", fixture_names(PRODUCER))
def test_fixture_converts_as_expected(name):
    assert_change_matches(convert(name), load_fixture(PRODUCER, name)["expect"])


def test_the_environments_display_name_is_stored_lower_cased_and_shown_as_is():
    change = convert(UPDATED)
    assert change.environment == "production"
    assert change.summary.endswith("in Production")


def test_turning_a_flag_on_keeps_the_previous_and_new_state():
    change = convert(UPDATED)
    assert change.summary == "Turned on inventory_cache_reads in Production"
    assert change.description == (
        "Enabled: off → on\nFlag: Route inventory reads to the new cache tier"
    )
    assert (change.kind, change.outcome, change.event_type) == (
        "feature_flag",
        "succeeded",
        "FLAG_UPDATED",
    )


def test_turning_a_flag_off():
    changes = {"data.new_state.enabled": False, "data.previous_state.enabled": True}
    change = convert(UPDATED, changes)
    assert change.summary == "Turned off inventory_cache_reads in Production"
    assert change.description.startswith("Enabled: on → off")


def test_a_value_change_quotes_the_new_value_and_keeps_the_old_one():
    changes = {
        "data.new_state.feature_state_value": "tier-2",
        "data.previous_state.feature_state_value": "tier-1",
        "data.previous_state.enabled": True,
    }
    change = convert(UPDATED, changes)
    assert change.summary == 'Changed the value of inventory_cache_reads in Production to "tier-2"'
    assert change.description.splitlines()[0] == 'Value: "tier-1" → "tier-2"'


def test_a_long_value_is_left_to_the_description():
    long_value = "x" * 500
    changes = {
        "data.new_state.feature_state_value": long_value,
        "data.previous_state.enabled": True,
    }
    change = convert(UPDATED, changes)
    assert change.summary == "Changed the value of inventory_cache_reads in Production"
    assert long_value in change.description


def test_a_new_variant_split_is_said_with_both_splits():
    def split(control: int) -> list[dict[str, Any]]:
        return [
            {
                "id": 1,
                "multivariate_feature_option": {"id": 10, "value": "control"},
                "percentage_allocation": control,
            },
            {
                "id": 2,
                "multivariate_feature_option": {"id": 11, "value": "cached"},
                "percentage_allocation": 100 - control,
            },
        ]

    changes = {
        "data.previous_state.enabled": True,
        "data.previous_state.multivariate_feature_state_values": split(90),
        "data.new_state.multivariate_feature_state_values": split(50),
    }
    change = convert(UPDATED, changes)
    assert change.summary == "Changed the variant split of inventory_cache_reads in Production"
    assert change.description.splitlines()[0] == (
        'Variants: "cached" 10% / "control" 90% → "cached" 50% / "control" 50%'
    )


def test_a_save_without_a_difference_says_what_the_flag_is_now():
    change = convert(UPDATED, {"data.previous_state.enabled": True})
    assert change.summary == "Updated inventory_cache_reads in Production"
    assert change.description.startswith("Enabled: on\nValue: null")


def test_a_new_feature_state_has_no_previous_state():
    change = convert(UPDATED, {"data.previous_state": REMOVED})
    assert change.summary == "Created inventory_cache_reads in Production (on)"
    assert change.description.startswith("Enabled: on\nValue: null")


def test_a_segment_override_names_its_segment_and_is_a_state_of_its_own():
    segment = {
        "data.new_state.feature_segment": SEGMENT,
        "data.previous_state.feature_segment": SEGMENT,
    }
    change = convert(UPDATED, segment)
    assert (
        change.summary == "Turned on inventory_cache_reads in Production for segment beta-testers"
    )
    assert change.identity != convert(UPDATED).identity
    assert change.metadata["segment"] == "beta-testers"


def test_a_new_segment_override():
    changes = {"data.new_state.feature_segment": SEGMENT, "data.previous_state": REMOVED}
    change = convert(UPDATED, changes)
    assert change.summary == (
        "Added an override of inventory_cache_reads in Production for segment beta-testers (on)"
    )


def test_a_deleted_flag_is_a_change_at_receipt_by_nobody_named():
    # Quirk: changed_by and timestamp describe the last edit before the deletion.
    change = convert(DELETED)
    assert change.summary == "Deleted legacy_checkout_redirect in Production (was on)"
    assert (change.occurred_at, change.triggered_by, change.event_type) == (
        None,
        "",
        "FLAG_DELETED",
    )
    assert change.description.splitlines()[:3] == [
        "Enabled: on → deleted",
        "Value: null → deleted",
        "Last changed before the deletion: by tberg@acme-shop.example 2026-09-14T10:22:05.117304Z",
    ]
    assert change.metadata["last_changed_by"] == "tberg@acme-shop.example"


def test_a_removed_segment_override():
    change = convert(DELETED, {"data.previous_state.feature_segment": SEGMENT})
    assert change.summary == (
        "Removed the override of legacy_checkout_redirect in Production for segment beta-testers"
        " (was on)"
    )


def test_the_identity_is_the_feature_state_and_the_edits_time():
    change = convert(UPDATED)
    assert change.identity == change.event_id == "updated:18833:412:2026-11-20T14:11:36.482913Z"
    later = convert(UPDATED, {"data.timestamp": "2026-11-20T14:30:00.000000Z"})
    assert later.identity != change.identity
    assert change.idempotency_key == ""  # Flagsmith sends no delivery id


def test_a_deletion_is_never_the_same_change_as_the_last_edit():
    deleted = convert(DELETED)
    assert deleted.identity == deleted.event_id == "deleted:9921:317"
    same_edit = {
        "event_type": "FLAG_UPDATED",
        "data.new_state": load_body(DELETED)["data"]["previous_state"],
    }
    assert convert(DELETED, same_edit).identity != deleted.identity


def test_without_a_timestamp_nothing_ties_two_deliveries_together():
    change = convert(UPDATED, {"data.timestamp": ""})
    assert (change.identity, change.event_id, change.occurred_at) == ("", "", None)


def test_a_change_by_the_system_names_nobody():
    assert convert(UPDATED, {"data.changed_by": ""}).triggered_by == ""


def test_an_identity_override_changes_one_user_and_is_ignored():
    changes = {"data.new_state.identity": 4411, "data.new_state.identity_identifier": "user-42"}
    ignored = skipped(convert, UPDATED, changes)
    assert (ignored.reason, ignored.event_type) == (
        "identity override of inventory_cache_reads for user-42: changes one user",
        "FLAG_UPDATED",
    )


@pytest.mark.parametrize("event", ["AUDIT_LOG_CREATED", "NEW_VERSION_PUBLISHED"])
def test_other_event_types_are_ignored(event):
    ignored = skipped(convert, UPDATED, {"event_type": event})
    assert (ignored.reason, ignored.event_type) == (f"event type not used: {event}", event)


def test_a_project_less_feature_has_no_component():
    assert convert(UPDATED, {"data.new_state.feature.project": REMOVED}).component == ""


@pytest.mark.parametrize("body", [[], "FLAG_UPDATED", 3, None])
def test_a_body_that_is_not_an_object_is_invalid(body):
    _, headers = fixture_request(PRODUCER, UPDATED)
    assert refused(flagsmith.to_canonical, body, headers).field_name == "body"


@pytest.mark.parametrize(
    ("name", "changes", "field"),
    [
        (UPDATED, {"event_type": REMOVED}, "event_type"),
        (UPDATED, {"event_type": 1}, "event_type"),
        (UPDATED, {"data": REMOVED}, "data"),
        (UPDATED, {"data": "update"}, "data"),
        (UPDATED, {"data.new_state": REMOVED}, "data.new_state"),
        (UPDATED, {"data.new_state": "on"}, "data.new_state"),
        (UPDATED, {"data.previous_state": []}, "data.previous_state"),
        (UPDATED, {"data.new_state.feature.name": REMOVED}, "data.new_state.feature.name"),
        (UPDATED, {"data.new_state.feature": 18833}, "data.new_state.feature"),
        (UPDATED, {"data.new_state.environment.name": ""}, "data.new_state.environment.name"),
        (UPDATED, {"data.new_state.environment": REMOVED}, "data.new_state.environment.name"),
        (UPDATED, {"data.timestamp": "last tuesday"}, "data.timestamp"),
        (UPDATED, {"data.changed_by": {"email": "x"}}, "data.changed_by"),
        (DELETED, {"data.previous_state": REMOVED}, "data.previous_state"),
        (
            DELETED,
            {"data.previous_state.feature.name": REMOVED},
            "data.previous_state.feature.name",
        ),
    ],
)
def test_a_missing_or_wrong_typed_field_is_named(name, changes, field):
    assert refused(convert, name, changes).field_name == field


def test_unicode_values_are_kept():
    changes = {
        "data.new_state.feature.name": "kasse_neu_ü",
        "data.new_state.environment.name": "Produktion ✅",
        "data.changed_by": "zoë@acme-shop.example",
        "data.new_state.feature.project.name": "Zahlungs-Dienst",
    }
    change = convert(UPDATED, changes)
    assert (change.version, change.environment, change.triggered_by, change.component) == (
        "kasse_neu_ü",
        "produktion ✅",
        "zoë@acme-shop.example",
        "Zahlungs-Dienst",
    )
    assert change.summary == "Turned on kasse_neu_ü in Produktion ✅"


def load_body(name: str) -> dict[str, Any]:
    return fixture_request(PRODUCER, name)[0]
