"""Every kind of pipeline is a whole unit: described for the forms, given a URL its producer can
use as it is, read by an adapter, and set up by a snippet."""

from pathlib import Path

import pytest
from django.conf import settings

from changes.api.views import ADAPTERS
from pipelines.endpoints import ingest_url
from pipelines.kinds import GROUPS, PIPELINE_KINDS, grouped_kinds
from pipelines.models import DeploymentPipeline

KINDS = DeploymentPipeline.Kind.values
SNIPPETS = Path(settings.BASE_DIR) / "templates" / "pipelines" / "snippets"


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_is_described_read_reachable_and_set_up(kind):
    assert PIPELINE_KINDS[kind].group in GROUPS
    assert ADAPTERS[kind].to_canonical
    url = ingest_url(DeploymentPipeline(kind=kind), "wcp_key")
    assert url.startswith(settings.PUBLIC_URL)
    assert (SNIPPETS / f"pipelines-{kind}.html").exists()


def test_groups_list_every_kind_once():
    listed = [kind for _, kinds in grouped_kinds() for kind, _ in kinds]
    assert sorted(listed) == sorted(KINDS)
