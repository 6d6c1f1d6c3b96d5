"""What an engineer acts on: suspect cards with their evidence (version, commit linked where the
producer says where it lives, links, who, the description's first line), the catalogued name
with the alias the alert used, the component page's dependencies both ways, and the postmortem
with the conclusion, each suspect's confidence and the dependency paths. Changes arrive through
the real ingest endpoints, with the producers' own payloads."""

import html
from datetime import timedelta
from itertools import pairwise

import pytest
from django.urls import reverse
from django.utils import timezone

from changes.models import ChangeEvent
from incidents import correlation
from incidents.models import Incident, IncidentComponent
from teams.components import resolve_components
from tests.changes.ingest import pipeline_for, post_fixture, post_json
from tests.fixtures import load_fixture
from tests.incidents.factories import IncidentFactory
from tests.pipelines.factories import AlertSourceFactory
from tests.teams.factories import ComponentFactory, TeamFactory

pytestmark = pytest.mark.django_db

GITHUB_SHA = "9e41c07b3d2a8f61e5c4b0a9d8e7f6a5b4c3d2e1"


def incident_after(change: ChangeEvent, *names: str, minutes: int = 8, **fields) -> Incident:
    """An incident on these components (catalogued where the catalog knows the name or alias),
    started `minutes` after the change, and correlated by the real service."""
    incident = IncidentFactory(
        started_at=change.started_at + timedelta(minutes=minutes),
        alert_source=fields.pop("alert_source", None) or AlertSourceFactory(),
        **fields,
    )
    catalog = resolve_components(list(names))
    for name in names:
        IncidentComponent.objects.create(incident=incident, name=name, component=catalog.get(name))
    correlation.correlate_incident(incident_id=incident.pk)
    return incident


def detail(client, incident: Incident) -> str:
    response = client.get(reverse("incidents:detail", args=[incident.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_a_github_deployment_card_links_its_commit_and_shows_who_and_what(logged_in_client):
    payments = ComponentFactory(name="payments-service")
    payments.aliases.create(name="payments-prod")
    pipeline_for("github")
    fixture = load_fixture("github", "deployment_status_success")
    assert post_fixture(logged_in_client, "github", fixture).status_code == 202
    change = ChangeEvent.objects.get()
    repository = change.metadata["repository"]

    body = detail(logged_in_client, incident_after(change, "payments-prod"))

    card = body[body.index('<ol class="suspects">') :]
    commit = f"https://github.com/{repository}/commit/{GITHUB_SHA}"
    assert f'<a class="commit" href="{commit}"' in card
    assert "<dt>Version</dt><dd><code>v4.7.0</code></dd>" in card
    assert "<dt>Who</dt><dd>dana-ops</dd>" in card
    for link in change.links:
        assert f'href="{html.escape(link["href"])}"' in card and link["text"] in card
    if change.description and change.description != change.summary:
        assert html.escape(change.description.splitlines()[0]) in card
    # The header names the catalog's component with the alias the alert used.
    chip = '<span class="chip">payments-service <span class="muted">(alias payments-prod)</span>'
    assert chip in body


def test_a_gitlab_card_links_the_commit_link_gitlab_sent(logged_in_client):
    pipeline_for("gitlab")
    fixture = load_fixture("gitlab", "deployment_hook_success")
    assert post_fixture(logged_in_client, "gitlab", fixture).status_code == 202
    change = ChangeEvent.objects.get()
    commit_link = next(link["href"] for link in change.links if link["text"] == "Commit")

    body = detail(logged_in_client, incident_after(change, "inventory-service"))

    card = body[body.index('<ol class="suspects">') :]
    assert f'<a class="commit" href="{html.escape(commit_link)}"' in card
    assert '<code title="c41d9e07">c41d9e0</code>' in card
    # The commit link is the commit's; the other links stay links.
    assert card.count(f'href="{html.escape(commit_link)}"') == 1
    assert ">Job</a>" in card
    assert "<dt>Who</dt><dd>priya.n</dd>" in card


def test_without_a_repository_the_commit_is_plain_and_only_web_links_are_links(
    logged_in_client, django_capture_on_commit_callbacks
):
    pipeline_for("alert24")
    with django_capture_on_commit_callbacks(execute=True):
        response = post_json(
            logged_in_client,
            {
                "component": "search-api",
                "summary": "Deploy search-api 2.0",
                "description": "\n\nReindex on start\nsecond line not shown",
                "version": "2.0.0",
                "commit": "0123456789abcdef",
                "triggered_by": "sam",
                # Someone else's repository must not be guessed from a generic producer.
                "metadata": {"repository": "acme/search"},
                "links": [
                    {"href": "https://ci.example.com/runs/42", "text": "CI run"},
                    {"href": "javascript:alert(1)", "text": "evil"},
                    {"href": "https://github.com/acme/search/pull/7", "text": "PR #7"},
                ],
            },
        )
    assert response.status_code == 202, response.content
    change = ChangeEvent.objects.get()

    body = detail(logged_in_client, incident_after(change, "search-api"))

    card = body[body.index('<ol class="suspects">') :]
    assert 'class="commit"' not in card and "github.com/acme/search/commit" not in card
    assert '<code title="0123456789abcdef">0123456789abcdef</code>' in card
    assert '<a class="evidence-link" href="https://ci.example.com/runs/42"' in card
    assert '<a class="evidence-link" href="https://github.com/acme/search/pull/7"' in card
    assert "javascript:" not in card and ">evil</a>" not in card
    assert "<dd>Reindex on start</dd>" in card and "second line not shown" not in card
    assert "<dt>Version</dt><dd><code>2.0.0</code></dd>" in card


@pytest.mark.parametrize("count", [2, 40])
def test_evidence_costs_no_query_per_suspect(
    logged_in_client, django_capture_on_commit_callbacks, django_assert_max_num_queries, count
):
    pipeline_for("alert24")
    start = timezone.now() - timedelta(minutes=5)
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(count):
            response = post_json(
                logged_in_client,
                {
                    "component": "payments-service",
                    "summary": f"Deploy {n}",
                    "commit": f"{n:07x}abc",
                    "occurred_at": (start - timedelta(minutes=n % 50)).isoformat(),
                    "links": [{"href": f"https://ci.example.com/{n}", "text": f"run {n}"}],
                    "deployment_id": f"deploy-{n}",
                },
            )
            assert response.status_code == 202, response.content
    incident = incident_after(ChangeEvent.objects.earliest("started_at"), "payments-service")
    incident.started_at = start + timedelta(minutes=1)
    incident.save(update_fields=["started_at"])
    correlation.correlate_incident(incident_id=incident.pk)
    assert incident.suspects.count() == count

    # The page's own few (test_pages pins them), its alerts included: none per suspect.
    with django_assert_max_num_queries(8):
        body = detail(logged_in_client, incident)
    assert body.count('class="evidence-link"') == count


def test_the_component_page_shows_dependencies_both_ways_transitively(
    logged_in_client, django_assert_max_num_queries
):
    """web → checkout → payments → pgbouncer → postgres → backup; postgres → pgbouncer too
    (a cycle). Seen from payments-service: three hops each way at most."""
    names = ["web", "checkout", "payments-service", "pgbouncer", "postgres-main", "backup"]
    chain = [ComponentFactory(name=name) for name in names]
    for needs, needed in pairwise(chain):
        needs.depends_on.add(needed)
    chain[4].depends_on.add(chain[3])  # postgres-main → pgbouncer: the walk must end
    ComponentFactory(name="unrelated").depends_on.add(ComponentFactory(name="elsewhere"))

    with django_assert_max_num_queries(10):
        response = logged_in_client.get(reverse("incidents:component", args=["payments-service"]))
    page = response.context["page"]
    assert [(d.name, d.path_text) for d in page.depends_on] == [
        ("pgbouncer", "payments-service → pgbouncer"),
        ("postgres-main", "payments-service → pgbouncer → postgres-main"),
        ("backup", "payments-service → pgbouncer → postgres-main → backup"),
    ]
    assert [(d.name, d.path_text) for d in page.depended_on_by] == [
        ("checkout", "checkout → payments-service"),
        ("web", "web → checkout → payments-service"),
    ]
    body = response.content.decode()
    depends_on = body[body.index('id="depends-on"') : body.index('id="depended-on-by"')]
    backup = reverse("incidents:component", args=[chain[5].slug])
    assert f'<a href="{backup}">backup</a>' in depends_on and "3 hops" in depends_on
    assert "payments-service → pgbouncer → postgres-main → backup" in depends_on
    assert "web → checkout → payments-service" in body[body.index('id="depended-on-by"') :]
    assert "elsewhere" not in body

    # Three hops at most: from web, backup is five away.
    web = logged_in_client.get(reverse("incidents:component", args=[chain[0].slug]))
    assert [d.name for d in web.context["page"].depends_on] == [
        "checkout",
        "payments-service",
        "pgbouncer",
    ]
    lonely = logged_in_client.get(reverse("incidents:component", args=["elsewhere"]))
    assert lonely.context["page"].depends_on == []
    assert [d.name for d in lonely.context["page"].depended_on_by] == ["unrelated"]


@pytest.mark.parametrize("count", [5, 100])
def test_the_component_page_costs_the_same_for_any_catalog(
    logged_in_client, django_assert_max_num_queries, count
):
    hub = ComponentFactory(name="hub")
    for n in range(count):
        ComponentFactory(name=f"needs-hub-{n}").depends_on.add(hub)
        hub.depends_on.add(ComponentFactory(name=f"hub-needs-{n}"))

    with django_assert_max_num_queries(10):
        response = logged_in_client.get(reverse("incidents:component", args=["hub"]))
    assert len(response.context["page"].depends_on) == count
    assert len(response.context["page"].depended_on_by) == count


def test_the_postmortem_says_the_conclusion_confidence_and_path(
    logged_in_client, django_capture_on_commit_callbacks
):
    """payments-service → pgbouncer → postgres-main: another team's config change two hops
    away is a medium suspect, and the postmortem says so with its path."""
    payments_team, dba = TeamFactory(name="Payments"), TeamFactory(name="DBA | ops")
    payments = ComponentFactory(name="payments-service", owner_team=payments_team)
    pgbouncer = ComponentFactory(name="pgbouncer", owner_team=dba)
    postgres = ComponentFactory(name="postgres-main", owner_team=dba)
    payments.depends_on.add(pgbouncer)
    pgbouncer.depends_on.add(postgres)
    pipeline_for("alert24", team=dba)
    with django_capture_on_commit_callbacks(execute=True):
        response = post_json(
            logged_in_client,
            {"component": "postgres-main", "kind": "config", "summary": "max_connections 50"},
        )
    assert response.status_code == 202, response.content
    change = ChangeEvent.objects.get()

    incident = incident_after(
        change, "payments-service", alert_source=AlertSourceFactory(team=payments_team)
    )
    page = logged_in_client.get(reverse("incidents:detail", args=[incident.pk])).context["page"]

    markdown = page.markdown
    assert "- Whatchanged's conclusion (medium confidence): Possible causes" in markdown
    assert "payments-service → pgbouncer → postgres-main" in markdown
    assert "(medium confidence)" in markdown.split("## Suspect changes")[1]
    assert "- **Components:** payments-service" in markdown

    # Nothing of its own, nothing it depends on: the conclusion says so in the postmortem.
    quiet = incident_after(change, "search-api", minutes=30)
    quiet_page = logged_in_client.get(reverse("incidents:detail", args=[quiet.pk])).context["page"]
    assert (
        "- Whatchanged's conclusion (low confidence): No change of search-api or its "
        "dependencies in the 60 minutes before the alarm"
    ) in quiet_page.markdown
