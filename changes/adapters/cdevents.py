"""CDEvents (CNCF, spec v0.4) service events as changes, however the CloudEvent carries them.

A CDEvent is `{context: {version, id, source, type, timestamp}, subject: {id, source, type,
content}}`; the service events' content is `{environment: {id, source}, artifactId: <purl>}`
(https://github.com/cdevents/spec/blob/v0.4.1/continuous-deployment.md). It arrives in one of
three shapes (cloudevents-binding.md, and the notes of tests/fixtures/producers/cdevents/*.json):

- CloudEvents HTTP structured mode: `Content-Type: application/cloudevents+json`, an envelope
  `{specversion, id, source, type, subject, time, data}` whose `data` is the whole CDEvent;
- CloudEvents HTTP binary mode: the attributes in `ce-*` headers, the bare CDEvent as the body;
- a bare CDEvent without any CloudEvents attribute, as scripts post it.

The CDEvent is read the same way in all three; where the envelope and the CDEvent disagree, the
CDEvent wins, and the envelope only stands in for a context field the CDEvent lacks.
`service.deployed` and `service.upgraded` are deployments, `service.rolledback` a rollback and
`service.removed` a deployment that took the service away; every other type (pipelineRun,
taskRun, build, environment.*, service.published, ...) is ignored. Types match by prefix, so
newer minor versions of an event (`dev.cdevents.service.deployed.0.3.0`) are read too.
CDEvents defines no signature: the Bearer key is checked before this runs.
"""

import hashlib
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import unquote

from changes.adapters.base import (
    ENVIRONMENT_LENGTH,
    NAME_LENGTH,
    SUMMARY_LENGTH,
    CanonicalChange,
)
from common.payloads import (
    Ignored,
    PayloadInvalid,
    pick,
    pick_scalars,
    pick_text,
    pick_time,
    summary_line,
    truncated,
)

TYPE_PREFIX = "dev.cdevents."
STRUCTURED_MEDIA_TYPE = "application/cloudevents+json"
BATCH_MEDIA_TYPE = "application/cloudevents-batch+json"
# The service predicates we record: (kind, the verb of the summary).
PREDICATES = {
    "deployed": ("deployment", "Deployed"),
    "upgraded": ("deployment", "Upgraded"),
    "rolledback": ("rollback", "Rolled back"),
    "removed": ("deployment", "Removed"),
}
# A removal deploys no artifact; the others must name the one now running.
WITHOUT_ARTIFACT = {"removed"}
# A purl is refused past this; what it yields (version, identity) is cut or hashed to fit.
ARTIFACT_LENGTH = 2000
IDENTITY_LENGTH = 300
# A purl version that reads as a Git commit (pkg:golang/...@234fd47e07d1, pkg:github/...@<sha>).
COMMIT_PATTERN = re.compile(r"^[0-9a-f]{7,40}$")


def to_canonical(body: Any, headers: Mapping[str, str]) -> CanonicalChange:
    """Read one CDEvent, in structured, binary or bare form.

    Raises PayloadInvalid naming the bad field (under `data.` in structured mode), and Ignored
    with the event type for CDEvents that are not a service deployed, upgraded, rolled back or
    removed. A redelivery keeps its context.id (= the CloudEvents id): the idempotency key.
    """
    if isinstance(body, list) or _media_type(headers) == BATCH_MEDIA_TYPE:
        raise PayloadInvalid(
            "body", "Send one event per request: CloudEvents batches are not read."
        )
    if not isinstance(body, Mapping):
        raise PayloadInvalid("body", "Expected a JSON object.")
    base, envelope = _cdevent_path(body, headers)
    # Required as a whole, so that a body without one is told that, not that context.type is.
    if base:
        pick(body, base.rstrip("."), Mapping)
    pick(body, f"{base}context", Mapping)
    event_type = pick_text(body, f"{base}context.type", max_length=NAME_LENGTH) or _attribute(
        envelope, "type", f"{base}context.type"
    )
    subject_name, predicate = _subject_and_predicate(event_type)
    short_type = _short_type(event_type, subject_name, predicate)
    if subject_name != "service" or predicate not in PREDICATES:
        raise Ignored(f"event type not used: {event_type}", event_type=short_type)
    change = _service_event(body, base, predicate)
    event_id = pick_text(body, f"{base}context.id", max_length=NAME_LENGTH) or _attribute(
        envelope, "id", f"{base}context.id"
    )
    return replace(
        change,
        occurred_at=pick_time(body, f"{base}context.timestamp") or _envelope_time(envelope),
        metadata=_metadata(body, base, envelope, change.metadata),
        idempotency_key=event_id,
        event_id=event_id,
        event_type=short_type,
    )


def _service_event(body: Mapping[str, Any], base: str, predicate: str) -> CanonicalChange:
    """What a service event's subject says: which service, where, and which artifact."""
    pick(body, f"{base}subject", Mapping)
    subject_id = pick_text(body, f"{base}subject.id", required=True, max_length=NAME_LENGTH)
    content = f"{base}subject.content"
    pick(body, content, Mapping, required=False)
    environment = _environment(body, f"{content}.environment")
    artifact_path = f"{content}.artifactId"
    artifact = pick_text(
        body,
        artifact_path,
        required=predicate not in WITHOUT_ARTIFACT,
        max_length=ARTIFACT_LENGTH,
    ).replace("\\u0026", "&")  # a purl escaped twice on its way (Go writes & as \u0026)
    purl = _purl(artifact)
    component = _component(subject_id) or purl["name"]
    if not component:
        raise PayloadInvalid(f"{base}subject.id", "Expected a service, such as service/myapp.")
    if len(component) > NAME_LENGTH:
        raise PayloadInvalid(
            artifact_path, f"Ensure the package name has no more than {NAME_LENGTH} characters."
        )
    version = truncated(purl["tag"] or purl["version"], NAME_LENGTH)
    kind, verb = PREDICATES[predicate]
    extra = {"artifact_id": artifact, "repository_url": purl["repository_url"]}
    return CanonicalChange(
        component=component,
        environment=environment,
        kind=kind,
        outcome="succeeded",  # a service event reports what has happened, never a start
        summary=_summary(verb, component, version, environment),
        version=version,
        commit=purl["version"] if COMMIT_PATTERN.match(purl["version"]) else "",
        metadata={name: value for name, value in extra.items() if value},
        identity=_identity(predicate, subject_id, environment, purl["canonical"]),
    )


def _media_type(headers: Mapping[str, str]) -> str:
    return headers.get("Content-Type", "").split(";", 1)[0].strip().lower()


def _cdevent_path(body: Mapping[str, Any], headers: Mapping[str, str]) -> tuple[str, dict]:
    """Where the CDEvent is in the body ("data." in structured mode, else ""), and the
    CloudEvents attributes that came with it (from the envelope, the ce-* headers, or none)."""
    # A bare CDEvent mislabelled as a CloudEvent is still read: it has a context of its own.
    structured = "context" not in body and (
        _media_type(headers) == STRUCTURED_MEDIA_TYPE or "specversion" in body
    )
    if structured:
        return "data.", {name: body.get(name) for name in ("id", "type", "time", "source")}
    if "ce-specversion" in headers:
        return "", {
            name: headers.get(f"ce-{name}", "") for name in ("id", "type", "time", "source")
        }
    return "", {}


def _attribute(envelope: Mapping[str, Any], name: str, path: str) -> str:
    """The CloudEvents attribute standing in for a CDEvent context field it lacks."""
    value = envelope.get(name)
    if isinstance(value, str) and value.strip() and len(value.strip()) <= NAME_LENGTH:
        return value.strip()
    raise PayloadInvalid(path, "This field is required.")


def _envelope_time(envelope: Mapping[str, Any]) -> Any:
    try:
        return pick_time(envelope, "time")
    except PayloadInvalid:
        return None  # the CDEvent's own timestamp is the one that counts; it has none either


def _subject_and_predicate(event_type: str) -> tuple[str, str]:
    """`dev.cdevents.<subject>.<predicate>.<version>` → (subject, predicate), lower case;
    ("", "") for a type that is not a CDEvent's."""
    lowered = event_type.lower()
    if not lowered.startswith(TYPE_PREFIX):
        return "", ""
    parts = lowered.removeprefix(TYPE_PREFIX).split(".")
    return (parts[0], parts[1]) if len(parts) >= 2 else (parts[0], "")


def _short_type(event_type: str, subject_name: str, predicate: str) -> str:
    """The type without its version, for noise filters that outlive an SDK upgrade."""
    if subject_name and predicate:
        return f"{TYPE_PREFIX}{subject_name}.{predicate}"
    return event_type[:100]


def _environment(body: Mapping[str, Any], path: str) -> str:
    """The environment's id. Scripts write the environment as a plain string: taken as its id."""
    value = pick(body, path, (Mapping, str), required=False)
    if isinstance(value, str):
        return pick_text(body, path, max_length=ENVIRONMENT_LENGTH)
    return pick_text(body, f"{path}.id", max_length=ENVIRONMENT_LENGTH) if value else ""


def _component(subject_id: str) -> str:
    """The last path segment of the subject's id: `service/myapp`, `daemonset/myapp` → myapp."""
    return subject_id.rstrip("/").rsplit("/", 1)[-1].strip()


def _purl(artifact: str) -> dict[str, str]:
    """The name, version, `tag` and `repository_url` qualifiers of a package URL, decoded,
    and its canonical form.

    pkg:<type>/<namespace>/<name>@<version>?<key>=<value>&...#<subpath>. An artifactId that is
    no purl (older CDEvents examples send a bare digest or a file name) is its own version.
    """
    if not artifact.lower().startswith("pkg:"):
        return {
            "name": "",
            "version": artifact,
            "tag": "",
            "repository_url": "",
            "canonical": artifact,
        }
    location, _, qualifiers = artifact[4:].split("#", 1)[0].partition("?")
    # An @ inside the namespace is percent-encoded (npm's %40scope): the last one is the version's.
    path, at, version = location.strip("/").rpartition("@")
    if not at:
        path, version = version, ""
    values = {}
    for pair in qualifiers.split("&"):
        key, _, value = pair.partition("=")
        if key.strip():
            values[key.strip().lower()] = unquote(value).strip()
    version = unquote(version).strip()
    # The same artifact however it is written: decoded, qualifiers in order (purl-spec's own
    # canonical form), so that two producers' reports of one rollout meet.
    ordered = "&".join(f"{key}={value}" for key, value in sorted(values.items()))
    return {
        "canonical": f"pkg:{unquote(path).lower()}@{version}?{ordered}",
        # The type comes first (pkg:oci/<name>): a path without a slash names no package.
        "name": unquote(path.rsplit("/", 1)[-1]).strip() if "/" in path else "",
        "version": version,
        "tag": values.get("tag", ""),
        "repository_url": values.get("repository_url", ""),
    }


def _summary(verb: str, component: str, version: str, environment: str) -> str:
    if verb == "Removed":
        text = f"Removed {component}" + (f" from {environment}" if environment else "")
    elif verb == "Deployed":
        text = f"Deployed {component}" + (f" {version}" if version else "")
        text += f" to {environment}" if environment else ""
    else:
        text = f"{verb} {component}" + (f" to {version}" if version else "")
        text += f" in {environment}" if environment else ""
    return summary_line(text, SUMMARY_LENGTH)


def _identity(predicate: str, subject_id: str, environment: str, artifact: str) -> str:
    """One rollout of an artifact to an environment (README: subject.id + artifactId (+
    environment)): a second report of it, under another context.id, updates the change.

    A rollback is a change of its own even when it returns to an artifact deployed before, and
    a removal deploys nothing to be reported twice: it has no identity.
    """
    if predicate in WITHOUT_ARTIFACT:
        return ""
    prefix = "rollback" if predicate == "rolledback" else "service"
    identity = f"{prefix}:{subject_id}|{environment}|{artifact}"
    if len(identity) <= IDENTITY_LENGTH:
        return identity
    # Long purls (repository URLs, many qualifiers): the same digest of the same parts.
    digest = hashlib.sha256("\n".join((subject_id, environment, artifact)).encode()).hexdigest()
    return f"{prefix}:sha256:{digest}"


def _metadata(
    body: Mapping[str, Any], base: str, envelope: Mapping[str, Any], extra: Mapping[str, Any]
) -> dict[str, Any]:
    """Where the event came from and what it deployed, for the change page."""
    picked = pick_scalars(
        body,
        {
            "source": f"{base}context.source",
            "cdevents_version": f"{base}context.version",
            "chain_id": f"{base}context.chainId",
            "subject_id": f"{base}subject.id",
        },
    )
    source = envelope.get("source")
    if "source" not in picked and isinstance(source, str) and source.strip():
        picked["source"] = source.strip()
    environment = f"{base}subject.content.environment"
    if isinstance(pick(body, environment, (Mapping, str), required=False), Mapping):
        environment_source = pick_text(body, f"{environment}.source")
        if environment_source:
            picked["environment_source"] = environment_source
    return {**picked, **extra}
