import json

import pytest
from django.core.management import CommandError, call_command

from common.tokens import hash_token
from pipelines.models import AlertSource, DeploymentPipeline
from tests.pipelines.factories import DeploymentPipelineFactory
from tests.teams.factories import TeamFactory

pytestmark = pytest.mark.django_db


def create(*args: str, capsys) -> dict:
    call_command("create_integration", *args)
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize(
    ("kind", "path"),
    [
        ("generic", "/api/v1/changes"),
        ("github", "/api/v1/pipelines/{key}/events"),
        ("gitlab", "/api/v1/pipelines/{key}/events"),
        ("codepipeline", "/api/v1/changes"),
        ("pagerduty", "/v2/change/enqueue"),
    ],
)
def test_pipeline_is_created_and_printed_once_with_its_key(kind, path, capsys, settings):
    settings.PUBLIC_URL = "https://whatchanged.example.com"
    team = TeamFactory(slug="payments")

    output = create(
        "pipeline", "--kind", kind, "--name", f"{kind}-ci", "--team", "payments", capsys=capsys
    )

    assert set(output) == {"id", "kind", "key", "secret", "url"}
    pipeline = DeploymentPipeline.objects.get(pk=output["id"])
    assert (pipeline.kind, pipeline.team, pipeline.name) == (kind, team, f"{kind}-ci")
    assert output["url"] == "https://whatchanged.example.com" + path.format(key=output["key"])
    # Stored hashed: the clear key appears nowhere in the row.
    assert pipeline.key_hash == hash_token(output["key"])
    assert output["key"] not in {pipeline.key_hash, pipeline.key_prefix, pipeline.secret}
    assert output["key"].startswith(pipeline.key_prefix)
    assert pipeline.secret == output["secret"]


@pytest.mark.parametrize(
    ("kind", "takes_key_in_path"),
    [
        ("generic", False),
        ("cloudwatch_sns", True),
        ("eventbridge", False),
        ("alertmanager", False),
        ("grafana", False),
        ("webhook", True),
        ("pagerduty", False),
    ],
)
def test_alert_source_url_carries_the_key_where_the_kind_takes_it(kind, takes_key_in_path, capsys):
    output = create(
        "alert-source", "--kind", kind, "--name", "alarms", "--secret", "test-secret", capsys=capsys
    )

    source = AlertSource.objects.get(pk=output["id"])
    assert source.kind == kind and source.team is None
    assert source.secret == output["secret"] == "test-secret"
    assert (output["key"] in output["url"]) is takes_key_in_path


def test_keys_are_random(capsys):
    first = create("pipeline", "--kind", "generic", "--name", "one", capsys=capsys)
    second = create("pipeline", "--kind", "generic", "--name", "two", capsys=capsys)
    assert first["key"] != second["key"] and len(first["key"]) >= 40
    assert first["secret"] != second["secret"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["pipeline", "--kind", "bamboo", "--name", "x"], "unknown kind 'bamboo'"),
        (["alert-source", "--kind", "github", "--name", "x"], "unknown kind 'github'"),
        (["pipeline", "--kind", "generic", "--name", "x", "--team", "nope"], "unknown team 'nope'"),
        (["pipeline", "--kind", "generic", "--name", "taken"], "already exists"),
        (["webhook", "--kind", "generic", "--name", "x"], "unknown integration 'webhook'"),
        (["pipeline", "--kind", "generic", "--name", " "], "--name must be"),
    ],
)
def test_bad_arguments_give_one_line_and_exit_status_2(args, message):
    DeploymentPipelineFactory(name="taken")
    before = DeploymentPipeline.objects.count() + AlertSource.objects.count()

    with pytest.raises(CommandError) as raised:
        call_command("create_integration", *args)

    assert raised.value.returncode == 2
    assert message in str(raised.value) and "\n" not in str(raised.value)
    assert DeploymentPipeline.objects.count() + AlertSource.objects.count() == before
