"""Endpoints for load balancers, orchestrators and Prometheus: /healthz (the process
answers), /readyz (it can do its work: the database answers, migrations are applied, the
broker is reachable) and /metrics.

A middleware at the top of the stack answers them, before host validation and the HTTPS
redirect: probes and scrapes come by IP address and plain HTTP. No login: the probes say
nothing secret, and /metrics wants the METRICS_TOKEN as a bearer token.
"""

import hmac
import logging
from collections.abc import Callable

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponse, JsonResponse

from common.broker import broker_connection
from common.metrics import exposition

logger = logging.getLogger(__name__)


class HealthCheckMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.migrated = False  # once applied, they stay applied for this process

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path == "/healthz":
            return JsonResponse({"status": "ok"})
        if request.path == "/readyz":
            return self.ready()
        if request.path == "/metrics":
            return metrics(request)
        return self.get_response(request)

    def ready(self) -> JsonResponse:
        checks = {"database": _database(), "broker": _broker()}
        if checks["database"] == "ok":
            self.migrated = self.migrated or _migrated()
            checks["migrations"] = "ok" if self.migrated else "pending"
        ready = all(state == "ok" for state in checks.values())
        return JsonResponse(
            {"status": "ready" if ready else "not ready", "checks": checks},
            status=200 if ready else 503,
        )


def metrics(request: HttpRequest) -> HttpResponse:
    token = settings.METRICS_TOKEN
    if not token:
        return JsonResponse({"status": "disabled: set METRICS_TOKEN to scrape"}, status=404)
    sent = request.headers.get("Authorization", "").encode()
    if not hmac.compare_digest(sent, f"Bearer {token}".encode()):
        response = JsonResponse({"status": "send the METRICS_TOKEN as a bearer token"}, status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    body, content_type = exposition()
    return HttpResponse(body, content_type=content_type)


def _database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        logger.warning("readiness: the database does not answer", exc_info=True)
        return "unreachable"
    return "ok"


def _migrated() -> bool:
    executor = MigrationExecutor(connection)
    return not executor.migration_plan(executor.loader.graph.leaf_nodes())


def _broker() -> str:
    try:
        with broker_connection():
            pass
    except Exception:  # kombu raises transport-specific errors
        logger.warning("readiness: the broker is unreachable", exc_info=True)
        return "unreachable"
    return "ok"
