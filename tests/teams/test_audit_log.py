"""The audit log reads as words: per field "Label: before → after", lists joined, booleans
yes/no, nothing as "—", secrets only as "changed"; entries stored before the presenter existed
read the same way (teams.audit.present)."""

import re

import pytest
from django.urls import reverse

from pipelines import services as pipeline_services
from pipelines.models import AlertSource
from teams import audit, services
from teams.audit import DetailLine
from teams.models import AuditEntry
from tests.pipelines.factories import AlertSourceFactory
from tests.settings_actors import cast
from tests.teams.factories import ComponentFactory, TeamFactory

pytestmark = pytest.mark.django_db


def entry(action: str, details: dict) -> AuditEntry:
    """An entry as the log has stored them all along: written straight into the table."""
    return AuditEntry.objects.create(
        actor_name="someone",
        action=action,
        target_type="alert source",
        target_name="cloudwatch-prod",
        details=details,
    )


def words(lines: list[DetailLine]) -> list[str]:
    return [
        f"{line.label}: {line.before} → {line.after}"
        if line.before is not None
        else f"{line.label}: {line.after}"
        for line in lines
    ]


def test_a_change_reads_before_and_after_per_field():
    stored = entry(
        "changed",
        {
            "window_minutes": [60, 90],
            "environments": [[], ["production", "staging"]],
            "auto_confirm_subscriptions": [False, True],
            "quiet_period_minutes": [None, 30],
            "team": ["Payments", None],
            "sns_subscription": ["pending", "confirmed arn:aws:sns:eu-west-1:1:alarms"],
        },
    )

    assert words(audit.present(stored)) == [
        "Window minutes: 60 → 90",
        "Environments: — → production, staging",
        "Auto-confirm SNS subscriptions: no → yes",
        "Quiet period minutes: — → 30",
        "Team: Payments → —",
        "SNS subscription: pending → confirmed arn:aws:sns:eu-west-1:1:alarms",
    ]


def test_a_creation_names_its_values_without_arrows():
    # An integration's creation stores plain values; a component's, [null, value] pairs.
    integration = entry(
        "created", {"kind": "cloudwatch_sns", "environments": ["prod", "staging"], "x": ""}
    )
    component = entry("created", {"name": [None, "payments"], "depends_on": [None, ["db"]]})

    assert words(audit.present(integration)) == [
        "Kind: cloudwatch_sns",
        "Environments: prod, staging",  # two names, not a before and an after
        "X: —",
    ]
    assert words(audit.present(component)) == ["Name: payments", "Depends on: db"]


def test_secrets_are_never_shown_only_that_they_changed():
    stored = entry("changed", {"secret": ["old-secret-value", "new-secret-value"]})
    rotated = entry("rotated", {"what": "signing secret"})

    assert audit.present(stored) == [DetailLine("Secret", "changed")]
    assert words(audit.present(rotated)) == ["What: signing secret"]
    assert audit.present(entry("deleted", {})) == []


def test_the_page_shows_words_for_old_and_new_entries_and_never_a_repr(client):
    people = cast()
    old = entry("changed", {"default_components": [["a", "b"], []], "enabled": [True, False]})
    source = AlertSourceFactory(team=people.team, kind="cloudwatch_sns")
    pipeline_services.update_integration(
        by=people.users["team-admin"],
        integration=source,
        window_minutes=90,
        insufficient_data=AlertSource.InsufficientData.RAISE,
    )
    services.save_component(
        by="apply_config",
        component=None,
        name="checkout",
        owner_team=people.team,
        aliases=["checkout-prod"],
        depends_on=[ComponentFactory(name="postgres-main", owner_team=TeamFactory())],
    )
    client.force_login(people.users["member"])

    page = client.get(reverse("settings:audit")).content.decode()

    details = [
        re.sub(r"<[^>]+>", "", cell).strip()
        for cell in re.findall(r'<td class="audit-details">(.*?)</td>', page, re.S)
    ]
    assert any("Window minutes: 60 → 90" in cell for cell in details)
    assert any("CloudWatch INSUFFICIENT_DATA: ignore → raise" in cell for cell in details)
    assert any(
        "Aliases: checkout-prod" in cell and "Depends on: postgres-main" in cell for cell in details
    )
    assert any("Default components: a, b → —" in cell for cell in details)
    assert any("Enabled: yes → no" in cell for cell in details)
    for repr_sign in ("[", "]", "None", "True", "False", "&#x27;"):
        assert not any(repr_sign in cell for cell in details), repr_sign
    assert old.pk  # the hand-written entry is on the page with the service-written ones
    assert len(details) == AuditEntry.objects.count()


@pytest.mark.parametrize("count", [3, 30])
def test_the_audit_log_costs_the_same_for_3_and_30_entries(
    client, django_assert_num_queries, count
):
    people = cast()
    for number in range(count):
        entry("changed", {"window_minutes": [number, number + 1], "environments": [[], ["x"]]})
    client.force_login(people.users["member"])

    # session, user, entries with their team, the teams for the filter
    with django_assert_num_queries(4):
        response = client.get(reverse("settings:audit"))
    assert response.content.decode().count('class="audit-details"') == count
