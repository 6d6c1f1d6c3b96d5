"""Writes for integrations: create them, rotate their keys."""

from typing import Any, TypeVar

from django.db import transaction

from common.tokens import generate_token, hash_token, visible_prefix
from pipelines.models import AlertSource, DeploymentPipeline, Integration
from teams.models import Team

IntegrationT = TypeVar("IntegrationT", DeploymentPipeline, AlertSource)

KEY_PREFIXES = {DeploymentPipeline: "wcp", AlertSource: "wca"}


def new_secret() -> str:
    return generate_token("wcs")


@transaction.atomic
def create_integration(
    *,
    model: type[IntegrationT],
    name: str,
    kind: str,
    team: Team | None = None,
    secret: str | None = None,
    key: str | None = None,
    **settings: Any,
) -> tuple[IntegrationT, str]:
    """Create a pipeline or alert source; return it with its key, which is never stored in clear.

    `key` is for installations that keep keys in a secret store; otherwise one is generated.
    """
    key = key or generate_token(KEY_PREFIXES[model])
    integration = model.objects.create(
        name=name,
        kind=kind,
        team=team,
        secret=secret if secret is not None else new_secret(),
        key_hash=hash_token(key),
        key_prefix=visible_prefix(key),
        **settings,
    )
    return integration, key


@transaction.atomic
def rotate_key(*, integration: Integration, key: str | None = None) -> str:
    """Give the integration a new key; the old one stops working at once."""
    key = key or generate_token(KEY_PREFIXES[type(integration)])
    integration.key_hash = hash_token(key)
    integration.key_prefix = visible_prefix(key)
    integration.save(update_fields=("key_hash", "key_prefix", "updated_at"))
    return key
