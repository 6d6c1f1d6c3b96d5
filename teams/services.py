"""Writes for teams, memberships, the component catalog and API tokens.

Every settings change writes its audit entry in the same transaction.
"""

from collections.abc import Iterable
from datetime import datetime

from celery import current_app
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from common.exceptions import DomainError
from common.tokens import generate_token, hash_token, visible_prefix
from teams import audit
from teams.components import forget_catalog, normalise_component_name
from teams.models import (
    ApiToken,
    AuditEntry,
    Component,
    ComponentAlias,
    Membership,
    Profile,
    Team,
)
from teams.time_zones import is_time_zone

Actor = AbstractBaseUser | str | None


class SettingInvalid(DomainError):
    code = "invalid"


@transaction.atomic
def create_api_token(
    *,
    user: AbstractBaseUser,
    name: str = "",
    scope: str = ApiToken.Scope.READ,
    expires_at: datetime | None = None,
    by: Actor = None,
) -> tuple[ApiToken, str]:
    """Make a personal API token (read-only unless asked), audited. The clear token is returned
    once and never stored. `by` is who made it when not its user (a command's name)."""
    if scope not in ApiToken.Scope.values:
        raise SettingInvalid(f"No scope {scope!r}.", fields={"scope": ["Choose read or write."]})
    if expires_at is not None and expires_at <= timezone.now():
        raise SettingInvalid(
            "The expiry must be in the future.", fields={"expires_at": ["Already passed."]}
        )
    token = generate_token("wct")
    api_token = ApiToken.objects.create(
        user=user,
        name=name,
        scope=scope,
        expires_at=expires_at,
        token_hash=hash_token(token),
        token_prefix=visible_prefix(token),
    )
    audit.record(
        by=user if by is None else by,
        action=AuditEntry.Action.CREATED,
        target=api_token,
        target_type="API token",
        team=None,
        details=_token_details(api_token),
    )
    return api_token, token


@transaction.atomic
def revoke_api_token(*, by: Actor, api_token: ApiToken) -> None:
    """Revoke a token: deleted at once (its next request is 401), the audit log keeps that it
    existed. Who may is the caller's check (teams.permissions.can_revoke_token)."""
    audit.record(
        by=by,
        action=AuditEntry.Action.REVOKED,
        target=api_token,
        target_type="API token",
        team=None,
        details=_token_details(api_token),
    )
    api_token.delete()


def _token_details(api_token: ApiToken) -> dict[str, str]:
    expires_at = api_token.expires_at
    return {
        "owner": api_token.user.get_username(),
        "scope": api_token.scope,
        "prefix": f"{api_token.token_prefix}…",
        "expires": expires_at.isoformat(timespec="minutes") if expires_at else "never",
    }


@transaction.atomic
def create_team(*, by: Actor, slug: str, name: str) -> Team:
    if Team.objects.filter(slug=slug).exists():
        raise SettingInvalid(f"A team {slug!r} exists.", fields={"slug": ["Already taken."]})
    team = Team.objects.create(slug=slug, name=name)
    audit.record(
        by=by,
        action=AuditEntry.Action.CREATED,
        target=team,
        target_type="team",
        team=team,
        details={"slug": slug},
    )
    return team


@transaction.atomic
def update_team(*, by: Actor, team: Team, name: str) -> Team:
    before = audit.snapshot(team, ("name",))
    team.name = name
    team.save(update_fields=("name",))
    _audit_change(by, team, "team", team, before)
    return team


@transaction.atomic
def delete_team(*, by: Actor, team: Team) -> None:
    """Its pipelines, sources and components stay, without a team (account-wide)."""
    audit.record(
        by=by, action=AuditEntry.Action.DELETED, target=team, target_type="team", team=None
    )
    team.delete()


@transaction.atomic
def add_member(*, by: Actor, team: Team, username_or_email: str, role: str) -> Membership:
    """Add a user (by username or email) to the team, or change their role if already in it."""
    users = get_user_model().objects.filter(is_active=True)
    user = (
        users.filter(username=username_or_email).first()
        or users.filter(email__iexact=username_or_email).first()
    )
    if user is None:
        raise SettingInvalid(
            f"No user {username_or_email!r}.", fields={"user": ["No such username or email."]}
        )
    membership, created = Membership.objects.get_or_create(
        user=user, team=team, defaults={"role": role}
    )
    if created:
        audit.record(
            by=by,
            action=AuditEntry.Action.CREATED,
            target=membership,
            target_type="member",
            team=team,
            details={"user": user.get_username(), "role": role},
        )
    elif membership.role != role:
        if membership.role == Membership.Role.ADMIN:
            _keep_an_admin(membership, "demote")
        before = audit.snapshot(membership, ("role",))
        membership.role = role
        membership.save(update_fields=("role",))
        _audit_change(by, membership, "member", team, before)
    return membership


@transaction.atomic
def remove_member(*, by: Actor, membership: Membership) -> None:
    if membership.role == Membership.Role.ADMIN:
        _keep_an_admin(membership, "remove")
    audit.record(
        by=by,
        action=AuditEntry.Action.DELETED,
        target=membership,
        target_type="member",
        team=membership.team,
        details={"user": membership.user.get_username()},
    )
    membership.delete()


def _keep_an_admin(membership: Membership, action: str) -> None:
    """Refuse to take away the team's last admin: nobody but staff could manage it then.

    The admins' rows are locked, so two admins removing each other at the same moment
    cannot both succeed."""
    admins = Membership.objects.select_for_update().filter(
        team_id=membership.team_id, role=Membership.Role.ADMIN
    )
    if not [pk for pk in admins.values_list("pk", flat=True) if pk != membership.pk]:
        raise SettingInvalid(
            f"Cannot {action} the last admin of the team: make someone else an admin first.",
            fields={"role": ["A team needs at least one admin."]},
        )


@transaction.atomic
def save_component(
    *,
    by: Actor,
    component: Component | None,
    name: str,
    owner_team: Team | None,
    aliases: list[str],
    depends_on: list[Component],
) -> Component:
    """Create or update a catalog component with its aliases and dependencies.

    Changing aliases re-resolves the changes already recorded under those names (after commit,
    by a Celery task). Raises SettingInvalid when an alias is another component's, or when a
    name another team's pipelines report is claimed by someone else (check_component_claim).
    """
    name = normalise_component_name(name)
    wanted = sorted({normalise_component_name(alias) for alias in aliases} - {"", name})
    check_component_claim(
        by=by, component=component, name=name, aliases=wanted, owner_team=owner_team
    )
    others = Component.objects.exclude(pk=component.pk if component else None)
    if others.filter(name=name).exists():
        raise SettingInvalid(f"{name!r} exists.", fields={"name": ["Already in the catalog."]})
    taken = ComponentAlias.objects.filter(name__in=wanted).exclude(component=component)
    clash = others.filter(name__in=wanted).values_list("name", flat=True).first() or (
        taken.values_list("name", flat=True).first()
    )
    if clash:
        raise SettingInvalid(
            f"{clash!r} already names another component.",
            fields={"aliases": [f"{clash!r} already names another component."]},
        )
    created = component is None
    before = (
        {}
        if created
        else {
            **audit.snapshot(component, ("name", "owner_team")),
            "aliases": sorted(component.aliases.values_list("name", flat=True)),
            "depends_on": sorted(component.depends_on.values_list("name", flat=True)),
        }
    )
    if created:
        component = Component.objects.create(
            name=name, slug=unique_component_slug(name), owner_team=owner_team
        )
    else:
        component.name, component.owner_team = name, owner_team
        component.save(update_fields=("name", "owner_team"))
    renamed = set(before.get("aliases", [])) ^ set(wanted) | ({name} if created else set())
    if before.get("name") and before["name"] != name:
        renamed |= {before["name"], name}
    component.aliases.exclude(name__in=wanted).delete()
    existing = set(component.aliases.values_list("name", flat=True))
    ComponentAlias.objects.bulk_create(
        ComponentAlias(component=component, name=alias) for alias in wanted if alias not in existing
    )
    forget_catalog()  # bulk_create sends no post_save
    component.depends_on.set([other for other in depends_on if other.pk != component.pk])
    after = {
        "name": name,
        "owner_team": owner_team,
        "aliases": wanted,
        "depends_on": sorted(other.name for other in depends_on if other.pk != component.pk),
    }
    if created:
        audit.record(
            by=by,
            action=AuditEntry.Action.CREATED,
            target=component,
            target_type="component",
            team=owner_team,
            details=audit.changes({}, after),
        )
    else:
        _audit_change(by, component, "component", owner_team, before, after)
    if renamed:
        resolve_changes_later(sorted(renamed))
    if not created and before["owner_team"] != owner_team:
        rewrite_change_teams_later(component_id=component.pk)  # its manual changes'
    return component


def check_component_claim(
    *,
    by: Actor,
    component: Component | None,
    name: str,
    aliases: Iterable[str],
    owner_team: Team | None,
) -> None:
    """Refuse a name that another team's pipelines report changes under, unless `by` is staff or
    an admin of that team: cataloguing it would re-home those changes to `owner_team` (their
    resolved component, so correlation's team scoping and the team's Insights).

    The one rule for Settings, the API and the configuration file (whose `by` is a script's
    name, so never staff). Only what this save adds counts: a new name or alias, or every name
    when the component changes team; keeping what it has claims nothing. Names used only by
    manual changes, by pipelines without a team or by `owner_team`'s own pipelines are free.
    One query (none when nothing is added or `by` is staff). Raises SettingInvalid.
    """
    if getattr(by, "is_staff", False):
        return
    name = normalise_component_name(name)
    claimed = {name, *(normalise_component_name(alias) for alias in aliases)} - {""}
    owner_id = owner_team.pk if owner_team is not None else None
    if component is not None and component.pk and component.owner_team_id == owner_id:
        claimed -= {component.name, *(alias.name for alias in component.aliases.all())}
    if not claimed:
        return
    # Through the reverse relations (DeploymentPipeline.team, ChangeEvent.pipeline): teams may
    # not import the apps above it. ChangeEvent.component is stored normalised, so an exact
    # match; change_component_time_idx finds the rows by name, and LIMIT 1 stops at the first
    # from another team, though a name with many changes of the owner's own pipelines is
    # scanned through (no index holds (component, pipeline)).
    teams = Team.objects.filter(pipelines__changes__component__in=claimed)
    if owner_id is not None:
        teams = teams.exclude(pk=owner_id)
    if isinstance(by, AbstractBaseUser):
        administered = Membership.objects.filter(user=by, role=Membership.Role.ADMIN)
        teams = teams.exclude(pk__in=administered.values("team_id"))
    clash = next(
        iter(teams.order_by().values_list("pipelines__changes__component", "name")[:1]), None
    )
    if clash is None:
        return
    taken, team_name = clash
    message = (
        f"{taken} is already used by changes from {team_name}'s pipelines; "
        f"only {team_name}'s admins or staff can claim it."
    )
    raise SettingInvalid(message, fields={"name" if taken == name else "aliases": [message]})


@transaction.atomic
def delete_component(*, by: Actor, component: Component) -> None:
    names = [component.name, *component.aliases.values_list("name", flat=True)]
    audit.record(
        by=by,
        action=AuditEntry.Action.DELETED,
        target=component,
        target_type="component",
        team=component.owner_team,
    )
    component.delete()
    resolve_changes_later(names)


def resolve_changes_later(names: list[str]) -> None:
    """After commit, point recorded changes at what these names mean now.

    By task name: teams may not import changes.
    """
    transaction.on_commit(
        lambda: current_app.signature("changes.resolve_change_components", args=(names,)).delay(),
        robust=True,
    )


def rewrite_change_teams_later(**scope: int) -> None:
    """After commit, have the recorded changes in `scope` (a `pipeline_id` or a `component_id`;
    nothing: every change) count for the team that owns them now (changes.ownership).

    By task name: teams and pipelines may not import changes.
    """
    transaction.on_commit(
        lambda: current_app.signature("changes.rewrite_change_teams", kwargs=scope).delay(),
        robust=True,
    )


def _audit_change(
    by: Actor,
    target: object,
    target_type: str,
    team: Team | None,
    before: dict,
    after: dict | None = None,
) -> None:
    after = after if after is not None else audit.snapshot(target, before.keys())
    details = audit.changes(before, after)
    if details:
        audit.record(
            by=by,
            action=AuditEntry.Action.CHANGED,
            target=target,
            target_type=target_type,
            team=team,
            details=details,
        )


def unique_component_slug(name: str) -> str:
    base = slugify(name)[:190] or "component"
    slug, suffix = base, 2
    while Component.objects.filter(slug=slug).exists():
        slug, suffix = f"{base}-{suffix}", suffix + 1
    return slug


# --- The user's profile --------------------------------------------------------------------------


def set_time_zone(*, user: AbstractBaseUser, time_zone: str) -> Profile:
    """Make `time_zone` (an IANA name) the one every page renders the user's times in.

    Raises SettingInvalid for a name we do not know. The caller refreshes the session's copy.
    """
    if not is_time_zone(time_zone):
        raise SettingInvalid(
            "Not a time zone we know.", fields={"time_zone": ["Choose one from the list."]}
        )
    profile, _ = Profile.objects.update_or_create(user=user, defaults={"time_zone": time_zone})
    return profile


def prefill_time_zone(*, user: AbstractBaseUser, time_zone: str) -> None:
    """Take the browser's time zone as the user's when they have none yet (their first login).

    A zone the user chose is never overwritten; a name we do not know is ignored, since it
    comes from a hidden field anyone can fill.
    """
    if not is_time_zone(time_zone):
        return
    # One UPDATE when the row exists unset; the get_or_create leaves a chosen zone alone.
    if not Profile.objects.filter(user=user, time_zone="").update(time_zone=time_zone):
        Profile.objects.get_or_create(user=user, defaults={"time_zone": time_zone})
