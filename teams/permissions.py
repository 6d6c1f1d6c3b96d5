"""Who may change what: staff change everything, a team admin changes their team's things."""

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet

from teams.models import Membership, Team

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
