"""Show times in the viewer's time zone, which the browser reports in a cookie."""

import zoneinfo
from collections.abc import Callable
from urllib.parse import unquote

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

TIME_ZONE_COOKIE = "tz"


class ViewerTimeZoneMiddleware:
    """Activate the time zone named in the `tz` cookie (set by static/js/app.js); UTC without."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        name = unquote(request.COOKIES.get(TIME_ZONE_COOKIE, ""))  # app.js URL-encodes the "/"
        try:
            timezone.activate(zoneinfo.ZoneInfo(name)) if name else timezone.deactivate()
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            timezone.deactivate()  # a cookie we did not write, or a zone this machine lacks
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
