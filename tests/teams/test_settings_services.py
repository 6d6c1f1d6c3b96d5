"""Settings services write what they say and leave an audit entry, never a secret."""

import json

import pytest

from changes.models import ChangeEvent
from common.exceptions import DomainError
from pipelines import services as pipeline_services
from pipelines.models import DeploymentPipeline
from teams import services
from teams.models import AuditEntry, Component
from tests.changes.factories import ChangeEventFactory
from tests.pipelines.factories import DeploymentPipelineFactory
from tests.teams.factories import ComponentFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_team_and_member_changes_are_audited():
    admin = UserFactory(username="ana")
    UserFactory(username="bo", email="bo@example.com")
    team = services.create_team(by=admin, slug="payments", name="Payments")
    services.update_team(by=admin, team=team, name="Payments & Billing")
    membership = services.add_member(
        by=admin, team=team, username_or_email="BO@example.com", role="member"
    )
    services.add_member(by=admin, team=team, username_or_email="bo", role="admin")
    services.remove_member(by=admin, membership=membership)

    entries = list(
        AuditEntry.objects.order_by("id").values_list("action", "target_type", "details")
    )
    assert entries == [
        ("created", "team", {"slug": "payments"}),
        ("changed", "team", {"name": ["Payments", "Payments & Billing"]}),
        ("created", "member", {"user": "bo", "role": "member"}),
        ("changed", "member", {"role": ["member", "admin"]}),
        ("deleted", "member", {"user": "bo"}),
    ]
    assert set(AuditEntry.objects.values_list("actor_name", flat=True)) == {"ana"}


def test_unknown_member_and_taken_slug_are_domain_errors():
    team = TeamFactory(slug="payments")
    with pytest.raises(DomainError, match="No user"):
        services.add_member(by=None, team=team, username_or_email="ghost", role="member")
    with pytest.raises(DomainError, match="exists"):
        services.create_team(by=None, slug="payments", name="Again")


def test_component_aliases_re_resolve_recorded_changes(django_capture_on_commit_callbacks):
    # Of a pipeline without a team: a name another team's pipelines report is theirs to claim
    # (tests/teams/test_component_claims.py).
    change = ChangeEventFactory(
        component="payments-prod", resolved_component=None, pipeline__team=None
    )
    with django_capture_on_commit_callbacks(execute=True):
        component = services.save_component(
            by="script",
            component=None,
            name="Payments-Service",
            owner_team=None,
            aliases=["payments-prod"],
            depends_on=[],
        )
    change.refresh_from_db()
    assert change.resolved_component == component

    with django_capture_on_commit_callbacks(execute=True):
        services.save_component(
            by="script",
            component=component,
            name="payments-service",
            owner_team=None,
            aliases=[],
            depends_on=[],
        )
    change.refresh_from_db()
    assert change.resolved_component is None
    assert AuditEntry.objects.filter(target_type="component").count() == 2
    assert ChangeEvent.objects.count() == 1


def test_an_alias_cannot_mean_two_components():
    ComponentFactory(name="payments-service").aliases.create(name="payments")
    with pytest.raises(DomainError) as raised:
        services.save_component(
            by=None,
            component=None,
            name="billing",
            owner_team=None,
            aliases=["payments"],
            depends_on=[],
        )
    assert "aliases" in raised.value.fields
    assert not Component.objects.filter(name="billing").exists()


def test_integration_changes_are_audited_without_secrets():
    admin = UserFactory(username="ana")
    pipeline, key = pipeline_services.create_integration(
        model=DeploymentPipeline, name="ci", kind="github", by=admin
    )
    pipeline_services.update_integration(by=admin, integration=pipeline, branches=["main"])
    new_key = pipeline_services.rotate_key(integration=pipeline, by=admin)
    secret = pipeline_services.rotate_secret(integration=pipeline, by=admin)
    pipeline_services.set_enabled(integration=pipeline, enabled=False, by=admin)
    pipeline_services.delete_integration(integration=pipeline, by=admin)

    actions = list(AuditEntry.objects.order_by("id").values_list("action", flat=True))
    assert actions == ["created", "changed", "rotated", "rotated", "disabled", "deleted"]
    logged = json.dumps(list(AuditEntry.objects.values_list("details", flat=True)))
    for secret_value in (key, new_key, secret):
        assert secret_value not in logged
    assert not DeploymentPipeline.objects.exists()


def test_update_refuses_to_touch_keys_and_secrets():
    with pytest.raises(TypeError):
        pipeline_services.update_integration(
            by=None, integration=DeploymentPipelineFactory(), secret="x"
        )
