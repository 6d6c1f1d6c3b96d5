from django.apps import AppConfig


class CommonConfig(AppConfig):
    name = "common"

    def ready(self) -> None:
        from celery.signals import before_task_publish, task_postrun, task_prerun

        from common import logs

        before_task_publish.connect(logs.add_request_id_header, weak=False)
        task_prerun.connect(logs.bind_task_context, weak=False)
        task_postrun.connect(logs.clear_task_context, weak=False)
