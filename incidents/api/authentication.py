"""An alert source's own key as API credentials, for Alert24-style scripts that read and
resolve the incidents they raised."""

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request
from rest_framework.views import APIView

from pipelines.exceptions import BadSignature, UnknownKey
from pipelines.ingest import bearer_key, find_integration
from pipelines.models import AlertSource, AuthMode
from pipelines.services import remember_signature
from pipelines.signatures import verify_request


class SignatureRefused(exceptions.AuthenticationFailed):
    """A refused signature as DRF's authentication failure (so the request counts as not
    authenticated), answered with the signature error's own code: `signature_required`, ..."""

    def __init__(self, error: BadSignature) -> None:
        super().__init__(error.message)
        self.default_code = error.code


class AlertSourceKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <alert source key>`: request.auth is the source, no user.

    A source whose authentication mode requires a signature needs one here too, over the exact
    body (empty for a GET), fresh and never seen before: the key alone reads and resolves none
    of its incidents. The refusal is a 401 in the one error shape (`signature_required`, ...).
    """

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
        if source.auth_mode == AuthMode.SIGNATURE:  # else the body is left to the parser
            now = timezone.now()
            try:
                signature = verify_request(
                    integration=source, headers=request.headers, body=request.body, now=now
                )
                if signature:
                    remember_signature(integration=source, signature=signature, seen_at=now)
            except BadSignature as error:
                raise SignatureRefused(error) from None
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
