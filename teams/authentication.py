"""DRF authentication by personal API token: `Authorization: Token <token>`."""

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request

from common.tokens import hash_token
from teams.models import ApiToken

# A token is stamped as used at most this often: not a database write per request.
LAST_USED_RESOLUTION_SECONDS = 60


class TokenExpired(exceptions.AuthenticationFailed):
    default_code = "token_expired"


class TokenScopeRefused(exceptions.PermissionDenied):
    default_code = "insufficient_scope"


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Token <token>`: unknown or revoked tokens and expired ones are 401; a
    `read` token is refused (403) on any method that is not safe.

    The scope is checked here rather than in a permission class because views set their own
    permission classes: every view that accepts a token comes through here, so none can
    forget it.
    """

    keyword = "Token"

    def authenticate(self, request: Request) -> tuple | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None  # not ours: let session authentication try
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Malformed Token header.")
        try:
            token = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        # Looked up by hash: an indexed equality, no comparison against stored secrets.
        api_token = (
            ApiToken.objects.select_related("user")
            .filter(token_hash=hash_token(token), user__is_active=True)
            .first()
        )
        if api_token is None:  # revoked tokens are deleted
            raise exceptions.AuthenticationFailed("Invalid token: unknown or revoked.")
        now = timezone.now()
        if api_token.is_expired(now):
            raise TokenExpired(
                f"This token ({api_token.token_prefix}…) expired at "
                f"{api_token.expires_at.isoformat(timespec='seconds')}: create a new one."
            )
        last_used = api_token.last_used_at
        if last_used is None or (now - last_used).total_seconds() > LAST_USED_RESOLUTION_SECONDS:
            ApiToken.objects.filter(pk=api_token.pk).update(last_used_at=now)
        if api_token.scope == ApiToken.Scope.READ and request.method not in SAFE_METHODS:
            raise TokenScopeRefused(
                f"This token has the read scope: {request.method} needs a token with the "
                "write scope."
            )
        return api_token.user, api_token

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """Tells drf-spectacular how personal tokens travel."""

    target_class = ApiTokenAuthentication
    name = "apiToken"

    def get_security_definition(self, auto_schema: object) -> dict:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": (
                "Token <personal API token> (your profile page, or manage.py create_api_token);"
                " a read token may only read"
            ),
        }
