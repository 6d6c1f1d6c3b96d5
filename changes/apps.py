from django.apps import AppConfig


class ChangesConfig(AppConfig):
    name = "changes"

    def ready(self) -> None:
        # Registers the task names that lower apps enqueue by name.
        from changes import tasks  # noqa: F401
        from changes.metrics import UncorrelatedChangesCollector
        from common.metrics import SCRAPE_TIME

        SCRAPE_TIME.register(UncorrelatedChangesCollector())
