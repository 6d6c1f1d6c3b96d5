"""Reads for teams: the user's own settings."""

from django.contrib.auth.models import AbstractBaseUser

from teams.models import Profile


def profile_time_zone(user: AbstractBaseUser) -> str:
    """The user's IANA time zone name, "" when they have none yet (one query)."""
    return Profile.objects.filter(user_id=user.pk).values_list("time_zone", flat=True).first() or ""
