"""The LaunchDarkly adapter: every fixture, each flag action's words, the entries it skips, and
the bodies it refuses."""

from datetime import UTC, datetime
from typing import Any

import pytest

from changes.adapters import launchdarkly
from changes.adapters.base import CanonicalChange
from tests.adapters import (
    REMOVED,
    assert_fixture_converts,
    fixture_request,
    refused,
    skipped,
)
from tests.fixtures import fixture_names, load_fixture

PRODUCER = "launchdarkly"
TURNED_ON = "flag_turned_on"
TARGETING = "flag_targeting_changed"


def convert(name: str, changes: dict[str, Any] | None = None) -> CanonicalChange:
    return launchdarkly.to_canonical(*fixture_request(PRODUCER, name, changes))


@pytest.mark.parametrize("name", fixture_names(PRODUCER))
def test_fixture_converts_as_expected(name):
    expect = load_fixture(PRODUCER, name)["expect"]
    assert_fixture_converts(convert, name, expect)


def test_each_entry_is_a_change_of_its_own_named_by_its_id():
    change = convert(TURNED_ON)
    assert (change.identity, change.event_id, change.idempotency_key) == (
        "entry:6731f0c2a8e4b51d9c7e2f40",
        "entry:6731f0c2a8e4b51d9c7e2f40",
        "6731f0c2a8e4b51d9c7e2f40",
    )
    assert convert(TARGETING).identity == "entry:6731ef31d4b7a2c95e0f8a16"


def test_the_time_is_the_entrys_date_in_epoch_milliseconds_not_the_delivery_order():
    # Quirk: deliveries come out of order; the targeting change happened first.
    assert convert(TARGETING).occurred_at == datetime(2026, 11, 20, 13, 58, 41, 902000, tzinfo=UTC)
    assert convert(TARGETING).occurred_at < convert(TURNED_ON).occurred_at


def test_turning_a_flag_on_says_so_with_its_previous_state():
    change = convert(TURNED_ON)
    assert (change.kind, change.outcome) == ("feature_flag", "succeeded")
    assert change.summary == "Turned on new-checkout-flow in production"
    assert change.description.splitlines() == [
        "* Turned the flag on",
        "Targeting: off → on",
        "Comment: Enable for all traffic after canary",
    ]
    assert change.event_type == "updateOn"


def test_turning_a_flag_off_reads_the_current_version():
    change = convert(
        TURNED_ON,
        {
            "previousVersion.environments.production.on": True,
            "currentVersion.environments.production.on": False,
        },
    )
    assert change.summary == "Turned off new-checkout-flow in production"
    assert "Targeting: on → off" in change.description


@pytest.mark.parametrize(
    ("title_verb", "word"), [("turned off the flag", "off"), ("turned on the flag", "on")]
)
def test_without_the_flags_versions_the_title_verb_says_which_way(title_verb, word):
    changes = {"previousVersion": REMOVED, "currentVersion": REMOVED, "titleVerb": title_verb}
    change = convert(TURNED_ON, changes)
    assert change.summary == f"Turned {word} new-checkout-flow in production"
    assert (
        change.description == "* Turned the flag on\nComment: Enable for all traffic after canary"
    )


def test_a_rollout_change_keeps_the_previous_and_new_split():
    change = convert(TARGETING)
    assert change.summary == "Changed targeting of search-ranking-v2 in production"
    assert "Default rule: true 10% / false 90% → true 50% / false 50%" in change.description


@pytest.mark.parametrize(
    "action",
    [
        "updateRules",
        "updateTargets",
        "updateOffVariation",
        "updatePrerequisites",
        "copyFlagConfigFrom",
    ],
)
def test_other_targeting_actions_map_the_same_way(action):
    change = convert(TARGETING, {"accesses.0.action": action})
    assert change.summary == "Changed targeting of search-ranking-v2 in production"
    assert change.event_type == action


def test_targeting_details_compare_the_environment_before_and_after():
    changes = {
        "currentVersion.environments.production.offVariation": 0,
        "currentVersion.environments.production.rules": [{"_id": "r1"}, {"_id": "r2"}],
        "currentVersion.environments.production.targets": [
            {"values": ["u1", "u2"], "variation": 0}
        ],
    }
    lines = convert(TARGETING, changes).description.splitlines()
    assert "Off variation: false → true" in lines
    assert "Rules: 0 rules → 2 rules" in lines
    assert "Individual targets: 0 contexts → 2 contexts" in lines


@pytest.mark.parametrize(
    ("changes", "summary"),
    [
        (
            {"accesses.0.action": "deleteFlag", "currentVersion": REMOVED},
            "Deleted new-checkout-flow",
        ),
        (
            {"accesses.0.action": "createFlag", "previousVersion": REMOVED},
            "Created new-checkout-flow",
        ),
        (
            {"accesses.0.action": "updateGlobalArchived", "currentVersion.archived": True},
            "Archived new-checkout-flow",
        ),
        (
            {"accesses.0.action": "updateGlobalArchived", "currentVersion.archived": False},
            "Restored new-checkout-flow",
        ),
        (
            {"accesses.0.action": "updateFlagVariations"},
            "Changed the variations of new-checkout-flow",
        ),
        (
            {"accesses.0.action": "updateDeprecated", "currentVersion.deprecated": True},
            "Deprecated new-checkout-flow",
        ),
        (
            {"accesses.0.action": "updateSomethingNew", "titleVerb": "updated the flag"},
            "Updated the flag new-checkout-flow",
        ),
    ],
)
def test_each_flag_action_is_said_in_words(changes, summary):
    change = convert(
        TURNED_ON, {"accesses.0.resource": "proj/default:flag/new-checkout-flow", **changes}
    )
    assert change.summary == summary
    assert (change.version, change.environment) == ("new-checkout-flow", "")


def test_the_most_drastic_of_several_actions_names_the_change():
    changes = {
        "accesses": [
            {
                "action": "updateFallthrough",
                "resource": "proj/default:env/production:flag/new-checkout-flow",
            },
            {
                "action": "updateOn",
                "resource": "proj/default:env/production:flag/new-checkout-flow",
            },
        ]
    }
    change = convert(TURNED_ON, changes)
    assert change.summary == "Turned on new-checkout-flow in production"
    assert change.metadata["actions"] == "updateFallthrough, updateOn"


def test_archiving_and_variation_changes_show_before_and_after():
    changes = {
        "accesses.0.action": "updateGlobalArchived",
        "currentVersion.archived": True,
        "currentVersion.variations.1.value": "legacy",
    }
    lines = convert(TURNED_ON, changes).description.splitlines()
    assert "Archived: no → yes" in lines
    assert 'Variations: true, false → true, "legacy"' in lines


@pytest.mark.parametrize("kind", ["project", "member", "environment", "segment", "token"])
def test_entries_that_are_not_about_a_flag_are_ignored(kind):
    ignored = skipped(convert, TURNED_ON, {"kind": kind})
    assert (ignored.reason, ignored.event_type) == (f"kind {kind}: not a flag change", kind)


@pytest.mark.parametrize(
    "action", ["updateName", "updateTags", "updateDescription", "createApprovalRequest"]
)
def test_flag_actions_that_change_nothing_served_are_ignored(action):
    ignored = skipped(convert, TURNED_ON, {"accesses.0.action": action})
    assert (ignored.reason, ignored.event_type) == (f"flag action not recorded: {action}", action)


def test_a_descriptive_action_beside_a_real_one_is_recorded():
    resource = "proj/default:env/production:flag/new-checkout-flow"
    changes = {
        "accesses": [
            {"action": "updateName", "resource": resource},
            {"action": "updateOn", "resource": resource},
        ]
    }
    assert convert(TURNED_ON, changes).summary == "Turned on new-checkout-flow in production"


def test_the_environment_and_flag_come_from_the_resource():
    resource = "proj/mobile:env/eu-prod;critical:flag/checkout.v2"
    change = convert(TURNED_ON, {"accesses.0.resource": resource})
    assert (change.environment, change.version, change.metadata["project"]) == (
        "eu-prod",
        "checkout.v2",
        "mobile",
    )


def test_several_environments_keep_the_first_and_list_them_all():
    changes = {
        "accesses": [
            {
                "action": "copyFlagConfigTo",
                "resource": "proj/default:env/staging:flag/new-checkout-flow",
            },
            {
                "action": "copyFlagConfigFrom",
                "resource": "proj/default:env/production:flag/new-checkout-flow",
            },
        ]
    }
    change = convert(TURNED_ON, changes)
    assert change.environment == "staging"
    assert change.metadata["environments"] == "staging, production"


def test_without_a_flag_in_the_resource_the_versions_name_it():
    change = convert(TURNED_ON, {"accesses.0.resource": "proj/default:env/production"})
    assert change.version == "new-checkout-flow"


@pytest.mark.parametrize(
    ("tags", "component"),
    [
        (["team-checkout", "service:checkout-api"], "checkout-api"),
        (["search-api", "experiment"], "search-api"),
        (["service:", "  payments  "], "payments"),
        ([], ""),
        (None, ""),
    ],
)
def test_the_component_is_the_service_tag_else_the_first_tag(tags, component):
    assert convert(TURNED_ON, {"currentVersion.tags": tags}).component == component


def test_a_deleted_flag_takes_its_component_from_the_previous_version():
    changes = {"accesses.0.action": "deleteFlag", "currentVersion": REMOVED}
    assert convert(TURNED_ON, changes).component == "checkout-api"


def test_a_change_made_with_an_access_token_names_the_token():
    changes = {
        "member": REMOVED,
        "token": {"_id": "t1", "name": "terraform-provider", "ending": "a1b2"},
    }
    assert convert(TURNED_ON, changes).triggered_by == "terraform-provider"


def test_a_member_without_an_email_is_named():
    assert convert(TURNED_ON, {"member.email": REMOVED}).triggered_by == "Marta Kowalski"


def test_the_flag_link_is_the_titles_which_names_the_instance():
    changes = {
        "title": "[Marta](mailto:m@example.com) turned on the flag "
        "[New checkout flow](https://app.eu.launchdarkly.com/default/production/features/new-checkout-flow)"
    }
    assert convert(TURNED_ON, changes).links == (
        {
            "href": "https://app.eu.launchdarkly.com/default/production/features/new-checkout-flow",
            "text": "Flag in LaunchDarkly",
        },
    )


def test_without_a_title_link_the_site_path_is_on_app_launchdarkly_com():
    change = convert(TURNED_ON, {"title": "turned on the flag"})
    assert (
        change.links[0]["href"]
        == "https://app.launchdarkly.com/default/production/features/new-checkout-flow"
    )
    assert convert(TURNED_ON, {"title": REMOVED, "_links": REMOVED}).links == ()


@pytest.mark.parametrize("body", [[], "flag", 3, None])
def test_a_body_that_is_not_an_object_is_invalid(body):
    _, headers = fixture_request(PRODUCER, TURNED_ON)
    assert refused(launchdarkly.to_canonical, body, headers).field_name == "body"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"kind": REMOVED}, "kind"),
        ({"kind": 3}, "kind"),
        ({"_id": REMOVED}, "_id"),
        ({"_id": ["x"]}, "_id"),
        ({"accesses": REMOVED}, "accesses"),
        ({"accesses": "updateOn"}, "accesses"),
        ({"accesses": []}, "accesses"),
        ({"accesses": ["updateOn"]}, "accesses.0"),
        ({"accesses.0.action": REMOVED}, "accesses.0.action"),
        ({"accesses.0.action": 7}, "accesses.0.action"),
        ({"accesses.0.resource": {"proj": "default"}}, "accesses.0.resource"),
        ({"date": "yesterday"}, "date"),
        ({"date": True}, "date"),
        ({"currentVersion": "v16"}, "currentVersion"),
        ({"currentVersion.tags": "service:checkout-api"}, "currentVersion.tags"),
        (
            {"currentVersion.environments.production": "on"},
            "currentVersion.environments.production",
        ),
        ({"member": "marta"}, "member"),
    ],
)
def test_a_missing_or_wrong_typed_field_is_named(changes, field):
    assert refused(convert, TURNED_ON, changes).field_name == field


def test_a_flag_named_nowhere_is_refused():
    changes = {
        "accesses.0.resource": "proj/default:env/production",
        "currentVersion": REMOVED,
        "previousVersion": REMOVED,
    }
    assert refused(convert, TURNED_ON, changes).field_name == "accesses"


def test_an_overlong_tag_is_refused_rather_than_cut():
    invalid = refused(convert, TURNED_ON, {"currentVersion.tags": ["service:" + "x" * 300]})
    assert invalid.field_name == "currentVersion.tags"


def test_unicode_values_are_kept():
    changes = {
        "accesses.0.resource": "proj/default:env/prød:flag/neuer-bezahlvorgang",
        "member.email": "zoë@acme-shop.example",
        "comment": "Für alle freigeschaltet ✅",
        "currentVersion.tags": ["service:zahlungs-dienst"],
    }
    change = convert(TURNED_ON, changes)
    assert (change.environment, change.version, change.triggered_by, change.component) == (
        "prød",
        "neuer-bezahlvorgang",
        "zoë@acme-shop.example",
        "zahlungs-dienst",
    )
    assert change.summary == "Turned on neuer-bezahlvorgang in prød"
    assert change.description.endswith("Comment: Für alle freigeschaltet ✅")
