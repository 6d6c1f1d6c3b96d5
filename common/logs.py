"""Structured logs (structlog): one JSON object per line in production, readable lines in
development. Every line logged while handling a request, and in the Celery tasks that request
enqueued, carries its request id; integration keys never reach a log line.

Our own code logs through structlog; Django's, Celery's and other libraries' stdlib records
go through the same processors (`foreign_pre_chain`), so they look the same.
"""

import re
from typing import Any

import structlog
from celery import Task
from structlog.processors import format_exc_info
from structlog.typing import EventDict, Processor, WrappedLogger

REQUEST_ID_HEADER = "X-Request-ID"
# Integration keys travel in some URLs (/api/v1/pipelines/<key>/events); Django logs the path
# of every 4xx and 5xx.
KEY_IN_PATH = re.compile(r"(/(?:pipelines|alert-sources)/)(?!<)[^/\s\"']+")


def redact_keys(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    for name, value in event.items():
        if isinstance(value, str) and ("/pipelines/" in value or "/alert-sources/" in value):
            event[name] = KEY_IN_PATH.sub(r"\1[redacted]", value)
    return event


SHARED_PROCESSORS: list[Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def formatter(*, json: bool) -> structlog.stdlib.ProcessorFormatter:
    """The formatter of the console handler (settings.LOGGING)."""
    # Keys are redacted last, from formatted tracebacks too.
    if json:
        tail = [format_exc_info, redact_keys, structlog.processors.JSONRenderer()]
    else:  # the console renderer prints tracebacks itself
        tail = [redact_keys, structlog.dev.ConsoleRenderer(colors=False)]
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=SHARED_PROCESSORS,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *tail],
    )


def configure_structlog() -> None:
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *SHARED_PROCESSORS,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


# --- Carrying the request id into Celery tasks (connected in common/apps.py) ------------------


def add_request_id_header(headers: dict[str, Any] | None = None, **_: Any) -> None:
    """before_task_publish: the message carries the id of the request that sent it."""
    request_id = structlog.contextvars.get_contextvars().get("request_id")
    if request_id and headers is not None:
        headers.setdefault("request_id", request_id)


def bind_task_context(task: Task | None = None, task_id: str = "", **_: Any) -> None:
    """task_prerun: the task's log lines name it and the request that enqueued it."""
    if task is None or task.request.is_eager:  # eager: still inside the request's context
        return
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(task=task.name, task_id=task_id)
    request_id = getattr(task.request, "request_id", None)
    if request_id:
        structlog.contextvars.bind_contextvars(request_id=request_id)


def clear_task_context(task: Task | None = None, **_: Any) -> None:
    if task is not None and not task.request.is_eager:
        structlog.contextvars.clear_contextvars()
