"""The alert-source form shows only the settings the chosen kind reads (CloudWatch's for
CloudWatch, the signed timestamp's for the signed webhook), redrawn by htmx when the kind
changes; a setting of another kind is saved as its default whatever is posted. The detail page
offers a signing secret only where the producer signs."""

import html
import re

import pytest
from django.urls import reverse

from pipelines.kinds import ALERT_SOURCE_KINDS, ALERT_SOURCE_OPTIONS, PIPELINE_KINDS
from pipelines.models import AlertSource, DeploymentPipeline
from teams.models import AuditEntry
from tests.pipelines.factories import AlertSourceFactory, DeploymentPipelineFactory
from tests.settings_actors import cast

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
NEW = reverse("settings:integration-new", args=["alert-sources"])
# Every kind reads these; the kind-specific ones are ALERT_SOURCE_OPTIONS.
SHARED = ("default_severity", "default_components", "window_minutes", "group_window_minutes")
FORM = {
    "name": "prometheus",
    "default_severity": "high",
    "window_minutes": 60,
    "skew_minutes": 2,
    "reopen_window_minutes": 0,
}


@pytest.fixture
def people():
    return cast()


@pytest.fixture
def admin_client(client, people):
    client.force_login(people.users["team-admin"])
    return client


def body(response, status: int = 200) -> str:
    assert response.status_code == status, response.status_code
    return response.content.decode()


def fields_in(page: str) -> set[str]:
    return set(re.findall(r'<(?:input|select|textarea)[^>]* name="([^"]+)"', page))


def detail(source) -> str:
    word = "pipelines" if isinstance(source, DeploymentPipeline) else "alert-sources"
    return reverse("settings:integration", args=[word, source.pk])


def test_every_kind_is_described_and_titled_in_the_select(admin_client):
    assert set(ALERT_SOURCE_KINDS) == set(AlertSource.Kind.values)
    page = body(admin_client.get(NEW))

    assert "<optgroup" not in page  # seven kinds: one flat list
    for kind, info in ALERT_SOURCE_KINDS.items():
        assert f'<option value="{kind}" title="{html.escape(info.description)}"' in page
    assert "Choose what sends the alerts" in page
    assert 'hx-get="/settings/alert-sources/new"' in page and 'hx-target="#kind-fields"' in page


@pytest.mark.parametrize("kind", AlertSource.Kind.values)
def test_each_kind_shows_its_own_settings_and_no_others(admin_client, kind):
    info = ALERT_SOURCE_KINDS[kind]
    shown = fields_in(body(admin_client.get(NEW, {"kind": kind})))

    assert set(SHARED) <= shown
    assert {name for name in ALERT_SOURCE_OPTIONS if name in shown} == info.options
    # Alerts pass no noise filter: the pipelines' filters are not offered.
    assert not shown & {"environments", "event_types", "branches"}


def test_cloudwatch_options_are_cloudwatchs_and_the_signature_the_webhooks():
    assert "insufficient_data" in ALERT_SOURCE_KINDS["cloudwatch_sns"].options
    assert "auto_confirm_subscriptions" in ALERT_SOURCE_KINDS["cloudwatch_sns"].options
    assert not ALERT_SOURCE_KINDS["alertmanager"].options
    assert [kind for kind, info in ALERT_SOURCE_KINDS.items() if info.signs] == ["webhook"]


def test_htmx_swaps_the_kind_fields_keeping_what_was_typed(admin_client, people):
    typed = {"name": "cw", "team": people.team.pk, "window_minutes": "45"}

    cloudwatch = body(admin_client.get(NEW, {**typed, "kind": "cloudwatch_sns"}, headers=HTMX))
    alertmanager = body(admin_client.get(NEW, {**typed, "kind": "alertmanager"}, headers=HTMX))

    assert cloudwatch.lstrip().startswith('<div id="kind-fields"')
    assert "<html" not in cloudwatch and 'name="kind"' not in cloudwatch
    assert {"insufficient_data", "auto_confirm_subscriptions"} <= fields_in(cloudwatch)
    assert "CloudWatch alarms through an SNS topic" in cloudwatch
    assert alertmanager.lstrip().startswith('<div id="kind-fields"')
    assert not fields_in(alertmanager) & set(ALERT_SOURCE_OPTIONS)
    assert 'name="window_minutes" value="45"' in alertmanager
    assert "Alertmanager webhook receiver" in alertmanager


def test_settings_of_another_kind_are_saved_as_their_defaults(admin_client, people):
    posted = {
        **FORM,
        "kind": "alertmanager",
        "team": people.team.pk,
        "insufficient_data": "raise",
        "auto_confirm_subscriptions": "on",
        "timestamp_tolerance_seconds": "abc",  # not even validated: the kind never reads it
    }

    response = admin_client.post(NEW, posted)

    assert response.status_code == 302
    source = AlertSource.objects.get(name="prometheus")
    assert (source.insufficient_data, source.auto_confirm_subscriptions) == ("ignore", False)
    assert source.timestamp_tolerance_seconds == 300


def test_a_kinds_own_settings_are_saved(admin_client, people):
    posted = {**FORM, "name": "cw", "kind": "cloudwatch_sns", "team": people.team.pk}
    posted |= {"insufficient_data": "raise", "auto_confirm_subscriptions": "on"}

    assert admin_client.post(NEW, posted).status_code == 302

    source = AlertSource.objects.get(name="cw")
    assert (source.insufficient_data, source.auto_confirm_subscriptions) == ("raise", True)


def test_moving_a_source_to_another_kind_clears_the_old_kinds_settings(admin_client, people):
    source = AlertSourceFactory(
        team=people.team,
        kind="cloudwatch_sns",
        insufficient_data="raise",
        auto_confirm_subscriptions=True,
    )
    url = reverse("settings:integration-edit", args=["alert-sources", source.pk])
    page = body(admin_client.get(url))
    assert {"insufficient_data", "auto_confirm_subscriptions"} <= fields_in(page)

    response = admin_client.post(
        url, {**FORM, "name": source.name, "kind": "alertmanager", "team": people.team.pk}
    )

    assert response.status_code == 302
    source.refresh_from_db()
    assert (source.kind, source.insufficient_data, source.auto_confirm_subscriptions) == (
        "alertmanager",
        "ignore",
        False,
    )
    changed = AuditEntry.objects.get(action="changed").details
    assert changed["insufficient_data"] == ["raise", "ignore"]


def test_without_javascript_the_button_redraws_the_form_and_saves_nothing(admin_client, people):
    posted = {**FORM, "kind": "webhook", "team": people.team.pk, "choose_kind": "1"}
    page = body(admin_client.post(NEW, posted))

    assert not AlertSource.objects.exists()
    assert 'name="timestamp_tolerance_seconds"' in page and 'value="prometheus"' in page
    assert 'name="insufficient_data"' not in page


@pytest.mark.parametrize(
    ("kind", "signs"), [(kind, info.signs) for kind, info in ALERT_SOURCE_KINDS.items()]
)
def test_only_a_signing_kind_is_given_a_signing_secret_to_copy(admin_client, people, kind, signs):
    posted = {**FORM, "kind": kind, "team": people.team.pk}
    posted |= {"insufficient_data": "ignore", "timestamp_tolerance_seconds": 300}
    form = body(admin_client.get(NEW, {"kind": kind}))
    assert ("signing secret" in form) is signs

    created = admin_client.post(NEW, posted)
    page = body(admin_client.get(created["Location"]))

    assert 'id="shown-key"' in page
    assert ('id="shown-secret"' in page) is signs
    assert ("Rotate signing secret" in page) is signs


@pytest.mark.parametrize(
    ("factory", "kind", "signs"),
    [
        *(
            (DeploymentPipelineFactory, kind, info.default_auth_mode == "signature")
            for kind, info in PIPELINE_KINDS.items()
        ),
        *(
            (AlertSourceFactory, kind, info.default_auth_mode == "signature")
            for kind, info in ALERT_SOURCE_KINDS.items()
        ),
    ],
)
def test_the_detail_page_offers_to_rotate_a_secret_only_where_one_signs(
    admin_client, people, factory, kind, signs
):
    integration = factory(team=people.team, kind=kind)
    page = body(admin_client.get(detail(integration)))
    assert ("Rotate signing secret" in page) is signs
    assert "Rotate key" in page


def test_rotating_the_secret_of_a_kind_that_never_signs_is_refused(admin_client, people):
    source = AlertSourceFactory(team=people.team, kind="alertmanager", secret="the-old-secret")
    url = reverse("settings:integration-rotate-secret", args=["alert-sources", source.pk])

    response = admin_client.post(url, follow=True)

    page = body(response)
    assert response.redirect_chain == [(detail(source), 302)]
    assert "Prometheus Alertmanager does not sign its requests" in page
    assert 'id="shown-secret"' not in page
    source.refresh_from_db()
    assert source.secret == "the-old-secret" and not AuditEntry.objects.exists()


@pytest.mark.parametrize(
    ("kind", "shown"),
    [
        ("cloudwatch_sns", {"INSUFFICIENT_DATA", "SNS subscriptions"}),
        ("eventbridge", {"INSUFFICIENT_DATA"}),
        ("webhook", {"Signed timestamp tolerance"}),
        ("alertmanager", set()),
    ],
)
def test_the_detail_page_lists_the_kinds_own_settings(admin_client, people, kind, shown):
    page = body(admin_client.get(detail(AlertSourceFactory(team=people.team, kind=kind))))
    listed = set(re.findall(r"<dt>([^<]+)</dt>", page))
    assert listed & {"INSUFFICIENT_DATA", "SNS subscriptions", "Signed timestamp tolerance"} == (
        shown
    )
    assert "Correlation window" in listed
