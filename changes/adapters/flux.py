"""Flux events as changes: what notification-controller posts to a `generic-hmac` Provider.

The body is Flux's Event (fluxcd/pkg apis/event/v1beta1, https://fluxcd.io/flux/components/
notification/events/): involvedObject {kind, namespace, name, uid, apiVersion}, severity (info
or error), timestamp, message, reason, metadata, reportingController. The X-Signature check
happens before this runs; there is no delivery id (a retry resends the same bytes).

- The component is the involved object's name; the environment is the `env` the Alert adds
  with `.spec.eventMetadata` (Flux events carry none of their own).
- The revision is in metadata `revision`, or `<api group>/revision` (notification-controller
  v1.0-v1.4 kept the controller's prefix). Git revisions `<ref>@sha1:<sha>` (Flux 2) and
  `<ref>/<sha>` (Flux 0.x) give the version (branch or tag) and the commit; OCI artifacts
  `<tag>@sha256:<digest>` the tag and the digest; a HelmRelease's is its chart version.
- One change is one revision of one object: the identity is the object's uid (or
  kind/namespace/name) + revision. kustomize-controller repeats ReconciliationSucceeded every
  interval with the same revision, and failures repeat on every retry: a report of a state
  already recorded is a repeat (`repeat_reason`), answered "ignored".
- error severity is a failure; ReconciliationSucceeded and helm-controller's
  Install/Upgrade/Rollback/UninstallSucceeded are successes. A Helm rollback or uninstall (the
  remediation of a failed upgrade or install) is a change of kind rollback of its own.
- Progressing and other informational reasons (steps of a reconciliation, dependencies not
  ready, Helm tests passing) and sources' and image automation's events are ignored.
"""

import hashlib
from collections.abc import Mapping
from typing import Any

from changes.adapters.base import (
    COMMIT_LENGTH,
    ENVIRONMENT_LENGTH,
    NAME_LENGTH,
    SUMMARY_LENGTH,
    CanonicalChange,
)
from common.payloads import (
    Ignored,
    PayloadInvalid,
    pick,
    pick_text,
    pick_time,
    summary_line,
    text_value,
)

SUCCEEDED = "ReconciliationSucceeded"
# Informational reasons that end well: a revision applied (Kustomization) or a Helm action done.
SUCCESS_REASONS = {
    SUCCEEDED,
    "InstallSucceeded",
    "UpgradeSucceeded",
    "RollbackSucceeded",
    "UninstallSucceeded",
}
# Steps on the way to ReconciliationSucceeded or a failure (the change set, health checks).
INTERMEDIATE_REASONS = {"Progressing", "ProgressingWithRetry"}
# A check of a release, not a change to it; its failure is an error, recorded as failed.
NOT_A_CHANGE_REASONS = {"TestSucceeded"}
# helm-controller's remediations: each undoes a failed upgrade (rollback) or install
# (uninstall), and is a change of its own.
REMEDIATION_PREFIXES = ("Rollback", "Uninstall")
# Objects that fetch or write what a Kustomization or HelmRelease applies later: not a change.
SOURCE_KINDS = {
    "GitRepository",
    "OCIRepository",
    "HelmRepository",
    "HelmChart",
    "Bucket",
    "ExternalArtifact",
    "ImageRepository",
    "ImagePolicy",
    "ImageUpdateAutomation",
}
ERROR = "error"
IDENTITY_LENGTH = 300  # ChangeEvent.identity
HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def to_canonical(body: Mapping[str, Any], headers: Mapping[str, str]) -> CanonicalChange:
    """Read one Flux event.

    Raises PayloadInvalid naming the bad field, and Ignored (with the reason) for events that
    are not a change: intermediate steps, informational reasons, sources, events that name no
    revision.
    """
    if not isinstance(body, Mapping):
        raise PayloadInvalid("body", "Expected a JSON object.")
    pick(body, "involvedObject", Mapping)
    kind = pick_text(body, "involvedObject.kind", required=True, max_length=NAME_LENGTH)
    name = pick_text(body, "involvedObject.name", required=True, max_length=NAME_LENGTH)
    namespace = pick_text(body, "involvedObject.namespace", max_length=NAME_LENGTH)
    reason = pick_text(body, "reason", required=True, max_length=NAME_LENGTH)
    severity = pick_text(body, "severity", required=True).lower()
    metadata = _metadata_of(body)
    group = pick_text(body, "involvedObject.apiVersion").partition("/")[0]
    revision = _read(metadata, "revision", group, max_length=NAME_LENGTH)
    where = f"{kind} {name}"
    if kind in SOURCE_KINDS:
        raise Ignored(
            f"{where}: a {kind} fetches or writes what a Kustomization or HelmRelease applies; "
            "the change is recorded when it is applied",
            event_type=reason,
        )
    failed = severity == ERROR
    if not failed and reason in INTERMEDIATE_REASONS:
        of = f"the reconciliation of {revision}" if revision else "a reconciliation"
        raise Ignored(
            f"{where}: reason {reason} is an intermediate step of {of}", event_type=reason
        )
    if not failed and (reason in NOT_A_CHANGE_REASONS or not _is_success(reason)):
        raise Ignored(f"{where}: reason {reason} is not a change", event_type=reason)
    if not revision:
        raise Ignored(
            f"{where}: {reason} names no revision, so nothing was applied", event_type=reason
        )
    outcome = "failed" if failed else "succeeded"
    occurred_at = pick_time(body, "timestamp")
    timestamp = occurred_at.isoformat().replace("+00:00", "Z") if occurred_at else ""
    shown = f"{kind}/{namespace}/{name}" if namespace else f"{kind}/{name}"
    object_ref = pick_text(body, "involvedObject.uid", max_length=NAME_LENGTH) or shown
    remediation = reason.startswith(REMEDIATION_PREFIXES)
    if remediation:
        # Each remediation is one action: two rollbacks to the same version are two changes.
        action = reason.removesuffix("Succeeded").removesuffix("Failed").lower()
        identity = f"{action}:{object_ref}:{revision}:{timestamp}"
        repeat = f"{action} of {shown} to {revision} at {timestamp} already recorded"
    else:
        identity = f"revision:{object_ref}:{revision}"
        repeat = f"revision {revision} of {shown} already recorded"
        if failed:
            repeat += " as failed"
    version, commit = _split_revision(revision)
    origin = _read(metadata, "originRevision", group, max_length=NAME_LENGTH)
    if origin and not commit:
        # An OCI artifact built from Git names the commit it came from.
        commit = _split_revision(origin)[1]
    message = pick_text(body, "message")
    return CanonicalChange(
        component=name,
        occurred_at=occurred_at,
        environment=_read(metadata, "env", group, max_length=ENVIRONMENT_LENGTH)
        or _read(metadata, "environment", group, max_length=ENVIRONMENT_LENGTH),
        kind="rollback" if remediation else "deployment",
        outcome=outcome,
        summary=_summary(shown, reason, revision, message),
        description=message,
        version=version[:NAME_LENGTH],
        commit=commit[:COMMIT_LENGTH],
        metadata=_kept_metadata(body, metadata, group),
        identity=_fitting(identity),
        event_id=_fitting(f"{identity}:{outcome}"),
        repeat_reason=repeat,
        event_type=reason,
    )


def _metadata_of(body: Mapping[str, Any]) -> Mapping[str, Any]:
    return pick(body, "metadata", Mapping, required=False) or {}


def _read(metadata: Mapping[str, Any], key: str, group: str, *, max_length: int) -> str:
    """A metadata value by its bare key, else `<group>/<key>`, else `<any group>/<key>`.

    Keys hold dots (`kustomize.toolkit.fluxcd.io/revision`), so they are looked up whole, not
    as a dotted path.
    """
    candidates = [key, f"{group}/{key}"] if group else [key]
    candidates += [name for name in metadata if str(name).endswith(f"/{key}")]
    for name in candidates:
        value = metadata.get(name)
        if value is None:
            continue
        # Flux's metadata is a map of strings.
        text = text_value(value, f"metadata.{name}")
        if len(text) > max_length:
            raise PayloadInvalid(
                f"metadata.{name}", f"Ensure this field has no more than {max_length} characters."
            )
        if text:
            return text
    return ""


def _is_success(reason: str) -> bool:
    return reason in SUCCESS_REASONS or reason.endswith("Succeeded")


def _split_revision(revision: str) -> tuple[str, str]:
    """(version, commit) of a Flux revision.

    `main@sha1:<sha>`, `v1.2.3@sha1:<sha>`, `refs/heads/main@sha1:<sha>`, `latest@sha256:<d>`,
    `sha256:<digest>` (a Bucket), `main/<sha>` (Flux 0.x), `1.18.2` (a chart version).
    """
    ref, at, digest = revision.rpartition("@")
    if not at:
        ref, digest = "", revision
    algorithm, colon, value = digest.partition(":")
    if colon and algorithm.isalnum() and _is_hex(value):
        return _short_ref(ref), value
    if at:  # `@` without a digest after it: not a shape we know, kept whole
        return revision, ""
    branch, slash, sha = revision.rpartition("/")
    if slash and len(sha) in (40, 64) and _is_hex(sha):
        return _short_ref(branch), sha  # Flux 0.x; branch names may hold "/" themselves
    if len(revision) in (40, 64) and _is_hex(revision):
        return "", revision
    return revision, ""


def _short_ref(ref: str) -> str:
    for prefix in ("refs/heads/", "refs/tags/"):
        if ref.startswith(prefix):
            return ref.removeprefix(prefix)
    return ref


def _is_hex(text: str) -> bool:
    return bool(text) and set(text) <= HEX_DIGITS


def _summary(shown: str, reason: str, revision: str, message: str) -> str:
    # ReconciliationSucceeded's message only times the run ("Reconciliation finished in 41s").
    if reason == SUCCEEDED or not message:
        return summary_line(f"{shown} {_verb(reason)} {revision}", SUMMARY_LENGTH)
    return summary_line(f"{shown}: {message}", SUMMARY_LENGTH)


def _verb(reason: str) -> str:
    return "reconciled to" if reason.endswith("Succeeded") else f"{reason} at"


def _kept_metadata(
    body: Mapping[str, Any], metadata: Mapping[str, Any], group: str
) -> dict[str, Any]:
    """Which object and controller, and the event's metadata with the API group's prefix
    dropped (the Alert's eventMetadata, such as cluster, among them); never the whole body."""
    kept: dict[str, Any] = {
        name: pick_text(body, path)
        for name, path in {
            "object_kind": "involvedObject.kind",
            "object_namespace": "involvedObject.namespace",
            "object_uid": "involvedObject.uid",
            "reason": "reason",
            "severity": "severity",
            "controller": "reportingController",
        }.items()
    }
    for key, value in metadata.items():
        name = str(key).removeprefix(f"{group}/") if group else str(key)
        if isinstance(value, str) and name not in ("env", "environment"):
            kept[name[:NAME_LENGTH]] = value[:NAME_LENGTH]
    return {name: value for name, value in kept.items() if value != ""}


def _fitting(identity: str) -> str:
    """The identity as is, or hashed when it would not fit its column (very long names)."""
    if len(identity) <= IDENTITY_LENGTH:
        return identity
    return "sha256:" + hashlib.sha256(identity.encode()).hexdigest()
