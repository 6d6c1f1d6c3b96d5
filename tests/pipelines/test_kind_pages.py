"""The pipeline form and the settings overview group kinds by what they are, and the form shows
only the fields the chosen kind uses: redrawn by htmx when the kind changes, or by a button
without JavaScript. (The alert-source form: test_alert_source_form.py.)"""

import html
import re

import pytest
from django.urls import reverse

from pipelines.kinds import GROUPS, PIPELINE_KINDS
from pipelines.models import DeploymentPipeline
from tests.pipelines.factories import DeploymentPipelineFactory
from tests.settings_actors import cast

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
NEW = reverse("settings:integration-new", args=["pipelines"])
WITH_BRANCHES = [kind for kind, info in PIPELINE_KINDS.items() if info.has_branches]
WITHOUT_BRANCHES = [kind for kind, info in PIPELINE_KINDS.items() if not info.has_branches]


@pytest.fixture
def people():
    return cast()


@pytest.fixture
def admin_client(client, people):
    client.force_login(people.users["team-admin"])
    return client


def body(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def optgroups(page: str) -> dict[str, list[str]]:
    """{group label: [option values]} of the kind select."""
    select = re.search(r'<select name="kind".*?</select>', page, re.S).group(0)
    return {
        label: re.findall(r'<option value="([^"]+)"', options)
        for label, options in re.findall(
            r'<optgroup label="([^"]+)">(.*?)</optgroup>', select, re.S
        )
    }


def test_the_kind_select_groups_every_kind_by_what_it_is(admin_client):
    page = body(admin_client.get(NEW))

    groups = optgroups(page)
    assert list(groups) == list(GROUPS)
    assert sorted(kind for kinds in groups.values() for kind in kinds) == sorted(
        DeploymentPipeline.Kind.values
    )
    assert groups["Feature flags"] == ["launchdarkly", "flagsmith", "unleash"]
    assert groups["GitOps"] == ["flux", "argocd"]
    # Each option says what the kind is.
    flux = PIPELINE_KINDS["flux"].description
    assert re.search(rf'<option value="flux" title="{re.escape(flux)}"', page)


def test_without_a_kind_every_field_is_shown_with_a_word_on_the_groups(admin_client):
    page = body(admin_client.get(NEW))
    for name in ("environments", "branches", "event_types", "team"):
        assert f'name="{name}"' in page
    assert "Choose one to see what it sends" in page
    assert 'hx-get="/settings/pipelines/new"' in page and 'hx-target="#kind-fields"' in page
    assert 'hx-params="not csrfmiddlewaretoken"' in page


@pytest.mark.parametrize("kind", WITH_BRANCHES)
def test_a_kind_with_branches_offers_the_branch_filter(admin_client, kind):
    page = body(admin_client.get(NEW, {"kind": kind}))
    assert 'name="branches"' in page
    assert html.escape(PIPELINE_KINDS[kind].description) in page


@pytest.mark.parametrize("kind", WITHOUT_BRANCHES)
def test_a_kind_without_branches_has_no_branch_filter(admin_client, kind):
    page = body(admin_client.get(NEW, {"kind": kind}))
    assert 'name="branches"' not in page
    assert 'name="environments"' in page and 'name="event_types"' in page


@pytest.mark.parametrize(
    ("kind", "signs"),
    [(kind, info.signs) for kind, info in PIPELINE_KINDS.items() if not info.mode_is_chosen],
)
def test_only_signing_kinds_talk_about_a_signing_secret(admin_client, kind, signs):
    page = body(admin_client.get(NEW, {"kind": kind}))
    assert ("signing secret" in page) is signs
    assert ("Key only" in page) is not signs
    assert 'name="auth_mode"' not in page  # one mode: nothing to choose


def test_a_kind_set_up_either_way_offers_both_modes(admin_client):
    page = body(admin_client.get(NEW, {"kind": "generic"}))
    assert "signing secret" in page and "Signed or by its key alone" in page
    assert 'name="auth_mode"' in page


def test_htmx_gets_the_kind_fields_alone_with_what_was_typed_kept(admin_client, people):
    response = admin_client.get(
        NEW,
        {"name": "flags", "kind": "launchdarkly", "team": people.team.pk, "environments": "prod"},
        headers=HTMX,
    )
    fragment = body(response)

    assert fragment.lstrip().startswith('<div id="kind-fields"')
    # What comes before the kind stays as it is on the page.
    assert "<html" not in fragment and 'name="kind"' not in fragment
    assert 'name="team"' not in fragment and 'name="name"' not in fragment
    assert 'name="branches"' not in fragment
    assert 'name="environments"' in fragment and 'value="prod"' in fragment
    assert "Flag changes from LaunchDarkly" in fragment
    assert response["Vary"] and "HX-Request" in response["Vary"]

    back = body(admin_client.get(NEW, {"kind": "github"}, headers=HTMX))
    assert 'name="branches"' in back


def test_without_javascript_the_button_redraws_the_form_and_saves_nothing(admin_client, people):
    form = {"name": "gitops", "kind": "argocd", "team": people.team.pk, "choose_kind": "1"}
    page = body(admin_client.post(NEW, form))

    assert not DeploymentPipeline.objects.exists()
    assert 'name="choose_kind"' in page  # inside <noscript>
    assert 'name="branches"' not in page and 'value="gitops"' in page
    assert '<option value="argocd" selected' in page


def test_a_kind_without_branches_is_saved_without_a_branch_filter(admin_client, people):
    pipeline = DeploymentPipelineFactory(team=people.team, kind="github", branches=["main"])
    url = reverse("settings:integration-edit", args=["pipelines", pipeline.pk])
    form = {"name": pipeline.name, "kind": "flux", "team": people.team.pk, "branches": "main"}

    response = admin_client.post(url, form)

    assert response.status_code == 302
    pipeline.refresh_from_db()
    assert (pipeline.kind, pipeline.branches) == ("flux", [])


def test_the_edit_form_shows_the_pipelines_own_kind_and_its_fields(admin_client, people):
    pipeline = DeploymentPipelineFactory(team=people.team, kind="unleash")
    url = reverse("settings:integration-edit", args=["pipelines", pipeline.pk])
    page = body(admin_client.get(url))
    assert 'name="branches"' not in page and "Flags enabled, disabled or re-targeted" in page
    redrawn = body(admin_client.get(url, {"kind": "gitlab"}, headers=HTMX))
    assert 'name="branches"' in redrawn


def test_the_overview_lists_pipelines_grouped_as_the_kind_select(client, people):
    for name, kind in [
        ("z-github", "github"),
        ("a-flags", "launchdarkly"),
        ("m-flux", "flux"),
        ("b-jenkins", "jenkins"),
        ("c-script", "generic"),
        ("d-terraform", "terraform_cloud"),
    ]:
        DeploymentPipelineFactory(name=name, kind=kind, team=people.team)
    client.force_login(people.users["member"])

    page = body(client.get(reverse("settings:overview")))

    groups = re.findall(r'<th colspan="5" scope="rowgroup">([^<]+)</th>', page)
    assert groups == ["CI", "GitOps", "Infrastructure", "Feature flags", "Scripts and standards"]
    names = re.findall(r'/settings/pipelines/\d+/">([^<]+)</a>', page)
    assert names == ["b-jenkins", "z-github", "m-flux", "d-terraform", "a-flags", "c-script"]
