"""Middleware of our own: request ids, machine endpoints, the viewer's time zone, database
outages."""

import re
import time
import uuid
import zoneinfo
from collections.abc import Callable, Collection
from typing import Any

import structlog
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.urls import Resolver404, get_resolver
from django.utils import timezone

from common.api_errors import DATABASE_RETRY_AFTER_SECONDS
from common.logs import REQUEST_ID_HEADER

logger = structlog.get_logger(__name__)
# An id a proxy or client sent is kept when it is a plain token, so logs can be joined across.
ACCEPTABLE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

# The viewer's IANA time zone name ("" when they have none), cached in their session.
TIME_ZONE_SESSION_KEY = "time_zone"


class RequestIdMiddleware:
    """Give each request an id (the client's X-Request-ID, else a new one), bind it to every
    log line of the request (and, by common/logs.py, of the tasks it enqueues), answer it in
    the same header, and log one line per request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        sent = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = sent if ACCEPTABLE_REQUEST_ID.fullmatch(sent) else uuid.uuid4().hex
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response[REQUEST_ID_HEADER] = request_id
            logger.info(
                "request",
                method=request.method,
                # The URL pattern, not the path: some paths carry an integration key.
                route=_route(request),
                status=response.status_code,
                duration_ms=round((time.perf_counter() - started) * 1000, 1),
            )
            return response
        finally:
            structlog.contextvars.clear_contextvars()


def _route(request: HttpRequest) -> str:
    match = request.resolver_match
    return f"/{match.route}" if match is not None else request.path[:200]


# The attribute of a view function naming the methods that only machines call (see below).
MACHINE_METHODS = "machine_methods"


def for_machines(view: Callable[..., Any], methods: Collection[str]) -> Callable[..., Any]:
    """Mark `view` as serving only machines for these methods (MachineEndpointMiddleware)."""
    setattr(view, MACHINE_METHODS, frozenset(methods))
    return view


class MachineEndpointMiddleware:
    """Hand a request for an endpoint that only machines call (the ingest POSTs, marked with
    `for_machines`) straight to its view, past the middleware that serves people: sessions,
    CSRF, authentication, messages, frame and content-security headers for pages, htmx, the
    viewer's time zone, login lockouts. None of them does anything for a producer posting JSON
    with a key, and together they cost about a quarter of a small request's time.

    Placed after the request id (every request is logged with one) and the security headers.
    It makes the one check of the skipped middleware that applies to any request: the Host
    header against ALLOWED_HOSTS (a 400). The view is a DRF view: its exception handler gives
    every error, a database outage included, the API's one JSON shape.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST":  # machine endpoints take POSTs: other requests pass by
            return self.get_response(request)
        try:
            match = get_resolver().resolve(request.path_info)
        except Resolver404:
            return self.get_response(request)
        if request.method not in getattr(match.func, MACHINE_METHODS, ()):
            return self.get_response(request)
        request.get_host()  # DisallowedHost (400), as CommonMiddleware would raise it
        request.resolver_match = match
        response = match.func(request, *match.args, **match.kwargs)
        if callable(getattr(response, "render", None)):
            response = response.render()  # DRF's Response renders late, as Django's handler does
        return response


class ViewerTimeZoneMiddleware:
    """Activate the viewer's time zone (their profile's, cached in the session at login and when
    they save their profile), so every page renders in it from the first one; UTC without.

    A session from before the cache existed reads the profile once and keeps the answer."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            name = _viewer_time_zone_name(request)
        except (OperationalError, InterfaceError):
            # The database is away: let the view meet it too, inside the layer that answers
            # 503 (DatabaseUnavailableMiddleware), rather than fail here with a 500.
            name = ""
        try:
            timezone.activate(zoneinfo.ZoneInfo(name)) if name else timezone.deactivate()
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            timezone.deactivate()  # a zone this machine's database lacks
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


def _viewer_time_zone_name(request: HttpRequest) -> str:
    session = getattr(request, "session", None)
    if session is None:
        return ""
    # No query of its own: authentication loads the same session for every page.
    name = session.get(TIME_ZONE_SESSION_KEY)
    if name is None:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return ""  # the login page: nothing to cache yet
        # The reverse accessor of teams.Profile, which this lower layer may not import.
        profile = getattr(user, "profile", None)
        name = profile.time_zone if profile is not None else ""
        session[TIME_ZONE_SESSION_KEY] = name
    return name


class DatabaseUnavailableMiddleware:
    """A page whose database is restarting or unreachable answers 503 with Retry-After, not
    500: nothing is broken that retrying will not fix. (The API's error handler does the same
    in the one JSON error shape.)"""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        logger.warning("database unavailable", path=request.path, error=str(exception))
        response = HttpResponse(
            render_to_string("503.html"), status=503, content_type="text/html; charset=utf-8"
        )
        response["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
        return response
