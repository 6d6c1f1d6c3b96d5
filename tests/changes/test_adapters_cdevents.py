"""The CDEvents adapter: every CDEvents fixture, the three shapes a CDEvent arrives in, the purls
it names, and the events it must refuse or skip."""

from typing import Any

import pytest
from django.utils.datastructures import CaseInsensitiveMapping

from changes.adapters import cdevents
from changes.adapters.base import CanonicalChange
from common.times import parse_timestamp
from tests.adapters import (
    REMOVED,
    assert_fixture_converts,
    fixture_request,
    refused,
    skipped,
    without_header,
)
from tests.fixtures import fixture_names, load_fixture

PRODUCER = "cdevents"
STRUCTURED = "service_deployed"  # CloudEvents structured mode: the CDEvent under `data`
BINARY = "service_upgraded_binary_mode"  # ce-* headers, the bare CDEvent as the body
BARE = "service_rolledback"  # a bare CDEvent from a script, no CloudEvents attribute
PIPELINE_RUN = "pipelinerun_finished_ignored"
# Where each fixture keeps its CDEvent.
BASE = {STRUCTURED: "data.", BINARY: "", BARE: "", PIPELINE_RUN: ""}
DIGEST = "sha256:2e7b4d9a1c6f3e8b0d5a2c7f4e1b9d6a3c0f8e5b2d7a4c1f9e6b3d0a8c5f2e7b"


def convert(
    name: str, changes: dict[str, Any] | None = None, headers: dict[str, str] | None = None
) -> CanonicalChange:
    """The fixture read by the adapter; `changes` paths are relative to the CDEvent."""
    body, fixture_headers = fixture_request(
        PRODUCER, name, {BASE[name] + path: value for path, value in (changes or {}).items()}
    )
    if headers is not None:
        fixture_headers = CaseInsensitiveMapping(headers)
    return cdevents.to_canonical(body, fixture_headers)


def event_of_type(name: str, event_type: str, **changes: Any) -> CanonicalChange:
    return convert(name, {"context.type": event_type, **changes})


@pytest.mark.parametrize("name", fixture_names(PRODUCER))
def test_fixture_converts_as_expected(name):
    expect = load_fixture(PRODUCER, name)["expect"]
    assert_fixture_converts(convert, name, expect)


# --- The three shapes ---------------------------------------------------------------------------


def test_the_three_shapes_of_one_event_read_alike():
    structured_body, _ = fixture_request(PRODUCER, STRUCTURED)
    cdevent = structured_body["data"]
    structured = cdevents.to_canonical(
        structured_body,
        CaseInsensitiveMapping({"Content-Type": "application/cloudevents+json; charset=UTF-8"}),
    )
    binary = cdevents.to_canonical(
        cdevent,
        CaseInsensitiveMapping(
            {"Content-Type": "application/json", "Ce-Specversion": "1.0", "Ce-Id": "other"}
        ),
    )
    bare = cdevents.to_canonical(cdevent, CaseInsensitiveMapping({}))
    assert structured == binary == bare


def test_a_structured_envelope_sent_as_application_json_is_still_read():
    body, _ = fixture_request(PRODUCER, STRUCTURED)
    change = cdevents.to_canonical(body, CaseInsensitiveMapping({"Content-Type": "text/plain"}))
    assert (change.component, change.version) == ("inventory-service", "v3.12.0")


def test_a_bare_cdevent_labelled_as_a_structured_cloudevent_is_read_as_it_is():
    body, _ = fixture_request(PRODUCER, BARE)
    headers = CaseInsensitiveMapping({"Content-Type": "application/cloudevents+json"})
    assert cdevents.to_canonical(body, headers).component == "payments-service"


def test_the_cdevent_wins_over_the_structured_envelope():
    change = convert(STRUCTURED)
    body, headers = fixture_request(
        PRODUCER,
        STRUCTURED,
        {"id": "envelope-id", "type": "dev.cdevents.pipelinerun.finished.0.2.0", "time": "2020"},
    )
    assert cdevents.to_canonical(body, headers) == change


def test_the_cdevent_wins_over_the_binary_headers():
    _, headers = fixture_request(PRODUCER, BINARY)
    headers = CaseInsensitiveMapping(
        {**headers, "ce-id": "header-id", "ce-type": "dev.cdevents.taskrun.started.0.2.0"}
    )
    change = convert(BINARY, headers=dict(headers))
    assert (change.idempotency_key, change.event_type) == (
        "8d2e6f1a-3b9c-4c70-a5e4-1f7b0d9c2e83",
        "dev.cdevents.service.upgraded",
    )


def test_binary_headers_are_read_whatever_their_case():
    # sdk-go canonicalises them: Ce-Id, Ce-Type, ...
    _, headers = fixture_request(PRODUCER, BINARY)
    canonical = {name.title() if name.startswith("ce-") else name: v for name, v in headers.items()}
    change = convert(BINARY, {"context.id": REMOVED, "context.type": REMOVED}, headers=canonical)
    assert (change.idempotency_key, change.kind) == (
        "8d2e6f1a-3b9c-4c70-a5e4-1f7b0d9c2e83",
        "deployment",
    )


@pytest.mark.parametrize(
    ("name", "attribute", "value"),
    [
        (STRUCTURED, "id", "f3b1c9d2-6a47-4e85-9c0b-2d7e5a1f8b36"),
        (BINARY, "ce-id", "8d2e6f1a-3b9c-4c70-a5e4-1f7b0d9c2e83"),
    ],
)
def test_the_cloudevents_id_stands_in_for_a_missing_context_id(name, attribute, value):
    change = convert(name, {"context.id": REMOVED})
    assert (change.idempotency_key, change.event_id) == (value, value)


def test_the_cloudevents_time_stands_in_for_a_missing_timestamp():
    assert convert(STRUCTURED, {"context.timestamp": REMOVED}).occurred_at == parse_timestamp(
        "2026-11-20T13:49:27.602Z"
    )
    assert convert(BINARY, {"context.timestamp": REMOVED}).occurred_at == parse_timestamp(
        "2026-11-20T14:26:03.118Z"
    )


def test_without_any_time_the_receive_time_is_used():
    assert convert(BARE, {"context.timestamp": REMOVED}).occurred_at is None
    body, headers = fixture_request(PRODUCER, BINARY, {"context.timestamp": REMOVED})
    headers = CaseInsensitiveMapping({**headers, "ce-time": "not a time"})
    assert cdevents.to_canonical(body, headers).occurred_at is None


def test_a_bare_cdevent_must_carry_its_own_id_and_type():
    assert refused(convert, BARE, {"context.id": REMOVED}).field_name == "context.id"
    assert refused(convert, BARE, {"context.type": REMOVED}).field_name == "context.type"
    binary_without_ce_id = without_header(fixture_request(PRODUCER, BINARY)[1], "ce-id")
    invalid = refused(convert, BINARY, {"context.id": ""}, dict(binary_without_ce_id))
    assert invalid.field_name == "context.id"


@pytest.mark.parametrize("body", [[], "event", 3, None, True])
def test_a_body_that_is_not_an_object_is_invalid(body):
    assert refused(cdevents.to_canonical, body, CaseInsensitiveMapping({})).field_name == "body"


def test_a_cloudevents_batch_is_refused_with_a_reason():
    body, _ = fixture_request(PRODUCER, STRUCTURED)
    headers = CaseInsensitiveMapping({"Content-Type": "application/cloudevents-batch+json"})
    invalid = refused(cdevents.to_canonical, [body], headers)
    assert invalid.field_name == "body" and "one event per request" in invalid.fields["body"][0]


# --- Event types --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event_type", "kind", "summary"),
    [
        (
            "dev.cdevents.service.deployed.0.2.0",
            "deployment",
            "Deployed checkout-api v2.14.0 to production",
        ),
        (
            "dev.cdevents.service.upgraded.0.2.0",
            "deployment",
            "Upgraded checkout-api to v2.14.0 in production",
        ),
        (
            "dev.cdevents.service.rolledback.0.2.0",
            "rollback",
            "Rolled back checkout-api to v2.14.0 in production",
        ),
    ],
)
def test_each_service_event_is_a_succeeded_change_of_its_kind(event_type, kind, summary):
    change = event_of_type(BINARY, event_type)
    assert (change.kind, change.outcome, change.summary) == (kind, "succeeded", summary)
    assert change.event_type == event_type.rsplit(".", 3)[0]


def test_a_removed_service_is_recorded_as_a_deployment_without_an_artifact():
    change = event_of_type(
        BINARY, "dev.cdevents.service.removed.0.2.0", **{"subject.content.artifactId": REMOVED}
    )
    assert (change.kind, change.outcome, change.summary, change.version) == (
        "deployment",
        "succeeded",
        "Removed checkout-api from production",
        "",
    )
    # A removal is not reported twice under another id: no identity, the event id dedupes it.
    assert (change.identity, change.event_id) == ("", "8d2e6f1a-3b9c-4c70-a5e4-1f7b0d9c2e83")


@pytest.mark.parametrize(
    "event_type",
    ["dev.cdevents.service.deployed.0.3.0", "dev.cdevents.service.deployed.0.1.1"],
)
def test_other_versions_of_a_service_event_are_read(event_type):
    assert event_of_type(BARE, event_type).kind == "deployment"


@pytest.mark.parametrize(
    "event_type",
    [
        "dev.cdevents.pipelinerun.finished.0.2.0",
        "dev.cdevents.taskrun.started.0.2.0",
        "dev.cdevents.build.finished.0.2.0",
        "dev.cdevents.environment.created.0.2.0",
        "dev.cdevents.service.published.0.2.0",
        "dev.cdevents.artifact.published.0.2.0",
        "dev.cdevents.service",
        "dev.cdevents.service.deployedlater.0.2.0",
        "com.example.deployment.finished",
    ],
)
def test_other_event_types_are_ignored_with_their_type(event_type):
    ignored = skipped(event_of_type, BARE, event_type)
    assert ignored.reason == f"event type not used: {event_type}"
    assert ignored.event_type


def test_an_ignored_event_needs_no_service_subject():
    ignored = skipped(convert, PIPELINE_RUN, {"subject": REMOVED, "context.id": REMOVED})
    assert ignored.event_type == "dev.cdevents.pipelinerun.finished"


# --- Fields -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subject_id", "component"),
    [
        ("service/checkout-api", "checkout-api"),
        ("daemonset/node-agent", "node-agent"),
        ("checkout-api", "checkout-api"),
        ("namespaces/shop/deployments/checkout-api/", "checkout-api"),
    ],
)
def test_the_component_is_the_last_segment_of_the_subject_id(subject_id, component):
    assert convert(BARE, {"subject.id": subject_id}).component == component


def test_without_a_name_in_the_subject_id_the_purl_names_the_component():
    change = convert(BINARY, {"subject.id": "/"})
    assert change.component == "checkout-api"


@pytest.mark.parametrize(
    ("artifact", "version", "commit"),
    [
        (f"pkg:oci/checkout-api@{DIGEST.replace(':', '%3A')}?tag=v2.14.0", "v2.14.0", ""),
        (f"pkg:oci/checkout-api@{DIGEST.replace(':', '%3A')}", DIGEST, ""),
        ("pkg:oci/checkout-api?repository_url=ghcr.io/acme/checkout-api&tag=v3", "v3", ""),
        ("pkg:golang/mygit.com/myorg/myapp@v1.2.3", "v1.2.3", ""),
        (
            "pkg:golang/mygit.com/myorg/myapp@234fd47e07d1004f0aed9c",
            "234fd47e07d1004f0aed9c",
            "234fd47e07d1004f0aed9c",
        ),
        ("pkg:npm/%40acme/web@4.1.0#dist", "4.1.0", ""),
        ("pkg:oci/checkout-api?tag=v2%2Bbuild.7", "v2+build.7", ""),
        ("six-1.14.0-py2.py3-none-any.whl", "six-1.14.0-py2.py3-none-any.whl", ""),
        # A purl escaped once more on its way: the literal \u0026 is still an &.
        ("pkg:oci/checkout-api@sha256%3Aab?repository_url=ghcr.io/a\\u0026tag=v9", "v9", ""),
    ],
)
def test_the_version_is_the_purls_tag_else_its_version(artifact, version, commit):
    change = convert(BARE, {"subject.content.artifactId": artifact})
    assert (change.version, change.commit) == (version, commit)


def test_gos_escaped_ampersand_is_read_as_an_ampersand():
    # The fixture's body has `\u0026` in the purl (encoding/json): parsed, it is an &.
    change = convert(STRUCTURED)
    assert change.metadata["artifact_id"].endswith("inventory-service&tag=v3.12.0")
    assert change.metadata["repository_url"] == "ghcr.io/acme-shop/inventory-service"


def test_the_environment_is_the_id_of_the_subjects_environment():
    assert convert(BARE, {"subject.content.environment.id": "staging"}).environment == "staging"
    assert convert(BARE, {"subject.content.environment": REMOVED}).environment == ""
    assert convert(BARE, {"subject.content.environment": {"source": "/c"}}).environment == ""


def test_an_environment_written_as_a_plain_string_is_its_id():
    assert convert(BARE, {"subject.content.environment": "staging"}).environment == "staging"


def test_the_metadata_says_where_the_event_came_from():
    assert convert(BARE, {"context.chainId": "chain-7"}).metadata == {
        "source": "/spinnaker/prod",
        "cdevents_version": "0.4.1",
        "chain_id": "chain-7",
        "subject_id": "service/payments-service",
        "environment_source": "/clusters/prod-eu-west-1",
        "artifact_id": (
            "pkg:oci/payments-service@sha256%3A5c1a8e3f6b9d2c7a0e4f1b8d5a2c9e6f3b0d7a4c1e8f5b2d9a6c"
            "3f0e7b4d1a8c?repository_url=ghcr.io/acme-shop/payments-service&tag=v4.6.3"
        ),
        "repository_url": "ghcr.io/acme-shop/payments-service",
    }


def test_a_missing_context_source_is_taken_from_the_cloudevent():
    assert convert(BINARY, {"context.source": REMOVED}).metadata["source"] == (
        "/argo-rollouts/prod-eu-west-1"
    )


def test_no_person_and_no_link_are_made_up():
    change = convert(STRUCTURED)
    assert (change.triggered_by, change.links, change.commit, change.started_at) == (
        "",
        (),
        "",
        None,
    )


# --- Identity -----------------------------------------------------------------------------------


def test_two_reports_of_one_rollout_share_an_identity_not_an_event_id():
    first = convert(BINARY)
    again = convert(
        BINARY,
        {"context.id": "another-report", "context.source": "/another-tool", "subject.source": "/x"},
    )
    assert first.identity == again.identity != ""
    assert first.event_id != again.event_id


def test_the_purl_is_compared_decoded_with_its_qualifiers_in_order():
    written_one_way = convert(
        BARE, {"subject.content.artifactId": "pkg:oci/app@sha256%3Aab?tag=v1&repository_url=r"}
    )
    written_another = convert(
        BARE, {"subject.content.artifactId": "pkg:oci/app@sha256:ab?repository_url=r&tag=v1"}
    )
    assert written_one_way.identity == written_another.identity


@pytest.mark.parametrize(
    "changes",
    [
        {"subject.id": "service/cart"},
        {"subject.content.environment.id": "staging"},
        {"subject.content.artifactId": "pkg:oci/checkout-api?tag=v2.15.0"},
    ],
)
def test_another_service_environment_or_artifact_is_another_change(changes):
    assert convert(BINARY, changes).identity != convert(BINARY).identity


def test_a_rollback_to_an_artifact_deployed_before_is_a_change_of_its_own():
    deployed = event_of_type(BINARY, "dev.cdevents.service.deployed.0.2.0")
    rolled_back = event_of_type(BINARY, "dev.cdevents.service.rolledback.0.2.0")
    assert deployed.identity != rolled_back.identity
    assert event_of_type(BINARY, "dev.cdevents.service.upgraded.0.2.0").identity == (
        deployed.identity
    )


def test_a_long_identity_is_hashed_to_fit_its_column():
    long_purl = "pkg:oci/checkout-api?repository_url=" + "r" * 400
    change = convert(BINARY, {"subject.content.artifactId": long_purl})
    assert change.identity.startswith("service:sha256:") and len(change.identity) <= 300
    assert change.identity == convert(BINARY, {"subject.content.artifactId": long_purl}).identity


# --- Refusals -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "removed", "field_name"),
    [
        (BARE, "context", "context"),
        (BARE, "subject", "subject"),
        (BARE, "subject.id", "subject.id"),
        (BARE, "subject.content.artifactId", "subject.content.artifactId"),
        (BINARY, "subject.content", "subject.content.artifactId"),
        (STRUCTURED, "data", "data"),
        (STRUCTURED, "data.context", "data.context"),
        (STRUCTURED, "data.subject.id", "data.subject.id"),
    ],
)
def test_a_missing_required_field_is_named(name, removed, field_name):
    body, headers = fixture_request(PRODUCER, name, {removed: REMOVED})
    assert refused(cdevents.to_canonical, body, headers).field_name == field_name


@pytest.mark.parametrize(
    ("changes", "field_name", "problem"),
    [
        ({"context": "service.deployed"}, "context", "Expected an object, got a string."),
        ({"context.type": 7}, "context.type", "Expected a string, got a number."),
        ({"subject": ["service/a"]}, "subject", "Expected an object, got a list."),
        ({"subject.id": {"name": "a"}}, "subject.id", None),
        ({"subject.id": ""}, "subject.id", "This field may not be blank."),
        ({"subject.content": "production"}, "subject.content", None),
        ({"subject.content.environment": ["prod"]}, "subject.content.environment", None),
        ({"subject.content.environment.id": True}, "subject.content.environment.id", None),
        ({"subject.content.artifactId": 42}, "subject.content.artifactId", None),
        (
            {"subject.content.artifactId": "pkg:oci/" + "a" * 2000},
            "subject.content.artifactId",
            None,
        ),
        ({"context.timestamp": "yesterday"}, "context.timestamp", None),
        ({"context.timestamp": False}, "context.timestamp", None),
        ({"context.id": ["x"]}, "context.id", None),
        ({"context.id": "x" * 201}, "context.id", None),
        ({"context.chainId": {"id": 1}}, "context.chainId", None),
    ],
)
def test_a_field_of_the_wrong_type_is_named(changes, field_name, problem):
    invalid = refused(convert, BARE, changes)
    assert invalid.field_name == field_name
    if problem:
        assert invalid.fields == {field_name: [problem]}


def test_structured_mode_names_the_field_under_data():
    assert refused(convert, STRUCTURED, {"subject.id": []}).field_name == "data.subject.id"
    body, headers = fixture_request(PRODUCER, STRUCTURED, {"data": "a CDEvent"})
    assert refused(cdevents.to_canonical, body, headers).field_name == "data"


def test_unicode_values_are_kept():
    change = convert(
        BARE,
        {
            "subject.id": "service/kassen-über-dienst",
            "subject.content.environment.id": "produktion-日本",
            "subject.content.artifactId": "pkg:oci/kassen@sha256%3Aab?tag=v1.0-%C3%BC%E2%9C%85",
        },
    )
    assert (change.component, change.environment, change.version) == (
        "kassen-über-dienst",
        "produktion-日本",
        "v1.0-ü✅",
    )
    assert change.summary == "Rolled back kassen-über-dienst to v1.0-ü✅ in produktion-日本"
