"""Reads for teams: the user's own settings, teams and API tokens."""

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from teams.models import ApiToken, Membership, Profile


def profile_time_zone(user: AbstractBaseUser) -> str:
    """The user's IANA time zone name, "" when they have none yet (one query)."""
    return Profile.objects.filter(user_id=user.pk).values_list("time_zone", flat=True).first() or ""


def team_ids_of(user: AbstractBaseUser) -> frozenset[int]:
    """The ids of the teams `user` is in, any role (one query)."""
    return frozenset(Membership.objects.filter(user_id=user.pk).values_list("team_id", flat=True))


def api_tokens_of(user: AbstractBaseUser) -> QuerySet[ApiToken]:
    """The user's personal tokens, newest first."""
    return ApiToken.objects.filter(user_id=user.pk).order_by("-created_at", "-id")


def all_api_tokens() -> QuerySet[ApiToken]:
    """Everyone's tokens with their owners, for staff: by owner, newest first."""
    return ApiToken.objects.select_related("user").order_by("user__username", "-created_at", "-id")
