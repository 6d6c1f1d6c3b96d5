"""An incident handled in the browser, and an integration set up from Settings."""

import hashlib
import hmac
from datetime import timedelta

from django.test import Client
from django.utils import timezone
from playwright.sync_api import Page, expect

from incidents import correlation
from incidents.models import Incident, IncidentComponent
from pipelines.models import DeploymentPipeline
from teams.models import Membership
from tests.browser.conftest import PASSWORD, screenshot
from tests.changes.factories import ChangeEventFactory
from tests.fixtures import load_fixture
from tests.incidents.factories import IncidentFactory
from tests.pipelines.factories import DeploymentPipelineFactory
from tests.teams.factories import ComponentFactory, TeamFactory, UserFactory


def test_open_an_incident_see_its_top_suspect_acknowledge_and_resolve(logged_in_page: Page):
    payments = ComponentFactory(name="payments-service", owner_team=None)
    started = timezone.now() - timedelta(minutes=20)
    incident = IncidentFactory(title="HighErrorRate", started_at=started, environment="production")
    IncidentComponent.objects.create(incident=incident, name=payments.name, component=payments)
    ChangeEventFactory(
        component="payments-service",
        resolved_component=payments,
        version="v4.7.0",
        pipeline=DeploymentPipelineFactory(team=None),
        occurred_at=started - timedelta(minutes=8),
    )
    correlation.correlate_incident(incident_id=incident.pk)
    page = logged_in_page

    page.click("nav >> text=Incidents")
    page.click("text=HighErrorRate")
    expect(page.locator("#suspects")).to_contain_text(
        "Likely cause: payments-service v4.7.0 deployed 8 min before"
    )
    expect(page.locator("#suspects .badge.confidence-high")).to_have_text("High confidence")
    screenshot(page, "incident")

    page.click("button:has-text('Acknowledge')")
    expect(page.locator(".badge.status-acknowledged").first).to_be_visible()
    page.click("button:has-text('Resolve')")
    expect(page.locator(".badge.status-resolved").first).to_be_visible()
    incident.refresh_from_db()
    assert incident.status == Incident.Status.RESOLVED
    assert incident.resolved_by.get_username() == "oncall"
    screenshot(page, "incident-resolved")


def test_an_incident_nothing_near_changed_says_so_before_its_low_suspects(logged_in_page: Page):
    payments = ComponentFactory(name="payments-service", owner_team=None)
    started = timezone.now() - timedelta(minutes=20)
    incident = IncidentFactory(title="HighLatency", started_at=started, environment="production")
    IncidentComponent.objects.create(incident=incident, name=payments.name, component=payments)
    ChangeEventFactory(
        component="search-api",
        pipeline=DeploymentPipelineFactory(team=None),
        occurred_at=started - timedelta(minutes=30),
    )
    correlation.correlate_incident(incident_id=incident.pk)

    logged_in_page.goto(f"/incidents/{incident.pk}/")

    suspects = logged_in_page.locator("#suspects")
    expect(suspects.locator(".conclusion")).to_have_text(
        "No change of payments-service or its dependencies in the 60 minutes before the alarm"
    )
    expect(suspects.locator(".badge.confidence-low")).to_have_text("Low confidence")
    screenshot(logged_in_page, "incident-no-near-change")


def test_team_admin_sets_up_a_github_pipeline(page: Page, transactional_db):
    team = TeamFactory(slug="payments", name="Payments")
    log_in_as_admin_of(page, team)

    page.click("nav >> text=Settings")
    page.click("text=New pipeline")
    page.fill("#id_name", "payments-github")
    page.select_option("#id_kind", "github")
    page.select_option("#id_team", label="Payments")
    page.click("button:has-text('Create deployment pipeline')")

    key = page.input_value("#shown-key")
    secret = page.input_value("#shown-secret")
    assert key and secret
    screenshot(page, "settings-pipeline-created")

    fixture = load_fixture("github", "deployment_status_success")
    body = fixture["body"].encode()
    headers = {k: v for k, v in fixture["headers"].items() if k != "Content-Type"}
    headers["X-Hub-Signature-256"] = (
        "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    )

    def deliver(with_key: str):
        url = f"/api/v1/pipelines/{with_key}/events"
        return Client().post(url, body, content_type="application/json", headers=headers)

    webhook = deliver(key)
    assert webhook.status_code == 202

    page.reload()
    expect(page.locator("#shown-key")).to_have_count(0)  # shown once only
    expect(page.locator("tr.delivery")).to_contain_text("deployment_status")
    expect(page.locator("tr.delivery")).to_contain_text("Accepted")
    screenshot(page, "settings-pipeline-deliveries")

    page.click("button:has-text('Rotate key')")
    expect(page.locator(".message")).to_contain_text("old key stopped working")
    new_key = page.input_value("#shown-key")
    refused = deliver(key)
    assert refused.status_code == 401 and refused.json()["code"] == "unknown_key"
    assert deliver(new_key).status_code == 202


def test_choosing_a_kind_redraws_the_fields_it_uses(page: Page, transactional_db):
    team = TeamFactory(slug="flags", name="Flags")
    log_in_as_admin_of(page, team)
    page.goto("/settings/pipelines/new")

    page.fill("#id_name", "checkout-flags")
    page.select_option("#id_team", label="Flags")
    page.select_option("#id_kind", "github")
    expect(page.locator("#kind-fields")).to_contain_text("signed by GitHub")
    page.fill("#id_environments", "production")
    page.select_option("#id_kind", "launchdarkly")
    expect(page.locator("#kind-fields")).to_contain_text("LaunchDarkly's audit log webhook")
    expect(page.locator("#id_branches")).to_have_count(0)
    expect(page.locator("#id_environments")).to_have_value("production")  # kept
    screenshot(page, "settings-pipeline-kind")
    page.click("button:has-text('Create deployment pipeline')")

    expect(page.locator("#shown-key")).to_be_visible()
    pipeline = DeploymentPipeline.objects.get(name="checkout-flags")
    assert (pipeline.kind, pipeline.team, pipeline.environments) == (
        "launchdarkly",
        team,
        ["production"],
    )


def test_team_admin_sets_up_a_flux_pipeline_and_sees_its_first_event(page: Page, transactional_db):
    team = TeamFactory(slug="checkout", name="Checkout")
    log_in_as_admin_of(page, team)

    page.click("nav >> text=Settings")
    page.click("text=New pipeline")
    page.fill("#id_name", "prod-eu-flux")
    page.select_option("#id_team", label="Checkout")
    page.select_option("#id_kind", "flux")
    page.click("button:has-text('Create deployment pipeline')")
    key = page.input_value("#shown-key")
    secret = page.input_value("#shown-secret")
    # The snippet is the Provider's Secret, pre-filled with the URL (key in its path).
    expect(page.locator("body")).to_contain_text(f"/api/v1/pipelines/{key}/events")
    expect(page.locator("body")).to_contain_text("generic-hmac")
    screenshot(page, "settings-flux-pipeline-created")

    # notification-controller posts a reconciled Kustomization, signed with the Secret's token.
    fixture = load_fixture("flux", "kustomization_reconciled")
    body = fixture["body"].encode()
    headers = {k: v for k, v in fixture["headers"].items() if k != "Content-Type"}
    headers["X-Signature"] = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    answer = Client().post(
        f"/api/v1/pipelines/{key}/events", body, content_type="application/json", headers=headers
    )
    assert answer.status_code == 202, answer.content

    page.click("nav >> text=Deployments")
    row = page.locator("tr", has_text="checkout-api")
    expect(row).to_be_visible()
    expect(row).to_contain_text("prod-eu-flux")
    expect(row).to_contain_text("production")
    screenshot(page, "deployments-first-flux-event")


def log_in_as_admin_of(page: Page, team) -> None:
    admin = UserFactory(username="lead", password=PASSWORD)
    Membership.objects.create(user=admin, team=team, role="admin")
    page.goto("/login/")
    page.fill("input[name=username]", "lead")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
