"""The Flux adapter: every Flux fixture, revision shapes, states, repeats, and what it refuses or
skips."""

from typing import Any

import pytest
from django.utils.datastructures import CaseInsensitiveMapping

from changes.adapters import flux
from changes.adapters.base import CanonicalChange
from common.times import parse_timestamp
from tests.adapters import (
    REMOVED,
    assert_fixture_converts,
    fixture_request,
    refused,
    skipped,
)
from tests.fixtures import fixture_names, load_fixture

PRODUCER = "flux"
RECONCILED = "kustomization_reconciled"
PREFIXED = "kustomization_reconciled_prefixed_metadata"
LEGACY = "kustomization_reconciled_legacy_revision"
UPGRADED = "helmrelease_upgrade_succeeded"
UPGRADE_FAILED = "helmrelease_upgrade_failed"
PROGRESSING = "progressing_ignored"
SHA = "5d1c0a2f4e9b8c7d6a5b4c3d2e1f0a9b8c7d6e5f"
DIGEST = "3e5f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7"
CHECKOUT_UID = "3f6b2c1e-8d47-4a95-b0e2-7c1d9f5a6e38"


def convert(name: str, changes: dict[str, Any] | None = None) -> CanonicalChange:
    return flux.to_canonical(*fixture_request(PRODUCER, name, changes))


@pytest.mark.parametrize("name", fixture_names(PRODUCER))
def test_fixture_converts_as_expected(name):
    expect = load_fixture(PRODUCER, name)["expect"]
    if "status" in expect:  # bad_signature: refused before the adapter runs
        assert convert(name).component == "postgres-main"
    assert_fixture_converts(convert, name, expect)


@pytest.mark.parametrize("body", [[], "event", 3, None, True])
def test_a_body_that_is_not_an_object_is_invalid(body):
    _, headers = fixture_request(PRODUCER, RECONCILED)
    assert refused(flux.to_canonical, body, headers).field_name == "body"


def test_headers_are_not_needed():
    body, _ = fixture_request(PRODUCER, RECONCILED)
    assert flux.to_canonical(body, CaseInsensitiveMapping({})).commit == SHA


@pytest.mark.parametrize(
    "field_name",
    ["involvedObject", "involvedObject.kind", "involvedObject.name", "reason", "severity"],
)
def test_a_missing_required_field_is_named(field_name):
    invalid = refused(convert, RECONCILED, {field_name: REMOVED})
    assert invalid.field_name == field_name
    assert invalid.fields == {field_name: ["This field is required."]}


@pytest.mark.parametrize(
    ("changes", "field_name", "problem"),
    [
        ({"involvedObject": "checkout-api"}, "involvedObject", "Expected an object, got a string."),
        ({"involvedObject.name": ["checkout-api"]}, "involvedObject.name", None),
        ({"involvedObject.name": " "}, "involvedObject.name", "This field may not be blank."),
        ({"involvedObject.name": "x" * 201}, "involvedObject.name", None),
        ({"reason": {"type": "Normal"}}, "reason", None),
        ({"severity": True}, "severity", None),
        ({"metadata": ["revision"]}, "metadata", "Expected an object, got a list."),
        ({"metadata.revision": ["main"]}, "metadata.revision", "Expected a string, got a list."),
        ({"metadata.revision": "m" * 201}, "metadata.revision", None),
        (
            {"metadata.env": {"name": "production"}},
            "metadata.env",
            "Expected a string, got an object.",
        ),
        ({"timestamp": "yesterday"}, "timestamp", None),
        ({"timestamp": False}, "timestamp", None),
    ],
)
def test_a_field_of_the_wrong_type_is_named(changes, field_name, problem):
    invalid = refused(convert, RECONCILED, changes)
    assert invalid.field_name == field_name
    if problem:
        assert invalid.fields == {field_name: [problem]}


def test_a_prefixed_revision_of_the_wrong_type_is_named_with_its_key():
    key = "metadata.kustomize.toolkit.fluxcd.io/revision"
    body, headers = fixture_request(PRODUCER, PREFIXED)
    # Flux's metadata is a map of strings: a number is refused, not read as the version "7.5".
    for value in (7.5, {"sha": SHA}):
        body["metadata"]["kustomize.toolkit.fluxcd.io/revision"] = value
        assert refused(flux.to_canonical, body, headers).field_name == key


@pytest.mark.parametrize(
    ("revision", "version", "commit"),
    [
        (f"main@sha1:{SHA}", "main", SHA),
        (f"v1.2.3@sha1:{SHA}", "v1.2.3", SHA),
        (f"refs/heads/release/2026-11@sha1:{SHA}", "release/2026-11", SHA),
        (f"refs/tags/v2.0.0@sha1:{SHA}", "v2.0.0", SHA),
        (f"sha1:{SHA}", "", SHA),  # a GitRepository pinned to a commit
        (f"main@sha256:{DIGEST}", "main", DIGEST),  # a SHA-256 Git repository
        (f"latest@sha256:{DIGEST}", "latest", DIGEST),  # an OCIRepository
        (f"6.1.0@sha256:{DIGEST}", "6.1.0", DIGEST),
        (f"sha256:{DIGEST}", "", DIGEST),  # a Bucket
        (f"main/{SHA}", "main", SHA),  # Flux 0.x
        (f"feature/stock/{SHA}", "feature/stock", SHA),  # Flux 0.x, a branch with "/"
        (SHA, "", SHA),
        ("1.18.2", "1.18.2", ""),  # a HelmRelease's chart version
        ("1.18.2+3e5f0a1b2c3d", "1.18.2+3e5f0a1b2c3d", ""),
        ("main@not-a-digest", "main@not-a-digest", ""),
    ],
)
def test_revision_shapes_give_version_and_commit(revision, version, commit):
    change = convert(RECONCILED, {"metadata.revision": revision})
    assert (change.version, change.commit) == (version, commit)
    assert change.identity == f"revision:{CHECKOUT_UID}:{revision}"


def test_the_prefixed_revision_key_follows_the_objects_api_group():
    body, headers = fixture_request(PRODUCER, PREFIXED)
    change = flux.to_canonical(body, headers)
    assert change.metadata["revision"] == "main@sha1:c41d9e07a8b35f21e6d4c9b0a7f3e2d1c5b8a6f4"
    assert change.metadata["commit_status"] == "update"
    # A HelmRelease of Flux 2.0-2.4 keeps helm-controller's group the same way.
    body, headers = fixture_request(PRODUCER, UPGRADED)
    body["metadata"] = {"helm.toolkit.fluxcd.io/revision": "1.18.2", "env": "staging"}
    assert (
        flux.to_canonical(body, headers).version,
        flux.to_canonical(body, headers).environment,
    ) == (
        "1.18.2",
        "staging",
    )


def test_a_prefixed_key_is_found_without_an_api_version():
    change = convert(PREFIXED, {"involvedObject.apiVersion": REMOVED})
    assert change.commit == "c41d9e07a8b35f21e6d4c9b0a7f3e2d1c5b8a6f4"


def test_the_bare_key_wins_over_a_prefixed_one():
    body, headers = fixture_request(PRODUCER, PREFIXED)
    body["metadata"]["revision"] = f"main@sha1:{SHA}"
    assert flux.to_canonical(body, headers).commit == SHA


def test_the_environment_is_the_alerts_event_metadata():
    assert convert(RECONCILED).environment == "production"
    assert convert(LEGACY).environment == ""  # Flux 0.x Alerts had no eventMetadata
    renamed = convert(RECONCILED, {"metadata.env": REMOVED, "metadata.environment": "staging"})
    assert renamed.environment == "staging"


def test_the_whole_event_is_described():
    change = convert(RECONCILED)
    assert change.summary == (
        f"Kustomization/flux-system/checkout-api reconciled to main@sha1:{SHA}"
    )
    assert change.description == "Reconciliation finished in 41.203528107s, next run in 10m0s"
    assert (change.kind, change.triggered_by, change.links) == ("deployment", "", ())
    assert change.event_type == "ReconciliationSucceeded"
    assert change.metadata == {
        "object_kind": "Kustomization",
        "object_namespace": "flux-system",
        "object_uid": CHECKOUT_UID,
        "reason": "ReconciliationSucceeded",
        "severity": "info",
        "controller": "kustomize-controller",
        "cluster": "prod-eu-west-1",
        "commit_status": "update",
        "revision": f"main@sha1:{SHA}",
    }
    assert change.idempotency_key == ""  # Flux sends no delivery id


def test_a_helm_release_keeps_its_app_version_and_helm_message():
    change = convert(UPGRADED)
    assert change.metadata["app-version"] == "4.7.0"
    assert change.summary == (
        "HelmRelease/payments/payments-service: Helm upgrade succeeded for release "
        "payments/payments-service.v42 with chart payments-service@1.18.2"
    )
    assert change.commit == ""  # a chart from a HelmRepository names no commit


def test_one_change_is_one_revision_of_one_object():
    change = convert(RECONCILED)
    assert change.identity == f"revision:{CHECKOUT_UID}:main@sha1:{SHA}"
    assert change.event_id == f"{change.identity}:succeeded"


def test_reconciliation_succeeded_every_interval_is_a_repeat():
    first = convert(RECONCILED)
    later = convert(
        RECONCILED,
        {"timestamp": "2026-11-20T14:15:41Z", "message": "Reconciliation finished in 2.1s"},
    )
    assert (later.identity, later.event_id) == (first.identity, first.event_id)
    assert later.repeat_reason == (
        f"revision main@sha1:{SHA} of Kustomization/flux-system/checkout-api already recorded"
    )
    assert later.occurred_at == parse_timestamp("2026-11-20T14:15:41Z")


def test_a_new_revision_is_a_new_change():
    other = "main@sha1:" + "a" * 40
    assert (
        convert(RECONCILED, {"metadata.revision": other}).identity != convert(RECONCILED).identity
    )


def test_without_a_uid_the_object_is_named_by_kind_namespace_and_name():
    change = convert(RECONCILED, {"involvedObject.uid": REMOVED})
    assert change.identity == (f"revision:Kustomization/flux-system/checkout-api:main@sha1:{SHA}")
    cluster_scoped = convert(
        RECONCILED, {"involvedObject.uid": "", "involvedObject.namespace": REMOVED}
    )
    assert cluster_scoped.identity == f"revision:Kustomization/checkout-api:main@sha1:{SHA}"


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        ("ReconciliationFailed", "kustomize build failed: accumulating resources"),
        ("HealthCheckFailed", "Health check failed after 5m0s: timeout waiting for Deployment"),
        ("ValidationFailed", "service/apps/webapp validation error: spec.type"),
        ("Progressing", "an error event is a failure whatever its reason"),
    ],
)
def test_an_error_event_is_a_failure_of_its_revision(reason, message):
    failed = convert(RECONCILED, {"severity": "error", "reason": reason, "message": message})
    assert (failed.outcome, failed.kind, failed.event_type) == ("failed", "deployment", reason)
    assert failed.identity == convert(RECONCILED).identity  # the same revision's change
    assert failed.event_id == f"{failed.identity}:failed"
    assert failed.repeat_reason.endswith("already recorded as failed")
    assert failed.summary == f"Kustomization/flux-system/checkout-api: {message}"


def test_a_failed_helm_upgrade_is_a_failed_deployment_of_its_chart_version():
    change = convert(UPGRADE_FAILED)
    assert (change.outcome, change.kind, change.version) == ("failed", "deployment", "2.9.1")
    assert change.identity == "revision:0c9e2f71-6b4d-4e83-a5f2-91d7c3b8e614:2.9.1"


def test_a_severity_in_capitals_is_read():
    assert convert(RECONCILED, {"severity": "ERROR"}).outcome == "failed"


def test_an_install_is_recorded_like_an_upgrade():
    change = convert(UPGRADED, {"reason": "InstallSucceeded"})
    assert (change.outcome, change.kind) == ("succeeded", "deployment")
    assert change.identity == convert(UPGRADED).identity


@pytest.mark.parametrize(
    ("reason", "severity", "outcome"),
    [
        ("RollbackSucceeded", "info", "succeeded"),
        ("RollbackFailed", "error", "failed"),
        ("UninstallSucceeded", "info", "succeeded"),
        ("UninstallFailed", "error", "failed"),
    ],
)
def test_a_helm_remediation_is_a_rollback_of_its_own(reason, severity, outcome):
    change = convert(
        UPGRADED, {"reason": reason, "severity": severity, "metadata.revision": "1.18.1"}
    )
    assert (change.kind, change.outcome, change.version) == ("rollback", outcome, "1.18.1")
    # Not the change that deployed 1.18.1 earlier: each remediation is one action.
    deployed = convert(UPGRADED, {"metadata.revision": "1.18.1"})
    assert change.identity != deployed.identity
    action = reason.removesuffix("Succeeded").removesuffix("Failed").lower()
    assert change.identity == (
        f"{action}:b7d1e4a2-3c58-4f06-9a1b-2e8c5d7f4a90:1.18.1:2026-11-20T14:02:18Z"
    )
    later = convert(
        UPGRADED,
        {
            "reason": reason,
            "severity": severity,
            "metadata.revision": "1.18.1",
            "timestamp": "2026-11-20T15:00:00Z",
        },
    )
    assert later.identity != change.identity


def test_progressing_without_a_revision_is_ignored_too():
    ignored = skipped(convert, PROGRESSING, {"metadata.revision": REMOVED})
    assert ignored.reason == (
        "Kustomization checkout-api: reason Progressing is an intermediate step of a reconciliation"
    )
    assert ignored.event_type == "Progressing"


@pytest.mark.parametrize(
    "reason", ["DependencyNotReady", "TestSucceeded", "DriftDetected", "ArtifactUpToDate"]
)
def test_informational_reasons_that_are_not_a_change_are_ignored(reason):
    ignored = skipped(convert, RECONCILED, {"reason": reason})
    assert ignored.reason == f"Kustomization checkout-api: reason {reason} is not a change"
    assert ignored.event_type == reason


def test_a_failed_helm_test_fails_the_release():
    change = convert(UPGRADED, {"reason": "TestFailed", "severity": "error"})
    assert (change.outcome, change.identity) == ("failed", convert(UPGRADED).identity)


@pytest.mark.parametrize(
    "kind",
    ["GitRepository", "OCIRepository", "HelmRepository", "HelmChart", "Bucket", "ImagePolicy"],
)
def test_sources_and_image_automation_are_ignored(kind):
    ignored = skipped(
        convert,
        RECONCILED,
        {"involvedObject.kind": kind, "reason": "NewArtifact", "severity": "info"},
    )
    assert ignored.reason.startswith(f"{kind} checkout-api: a {kind} fetches or writes")
    # Even their errors: the Kustomization that cannot apply reports its own failure.
    assert skipped(convert, RECONCILED, {"involvedObject.kind": kind, "severity": "error"})


def test_an_event_without_a_revision_is_ignored():
    ignored = skipped(
        convert,
        RECONCILED,
        {"metadata.revision": REMOVED, "severity": "error", "reason": "ArtifactFailed"},
    )
    assert ignored.reason == (
        "Kustomization checkout-api: ArtifactFailed names no revision, so nothing was applied"
    )
    assert skipped(convert, RECONCILED, {"metadata": REMOVED})


def test_an_oci_artifact_built_from_git_names_its_commit():
    change = convert(
        RECONCILED,
        {
            "metadata.revision": f"latest@sha256:{DIGEST}",
            "metadata.originRevision": f"main@sha1:{SHA}",
        },
    )
    assert (change.version, change.commit) == ("latest", DIGEST)
    body, headers = fixture_request(PRODUCER, RECONCILED)
    body["metadata"] = {"revision": "v1.4.0", "originRevision": f"main@sha1:{SHA}"}
    assert flux.to_canonical(body, headers).commit == SHA


def test_without_a_timestamp_the_receive_time_is_used():
    assert convert(RECONCILED, {"timestamp": REMOVED}).occurred_at is None


def test_a_very_long_identity_is_hashed_to_fit():
    change = convert(
        RECONCILED,
        {
            "involvedObject.uid": REMOVED,
            "involvedObject.namespace": "n" * 200,
            "involvedObject.name": "c" * 200,
        },
    )
    assert change.identity.startswith("sha256:") and len(change.identity) <= 300
    assert (
        change.identity
        == convert(
            RECONCILED,
            {
                "involvedObject.uid": REMOVED,
                "involvedObject.namespace": "n" * 200,
                "involvedObject.name": "c" * 200,
                "timestamp": "2026-11-20T15:00:00Z",
            },
        ).identity
    )


def test_unicode_values_are_kept():
    change = convert(
        UPGRADE_FAILED,
        {
            "metadata.env": "prøduktion",
            "message": "Helm upgrade failed: Zeitüberschreitung ⏱\n\nLast Helm logs:\n\nx",
            "involvedObject.name": "suche-api-ü",
        },
    )
    assert (change.environment, change.component) == ("prøduktion", "suche-api-ü")
    assert change.description.startswith("Helm upgrade failed: Zeitüberschreitung ⏱\n\n")
    assert (
        change.summary
        == "HelmRelease/search/suche-api-ü: Helm upgrade failed: Zeitüberschreitung ⏱"
    )
