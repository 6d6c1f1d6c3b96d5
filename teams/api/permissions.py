"""Who may use the configuration API: teams.permissions.can_administer, said in DRF's terms.

Anyone logged in reads everything (secrets are never shown after creation) but a delivery
log, which is for its team's members and staff (teams.permissions.can_see_deliveries). A change
needs admin rights on the thing's team: staff, or an admin of that team; things without a team
are staff's. Moving a thing to another team needs admin rights on both; creating one needs them
on the team it is created in. Views name an object's team with `team_of`. A personal token with
the read scope never gets this far on a write (teams.authentication).
"""

from typing import Any, Protocol

from django.contrib.auth.models import AbstractBaseUser
from rest_framework import exceptions, permissions
from rest_framework.request import Request

from teams.models import Team
from teams.permissions import REFUSED, can_administer


class TeamOwnedView(Protocol):
    def team_of(self, obj: Any) -> Team | None: ...


class CanAdministerOrReadOnly(permissions.BasePermission):
    """Reads for anyone logged in; changes for staff or an admin of the object's team."""

    message = REFUSED

    def has_permission(self, request: Request, view: object) -> bool:
        return bool(request.user and request.user.is_authenticated)

    def has_object_permission(self, request: Request, view: TeamOwnedView, obj: Any) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return True
        return can_administer(request.user, view.team_of(obj))


def require_staff(user: AbstractBaseUser, doing: str) -> None:
    if not (user.is_authenticated and user.is_staff):
        raise exceptions.PermissionDenied(f"Only staff {doing}.")
