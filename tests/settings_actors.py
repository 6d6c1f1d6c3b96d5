"""The four people every mutating settings view is tried with."""

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser

from teams.models import Team
from tests.teams.factories import MembershipFactory, TeamFactory, UserFactory

ACTORS = ("member", "other-team-admin", "team-admin", "staff")
ALLOWED = {"member": False, "other-team-admin": False, "team-admin": True, "staff": True}


@dataclass(frozen=True)
class Cast:
    team: Team
    users: dict[str, AbstractBaseUser]


def cast() -> Cast:
    team, other = TeamFactory(slug="payments"), TeamFactory(slug="search")
    users = {
        "member": MembershipFactory(team=team, role="member", user__username="member").user,
        "other-team-admin": MembershipFactory(
            team=other, role="admin", user__username="other-admin"
        ).user,
        "team-admin": MembershipFactory(team=team, role="admin", user__username="admin").user,
        "staff": UserFactory(username="staff", is_staff=True),
    }
    return Cast(team=team, users=users)
