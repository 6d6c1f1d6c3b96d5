"""Who may change what: staff change everything, a team admin changes their team's things."""

from django.contrib.auth.models import AbstractBaseUser

from teams.models import Membership, Team


def can_administer(user: AbstractBaseUser, team: Team | None) -> bool:
    """Staff, or an admin of `team`. Things without a team are staff's."""
    if not user.is_authenticated:
        return False
    if user.is_staff:
        return True
    if team is None:
        return False
    return Membership.objects.filter(user=user, team=team, role=Membership.Role.ADMIN).exists()
