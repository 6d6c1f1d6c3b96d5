from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "incidents"

    def ready(self) -> None:
        # Web processes must know the task names that lower apps enqueue by name.
        from incidents import tasks  # noqa: F401
