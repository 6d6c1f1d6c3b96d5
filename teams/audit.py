"""The audit log's one writer, used by every settings service inside its transaction, and its
presenter, which puts the stored details in words for the page."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import models

from teams.models import AuditEntry, Team

# Never written to the log, whatever a service passes.
SECRET_FIELDS = frozenset({"secret", "key_hash", "key", "token_hash"})


def record(
    *,
    by: AbstractBaseUser | str | None,
    action: str,
    target: models.Model,
    target_type: str,
    team: Team | None,
    details: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """One audit entry. `by` is a user, or a name for scripts (`apply_config`, a command)."""
    is_user = isinstance(by, AbstractBaseUser)
    return AuditEntry.objects.create(
        actor=by if is_user else None,
        actor_name=(by.get_username() if is_user else (by or "system"))[:150],
        action=action,
        target_type=target_type,
        target_id=target.pk,
        target_name=str(getattr(target, "name", None) or target)[:200],
        team=team,
        details={k: v for k, v in (details or {}).items() if k not in SECRET_FIELDS},
    )


def changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list[Any]]:
    """{"field": [before, after]} for the fields whose value differs (secrets left out)."""
    return {
        name: [_plain(before.get(name)), _plain(value)]
        for name, value in after.items()
        if before.get(name) != value and name not in SECRET_FIELDS
    }


def snapshot(instance: models.Model, fields: Iterable[str]) -> dict[str, Any]:
    return {name: getattr(instance, name) for name in fields}


def _plain(value: Any) -> Any:
    if isinstance(value, models.Model):
        return str(value)
    return value


# Names the page would otherwise spell out of the field name.
LABELS = {
    "sns_subscription": "SNS subscription",
    "insufficient_data": "CloudWatch INSUFFICIENT_DATA",
    "auto_confirm_subscriptions": "Auto-confirm SNS subscriptions",
    "timestamp_tolerance_seconds": "Signed timestamp tolerance (seconds)",
    "auth_mode": "Authentication",  # signature or key (pipelines.models.AuthMode)
    "depends_on": "Depends on",
    "owner_team": "Owner team",
}
EMPTY = "—"


@dataclass(frozen=True)
class DetailLine:
    """One field of an audit entry in words: "Window minutes: 60 → 90", or "Kind: github"."""

    label: str
    after: str
    before: str | None = None  # None: not a change from one value to another


def present(entry: AuditEntry) -> list[DetailLine]:
    """The entry's details in words, one line per field, in the order they were stored.

    Reads both shapes the log holds: {"field": [before, after]} for a change (audit.changes, and
    a component's creation, whose before is null), and {"field": value} for what a creation,
    rotation or removal names. Lists read as "a, b", booleans as yes/no, nothing as "—"; a
    secret's value is never shown, only that it changed.
    """
    lines = []
    for name, value in (entry.details or {}).items():
        label = LABELS.get(name) or name.replace("_", " ").capitalize()
        if name in SECRET_FIELDS:  # never written, but never shown either
            line = DetailLine(label, "changed")
        elif not _is_change(entry, value):
            line = DetailLine(label, _words(value))
        elif value[0] is None and entry.action != AuditEntry.Action.CHANGED:
            line = DetailLine(label, _words(value[1]))  # a creation: nothing came before
        else:
            line = DetailLine(label, _words(value[1]), before=_words(value[0]))
        lines.append(line)
    return lines


def _is_change(entry: AuditEntry, value: Any) -> bool:
    # A plain list of names never starts with null, so [null, x] is a change wherever it is.
    is_pair = isinstance(value, list) and len(value) == 2
    return is_pair and (entry.action == AuditEntry.Action.CHANGED or value[0] is None)


def _words(value: Any) -> str:
    if value is None or value == "" or value == [] or value == {}:
        return EMPTY
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(_words(item) for item in value)
    if isinstance(value, Mapping):
        return ", ".join(f"{key}: {_words(item)}" for key, item in value.items())
    return str(value)
