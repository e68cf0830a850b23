import os

from celery import Celery, signals
from kombu.transport import TRANSPORT_ALIASES

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "byok_project.settings")
# `filesystem://` (the embedded broker) is kombu's transport with messages written whole before a worker sees them.
TRANSPORT_ALIASES["filesystem"] = "byok_project.celery_filesystem:Transport"

app = Celery("byok_project")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.setup_logging.connect
def use_django_logging(**kwargs):
    """Workers log through Django's LOGGING (same format, request ids, redaction) instead of Celery's own."""
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)


# --- Request ids across the broker ---------------------------------------------------------------------------
# A task published while a request is handled carries the request's id in its message headers; the worker makes it
# the current request context for the task's run, so the task's log lines (and audit events) carry the same id.
REQUEST_ID_HEADER = "byok_request_id"
_task_contexts: dict[str, object] = {}


@signals.before_task_publish.connect
def add_request_id_header(headers=None, **kwargs):
    from core.request_context import current_request_context

    context = current_request_context()
    if context is not None and headers is not None and REQUEST_ID_HEADER not in headers:
        headers[REQUEST_ID_HEADER] = context.request_id


@signals.task_prerun.connect
def enter_task_request_context(task_id=None, task=None, **kwargs):
    from core.request_context import _REQUEST_ID_SHAPE, RequestContext, enter_request_context

    request = getattr(task, "request", None)
    request_id = getattr(request, REQUEST_ID_HEADER, None) or (getattr(request, "headers", None) or {}).get(
        REQUEST_ID_HEADER)
    if isinstance(request_id, str) and _REQUEST_ID_SHAPE.match(request_id) and task_id:
        _task_contexts[task_id] = enter_request_context(RequestContext(request_id=request_id))


@signals.task_postrun.connect
def leave_task_request_context(task_id=None, **kwargs):
    from core.request_context import leave_request_context

    token = _task_contexts.pop(task_id, None)
    if token is not None:
        leave_request_context(token)
