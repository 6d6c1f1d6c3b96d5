"""LaunchDarkly webhooks as changes: one audit log entry per delivery.

LaunchDarkly's webhook body "is identical to an audit log entry"
(https://launchdarkly.com/docs/api/webhooks): `_id`, `date` (epoch milliseconds), `kind`,
`accesses` (each an `action` and a `resource` such as `proj/<p>:env/<e>:flag/<f>`), `member` (or
`token`/`app` for changes made through the API), `titleVerb`, `title` (markdown with a link to
the flag), `description` (LaunchDarkly's own markdown of what changed), `comment`, and for flags
`previousVersion` and `currentVersion` (the whole flag before and after). Which of them feeds
which of our fields follows the notes in tests/fixtures/producers/launchdarkly/*.json.

Each entry is a change of its own: its `_id` is the identity, the event id and the idempotency
key, so LaunchDarkly's one retry is a duplicate. Deliveries come out of order; the change's time
is the entry's `date`, not when it arrived. Only `kind: flag` entries are changes, and of those
only actions that change what a flag serves (not its name, tags or a pending approval).

The component is the flag's first `service:<name>` tag, else its first tag. The catalog (which
tags are known component names) is not consulted: adapters read no database, and the catalog
resolves the name (aliases included) when the change is stored. X-LD-Signature is checked
before this runs.
"""

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

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
)

FLAG_KIND = "flag"
SERVICE_TAG = "service:"
# Where `_links.site.href` points when the title carries no absolute link to the flag.
SITE = "https://app.launchdarkly.com"
# Flag actions that change what people read about a flag, or propose a change that is logged
# again once applied: nothing a flag serves differs afterwards.
NOT_CHANGES = frozenset(
    {
        "updateName",
        "updateDescription",
        "updateTags",
        "updateMaintainer",
        "updateTemporary",
        "updateFlagCustomProperties",
        "updateAttachedGoals",
        "updateTrackEvents",
        "createFlagLink",
        "updateFlagLink",
        "deleteFlagLink",
        "createApprovalRequest",
        "updateApprovalRequest",
        "reviewApprovalRequest",
        "deleteApprovalRequest",
        "updateScheduledChanges",
        "createTrigger",
        "updateTriggers",
        "deleteTrigger",
    }
)
# Actions that change who gets which variation in one environment.
TARGETING_ACTIONS = (
    "updateFallthrough",
    "updateFallthroughWithMeasuredRollout",
    "updateRules",
    "updateRulesWithMeasuredRollout",
    "updateTargets",
    "updateContextTargets",
    "updateOffVariation",
    "updatePrerequisites",
    "updateExpiringTargets",
    "updateExpiringRules",
    "updateFlagSalt",
    "stopMeasuredRolloutOnFlagFallthrough",
    "stopMeasuredRolloutOnFlagRule",
    "copyFlagConfigFrom",
    "copyFlagConfigTo",
    "applyApprovalRequest",
)
# When an entry lists several actions, the one its summary names: the most drastic first.
SUMMARY_ORDER = (
    "deleteFlag",
    "updateGlobalArchived",
    "updateOn",
    "createFlag",
    "cloneFlag",
    "updateFlagVariations",
    "updateFlagDefaultVariations",
    *TARGETING_ACTIONS,
    "updateDeprecated",
)
# A markdown link in `title`: [New checkout flow](https://app.launchdarkly.com/...).
MARKDOWN_LINK = re.compile(r"\]\((https?://[^)\s]+)\)")


def to_canonical(body: Mapping[str, Any], headers: Mapping[str, str]) -> CanonicalChange:
    """Read one audit log entry.

    Raises PayloadInvalid naming the bad field, and Ignored (with the reason) for entries that
    are not about a flag, and flag entries that change nothing the flag serves.
    """
    if not isinstance(body, Mapping):
        raise PayloadInvalid("body", "Expected a JSON object.")
    kind = pick_text(body, "kind", required=True)
    if kind != FLAG_KIND:
        raise Ignored(f"kind {kind[:100]}: not a flag change", event_type=kind[:100])
    entry_id = pick_text(body, "_id", required=True, max_length=NAME_LENGTH)
    accesses = _accesses(body)
    actions = list(dict.fromkeys(action for action, _ in accesses))
    action = next((name for name in SUMMARY_ORDER if name in actions), actions[0])
    if all(name in NOT_CHANGES for name in actions):
        raise Ignored(f"flag action not recorded: {', '.join(actions)}", event_type=action)
    resources = [(index, _resource_keys(resource)) for index, (_, resource) in enumerate(accesses)]
    environments = list(dict.fromkeys(keys["env"] for _, keys in resources if keys.get("env")))
    environment = environments[0] if environments else ""
    if len(environment) > ENVIRONMENT_LENGTH:
        raise PayloadInvalid(
            "accesses", f"Environment keys have at most {ENVIRONMENT_LENGTH} characters."
        )
    previous = pick(body, "previousVersion", Mapping, required=False) or {}
    current = pick(body, "currentVersion", Mapping, required=False) or {}
    flag = _flag_key(body, resources)
    where = f" in {environment}" if environment else ""
    return CanonicalChange(
        component=_component(body, current),
        occurred_at=pick_time(body, "date"),
        environment=environment,
        kind="feature_flag",
        summary=summary_line(
            _summary(body, action, flag, environment, current) + where, SUMMARY_LENGTH
        ),
        description=_description(body, environment, previous, current),
        triggered_by=_triggered_by(body),
        version=flag,
        links=_flag_link(body),
        metadata=_metadata(body, resources, actions, environments),
        idempotency_key=entry_id,
        identity=f"entry:{entry_id}",
        event_id=f"entry:{entry_id}",
        event_type=action,
    )


def _accesses(body: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(action, resource) of each access; at least one, each with an action."""
    raw = pick(body, "accesses", list)
    if not raw:
        raise PayloadInvalid("accesses", "Expected at least one access.")
    accesses = []
    for index, access in enumerate(raw):
        if not isinstance(access, Mapping):
            raise PayloadInvalid(
                f"accesses.{index}", "Expected an object with action and resource."
            )
        action, resource = access.get("action"), access.get("resource")
        if not isinstance(action, str) or not action.strip():
            raise PayloadInvalid(f"accesses.{index}.action", "Expected the action's name.")
        if resource is not None and not isinstance(resource, str):
            raise PayloadInvalid(f"accesses.{index}.resource", "Expected a string.")
        accesses.append((action.strip()[:100], resource or ""))
    return accesses


def _resource_keys(resource: str) -> dict[str, str]:
    """`proj/default:env/production:flag/new-checkout-flow` as {proj, env, flag}.

    A resource specifier may add tags after `;` (`env/production;critical`): not part of the key.
    """
    keys = {}
    for part in resource.split(":"):
        name, _, key = part.partition("/")
        keys[name.strip()] = key.split(";", 1)[0].strip()
    return keys


def _flag_key(body: Mapping[str, Any], resources: Sequence[tuple[int, dict[str, str]]]) -> str:
    """The flag's key: the last segment of a resource, else the key of the flag's versions."""
    for index, keys in resources:
        if keys.get("flag"):
            if len(keys["flag"]) > NAME_LENGTH:
                raise PayloadInvalid(
                    f"accesses.{index}.resource",
                    f"Flag keys have at most {NAME_LENGTH} characters.",
                )
            return keys["flag"]
    for name in ("currentVersion", "previousVersion"):
        key = pick_text(body, f"{name}.key", max_length=NAME_LENGTH)
        if key:
            return key
    raise PayloadInvalid(
        "accesses", "No resource names a flag (proj/<project>:env/<environment>:flag/<flag>)."
    )


def _component(body: Mapping[str, Any], current: Mapping[str, Any]) -> str:
    """The first `service:<name>` tag of the flag, else its first other tag ("" when untagged).

    A deleted flag has only its previous version.
    """
    name = "currentVersion" if current else "previousVersion"
    tags = pick(body, f"{name}.tags", list, required=False) or []
    texts = [tag.strip() for tag in tags if isinstance(tag, str) and tag.strip()]
    services = [tag[len(SERVICE_TAG) :].strip() for tag in texts if tag.startswith(SERVICE_TAG)]
    plain = [tag for tag in texts if not tag.startswith(SERVICE_TAG)]
    component = next((service for service in services if service), plain[0] if plain else "")
    if len(component) > NAME_LENGTH:
        raise PayloadInvalid(f"{name}.tags", f"Tags have at most {NAME_LENGTH} characters.")
    return component


def _summary(
    body: Mapping[str, Any], action: str, flag: str, environment: str, current: Mapping[str, Any]
) -> str:
    """What happened, in words: "Turned on new-checkout-flow" (the caller adds " in <env>")."""
    if action == "deleteFlag":
        return f"Deleted {flag}"
    if action == "updateGlobalArchived":
        archived = pick(current, "archived", bool, required=False)
        return f"Restored {flag}" if archived is False else f"Archived {flag}"
    if action == "updateOn":
        is_on = _environment_value(current, environment, "on", bool)
        if is_on is None:  # no currentVersion: LaunchDarkly's verb says which way
            title_verb = pick_text(body, "titleVerb").lower()
            is_on = (
                True if "turned on" in title_verb else False if "turned off" in title_verb else None
            )
        if is_on is None:
            return f"Turned {flag} on or off"
        return f"Turned {'on' if is_on else 'off'} {flag}"
    if action == "createFlag":
        return f"Created {flag}"
    if action == "cloneFlag":
        return f"Created {flag} as a copy of another flag"
    if action == "updateFlagVariations":
        return f"Changed the variations of {flag}"
    if action == "updateFlagDefaultVariations":
        return f"Changed the default variations of {flag}"
    if action in TARGETING_ACTIONS:
        return f"Changed targeting of {flag}"
    if action == "updateDeprecated":
        deprecated = pick(current, "deprecated", bool, required=False)
        return f"Undeprecated {flag}" if deprecated is False else f"Deprecated {flag}"
    # An action we have no words for: LaunchDarkly's own ("updated the flag").
    title_verb = pick_text(body, "titleVerb")
    return f"{title_verb[:1].upper()}{title_verb[1:]} {flag}" if title_verb else f"Changed {flag}"


def _description(
    body: Mapping[str, Any],
    environment: str,
    previous: Mapping[str, Any],
    current: Mapping[str, Any],
) -> str:
    """LaunchDarkly's description of the change, what it changed (before → after, where both
    versions are sent), and the comment the person gave."""
    parts = [pick_text(body, "description")]
    parts += _state_changes(environment, previous, current)
    comment = pick_text(body, "comment")
    if comment:
        parts.append(f"Comment: {comment}")
    return "\n".join(part for part in parts if part)


def _state_changes(
    environment: str, previous: Mapping[str, Any], current: Mapping[str, Any]
) -> list[str]:
    """ "Targeting: off → on"-style lines for what serves differently after the change."""
    if not previous or not current:
        return []
    lines = []
    for name, label in (("archived", "Archived"), ("deprecated", "Deprecated")):
        before, after = previous.get(name), current.get(name)
        if isinstance(before, bool) and isinstance(after, bool) and before != after:
            lines.append(f"{label}: {_yes_no(before)} → {_yes_no(after)}")
    before_variations = _variation_labels(previous)
    after_variations = _variation_labels(current)
    if before_variations != after_variations:
        lines.append(f"Variations: {', '.join(before_variations)} → {', '.join(after_variations)}")
    if not environment:
        return lines
    before_config = _environment_config(previous, "previousVersion", environment)
    after_config = _environment_config(current, "currentVersion", environment)
    if before_config is None or after_config is None:
        return lines
    readers = (
        ("Targeting", lambda config, _: _on_off(config.get("on"))),
        ("Default rule", lambda config, labels: _serve(config.get("fallthrough"), labels)),
        ("Off variation", lambda config, labels: _variation(config.get("offVariation"), labels)),
        ("Rules", lambda config, _: _count(config.get("rules"), "rule")),
        ("Individual targets", lambda config, _: _targets(config)),
        ("Prerequisites", lambda config, _: _count(config.get("prerequisites"), "prerequisite")),
    )
    for label, read in readers:
        before = read(before_config, before_variations)
        after = read(after_config, after_variations)
        if before and after and before != after:
            lines.append(f"{label}: {before} → {after}")
    return lines


def _environment_config(
    version: Mapping[str, Any], name: str, environment: str
) -> Mapping[str, Any] | None:
    # Not a dotted pick: environment keys may contain dots.
    environments = pick(version, "environments", Mapping, required=False) or {}
    config = environments.get(environment)
    if config is not None and not isinstance(config, Mapping):
        raise PayloadInvalid(f"{name}.environments.{environment}", "Expected an object.")
    return config


def _environment_value(
    version: Mapping[str, Any], environment: str, name: str, expected: type
) -> Any:
    config = _environment_config(version, "currentVersion", environment) if environment else None
    value = config.get(name) if config else None
    return value if isinstance(value, expected) else None


def _variation_labels(version: Mapping[str, Any]) -> list[str]:
    """Each variation as people see it: its value (`true`, `"blue"`, `42`), else its name."""
    variations = version.get("variations")
    if not isinstance(variations, list):
        return []
    labels = []
    for index, variation in enumerate(variations):
        item = variation if isinstance(variation, Mapping) else {}
        value, name = item.get("value"), item.get("name")
        if isinstance(value, bool | int | float | str) and len(json.dumps(value)) <= 40:
            labels.append(json.dumps(value, ensure_ascii=False))
        elif isinstance(name, str) and name:
            labels.append(name)
        else:
            labels.append(f"variation {index}")
    return labels


def _variation(index: Any, labels: list[str]) -> str:
    if isinstance(index, bool) or not isinstance(index, int):
        return ""
    return labels[index] if 0 <= index < len(labels) else f"variation {index}"


def _serve(fallthrough: Any, labels: list[str]) -> str:
    """A rule's `variation` or percentage `rollout` (weights in thousandths of a percent)."""
    if not isinstance(fallthrough, Mapping):
        return ""
    rollout = fallthrough.get("rollout")
    if isinstance(rollout, Mapping) and isinstance(rollout.get("variations"), list):
        shares = []
        for share in rollout["variations"]:
            if not isinstance(share, Mapping):
                continue
            weight = share.get("weight")
            percent = f"{weight / 1000:g}%" if isinstance(weight, int | float) else "?%"
            shares.append(f"{_variation(share.get('variation'), labels) or '?'} {percent}")
        return " / ".join(shares)
    return _variation(fallthrough.get("variation"), labels)


def _count(items: Any, noun: str) -> str:
    if not isinstance(items, list):
        return ""
    return f"{len(items)} {noun}{'' if len(items) == 1 else 's'}"


def _targets(config: Mapping[str, Any]) -> str:
    """How many contexts are targeted one by one (user targets and other context kinds)."""
    total = 0
    for name in ("targets", "contextTargets"):
        targets = config.get(name)
        if isinstance(targets, list):
            for target in targets:
                values = target.get("values") if isinstance(target, Mapping) else None
                total += len(values) if isinstance(values, list) else 0
    return f"{total} context{'' if total == 1 else 's'}"


def _on_off(value: Any) -> str:
    return ("on" if value else "off") if isinstance(value, bool) else ""


def _yes_no(value: bool) -> str:
    return "yes" if value else "no"


def _triggered_by(body: Mapping[str, Any]) -> str:
    """The member's email, else their name; an API access token's or app's name otherwise."""
    email = pick_text(body, "member.email", max_length=NAME_LENGTH)
    if email:
        return email
    name = " ".join(
        part
        for part in (pick_text(body, "member.firstName"), pick_text(body, "member.lastName"))
        if part
    )
    if name:
        return name[:NAME_LENGTH]
    return pick_text(body, "token.name", max_length=NAME_LENGTH) or pick_text(
        body, "app.name", max_length=NAME_LENGTH
    )


def _flag_link(body: Mapping[str, Any]) -> tuple[dict[str, str], ...]:
    """The flag's page: the title's link to it (it names the LaunchDarkly instance), else the
    site path on app.launchdarkly.com."""
    site = pick_text(body, "_links.site.href")
    title_links = MARKDOWN_LINK.findall(pick_text(body, "title"))
    href = next((link for link in title_links if site and link.endswith(site)), "")
    if not href and site.startswith("/"):
        href = SITE + site
    if not href.startswith(("https://", "http://")) or len(href) > 2000:
        return ()
    return ({"href": href, "text": "Flag in LaunchDarkly"},)


def _metadata(
    body: Mapping[str, Any],
    resources: Sequence[tuple[int, dict[str, str]]],
    actions: list[str],
    environments: list[str],
) -> dict[str, Any]:
    """Which entry, project and flag, for the change page; never the whole entry."""
    metadata = pick_scalars(
        body,
        {
            "audit_log_entry": "_id",
            "flag_name": "name",
            "flag_version": "currentVersion._version",
        },
    )
    project = next((keys["proj"] for _, keys in resources if keys.get("proj")), "")
    if project:
        metadata["project"] = project
    metadata["actions"] = ", ".join(actions)
    if len(environments) > 1:
        metadata["environments"] = ", ".join(environments)
    return metadata
