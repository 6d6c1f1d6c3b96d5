"""The audit log's one writer, used by every settings service inside its transaction."""

from collections.abc import Iterable, Mapping
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
