"""Every web process re-reads the component catalog once a component or alias changes; every
new session carries its user's time zone."""

from typing import Any

from django.contrib.auth.signals import user_logged_in
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.http import HttpRequest

from common.middleware import TIME_ZONE_SESSION_KEY
from teams.components import forget_catalog
from teams.models import Component, ComponentAlias
from teams.selectors import profile_time_zone


@receiver(post_save, sender=Component)
@receiver(post_save, sender=ComponentAlias)
@receiver(post_delete, sender=Component)
@receiver(post_delete, sender=ComponentAlias)
def catalog_changed(sender: type, **kwargs: Any) -> None:
    forget_catalog()


@receiver(user_logged_in)
def cache_time_zone(sender: type, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """Every way in (the login page, the admin's, a test client's force_login) goes through
    django.contrib.auth.login: cache the zone in the new session there, so no page pays a
    query for it (common.middleware.ViewerTimeZoneMiddleware reads it)."""
    if request is not None and hasattr(request, "session"):
        request.session[TIME_ZONE_SESSION_KEY] = profile_time_zone(user)
