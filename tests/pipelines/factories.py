import factory

from common.tokens import hash_token, visible_prefix
from pipelines.kinds import default_auth_mode
from pipelines.models import AlertSource, AuthMode, DeploymentPipeline
from tests.teams.factories import TeamFactory


def _auth_mode(model: type) -> factory.LazyAttribute:
    """The kind's default mode, as the service gives it; without a secret, nothing can be signed:
    the key alone (as the migration left such rows)."""
    return factory.LazyAttribute(
        lambda integration: (
            default_auth_mode(model, integration.kind) if integration.secret else AuthMode.KEY
        )
    )


class _IntegrationFactory(factory.django.DjangoModelFactory):
    """Pass `key=` to know the clear key; it is hashed like the real service does."""

    class Meta:
        abstract = True
        exclude = ("key",)

    key = factory.Sequence(lambda n: f"test-key-{n:04d}-0123456789")
    key_hash = factory.LazyAttribute(lambda integration: hash_token(integration.key))
    key_prefix = factory.LazyAttribute(lambda integration: visible_prefix(integration.key))
    secret = "test-secret"
    team = factory.SubFactory(TeamFactory)


class DeploymentPipelineFactory(_IntegrationFactory):
    class Meta:
        model = DeploymentPipeline

    name = factory.Sequence(lambda n: f"pipeline-{n}")
    kind = DeploymentPipeline.Kind.GENERIC
    auth_mode = _auth_mode(DeploymentPipeline)


class AlertSourceFactory(_IntegrationFactory):
    class Meta:
        model = AlertSource

    name = factory.Sequence(lambda n: f"alert-source-{n}")
    kind = AlertSource.Kind.GENERIC
    auth_mode = _auth_mode(AlertSource)
