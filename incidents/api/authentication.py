"""An alert source's own key as API credentials, for Alert24-style scripts that read and
resolve the incidents they raised."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request
from rest_framework.views import APIView

from pipelines.exceptions import UnknownKey
from pipelines.ingest import bearer_key, find_integration
from pipelines.models import AlertSource


class AlertSourceKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <alert source key>`: request.auth is the source, no user."""

    def authenticate(self, request: Request) -> tuple[None, AlertSource] | None:
        key = bearer_key(request)
        if not key:
            return None
        try:
            source = find_integration(AlertSource, key)
        except UnknownKey:
            raise exceptions.AuthenticationFailed("Missing or unknown integration key.") from None
        if not source.enabled:
            raise exceptions.PermissionDenied("This integration is disabled.")
        return None, source

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class IsPersonOrAlertSource(permissions.BasePermission):
    """A logged-in person (session or API token), or an alert source's key."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        if isinstance(request.auth, AlertSource):
            return True
        return bool(request.user and request.user.is_authenticated)


class AlertSourceKeyScheme(OpenApiAuthenticationExtension):
    target_class = AlertSourceKeyAuthentication
    name = "integrationKey"

    def get_security_definition(self, auto_schema: object) -> dict:
        return {"type": "http", "scheme": "bearer", "description": "an alert source's key"}
