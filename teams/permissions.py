"""Who may change what: staff change everything, a team admin changes their team's things.
Who may see what is not for everyone: a team's delivery log, a person's API tokens."""

from collections.abc import Collection

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet

from teams.models import ApiToken, Membership, Team

REFUSED = "Only an admin of this team (or staff) may change it."


def can_administer(user: AbstractBaseUser, team: Team | None) -> bool:
    """Staff, or an admin of `team`. Things without a team are staff's."""
    if not user.is_authenticated:
        return False
    if user.is_staff:
        return True
    if team is None:
        return False
    return Membership.objects.filter(user=user, team=team, role=Membership.Role.ADMIN).exists()


def administered_teams(user: AbstractBaseUser) -> QuerySet[Team]:
    """The teams a user may put things in: all for staff, else the ones they administer."""
    if user.is_staff:
        return Team.objects.all()
    return Team.objects.filter(
        memberships__user=user, memberships__role=Membership.Role.ADMIN
    ).distinct()


def require_admin(user: AbstractBaseUser, *teams: Team | None) -> None:
    """403 unless `user` may administer every one of `teams` (None: no team, so staff only)."""
    for team in dict.fromkeys(teams):  # each team once, in order
        if not can_administer(user, team):
            raise PermissionDenied(REFUSED)


def can_see_deliveries(
    user: AbstractBaseUser, team: Team | None, *, member_of: Collection[int] | None = None
) -> bool:
    """Staff, or a member (any role) of `team`: the delivery log holds producers' payloads,
    which can carry internal detail. An integration without a team: staff only.

    `member_of` is the user's team ids when the caller has them (teams.selectors.team_ids_of,
    one query for a page with several teams); without it, one query.
    """
    if not user.is_authenticated:
        return False
    if user.is_staff:
        return True
    if team is None:
        return False
    if member_of is not None:
        return team.pk in member_of
    return Membership.objects.filter(user=user, team=team).exists()


def deliveries_hidden(team: Team | None) -> str:
    """What a page or the API says instead of a delivery log the user may not see."""
    if team is None:
        return "Deliveries of an integration without a team are visible to staff only."
    return f"Deliveries are visible to {team.name}'s members."


def can_revoke_token(user: AbstractBaseUser, api_token: ApiToken) -> bool:
    """Its owner, or staff."""
    return user.is_authenticated and (user.is_staff or api_token.user_id == user.pk)
