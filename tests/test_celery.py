"""Celery: every task has a named queue, and a real worker runs our tasks end to end."""

from django.conf import settings

from changes.models import ChangeEvent
from config.celery import app
from pipelines.config_as_code import apply_config
from tests.changes.factories import ChangeEventFactory
from tests.conftest import wait_for


def our_tasks() -> list[str]:
    app.loader.import_default_modules()
    return sorted(name for name in app.tasks if not name.startswith("celery."))


def test_every_task_is_named_after_its_app_and_routed_to_a_named_queue():
    tasks = our_tasks()
    assert tasks, "no tasks registered"
    for name in tasks:
        assert name.split(".")[0] in {"changes", "incidents", "pipelines", "teams"}, name
        assert settings.CELERY_TASK_ROUTES.get(name, {}).get("queue"), f"{name} has no queue"


def test_every_task_acks_late_and_retries_a_bounded_number_of_times():
    for name in our_tasks():
        task = app.tasks[name]
        assert task.acks_late, name
        assert task.max_retries is not None and task.max_retries <= 10, name


def test_a_real_worker_resolves_changes_after_an_alias_is_added(real_worker):
    # Of a pipeline without a team: another team's names are not a file's to claim.
    change = ChangeEventFactory(
        component="payments-prod", resolved_component=None, pipeline__team=None
    )

    apply_config({"components": [{"name": "payments-service", "aliases": ["payments-prod"]}]})

    def resolved() -> bool:
        component = ChangeEvent.objects.get(pk=change.pk).resolved_component
        return component is not None and component.name == "payments-service"

    assert wait_for(resolved), "the worker never resolved the change"
