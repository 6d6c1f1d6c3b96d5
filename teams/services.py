"""Writes for teams, memberships and API tokens."""

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from common.tokens import generate_token, hash_token, visible_prefix
from teams.models import ApiToken


@transaction.atomic
def create_api_token(*, user: AbstractBaseUser, name: str = "") -> tuple[ApiToken, str]:
    """Make a personal API token. The clear token is returned once and never stored."""
    token = generate_token("wct")
    api_token = ApiToken.objects.create(
        user=user, name=name, token_hash=hash_token(token), token_prefix=visible_prefix(token)
    )
    return api_token, token
