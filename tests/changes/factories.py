import factory
from django.utils import timezone

from changes.models import ChangeEvent
from teams.models import Team
from tests.pipelines.factories import DeploymentPipelineFactory


class ChangeEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ChangeEvent

    pipeline = factory.SubFactory(DeploymentPipelineFactory)
    occurred_at = factory.LazyFunction(timezone.now)
    received_at = factory.LazyAttribute(lambda change: change.occurred_at)
    component = "payments-service"
    environment = "production"
    summary = factory.Sequence(lambda n: f"Deploy number {n}")
    triggered_by = "dana-ops"
    version = factory.Sequence(lambda n: f"v1.{n}.0")
    idempotency_key = factory.Sequence(lambda n: f"delivery-{n}")

    @factory.lazy_attribute
    def team(self) -> Team | None:
        """The team ingest stores (changes.ownership.change_team_id), from the objects at hand:
        the pipeline's, else (a manual change) its catalog component's owner."""
        if self.pipeline is not None:
            return self.pipeline.team
        component = getattr(self, "resolved_component", None)
        return component.owner_team if component is not None else None
