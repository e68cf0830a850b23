"""A task published during a request runs with the request's id: its log lines carry it (JSON logs too)."""

import io
import logging

import pytest

from byok_project.celery import app
from core.logging import JsonFormatter, RequestContextFilter
from core.request_context import RequestContext, current_request_context, enter_request_context, leave_request_context

logger = logging.getLogger("byok.tests.task")


@app.task(name="tests.report_request_id")
def report_request_id() -> str:
    logger.warning("task ran")
    context = current_request_context()
    return context.request_id if context else ""


@pytest.mark.worker
def test_a_task_published_in_a_request_logs_with_its_request_id(celery_worker):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestContextFilter())
    logger.addHandler(handler)
    try:
        token = enter_request_context(RequestContext(request_id="req-0123456789abcdef"))
        try:
            result = report_request_id.apply_async()
        finally:
            leave_request_context(token)
        assert result.get(timeout=20) == "req-0123456789abcdef"
        # Published outside any request: no id, and nothing left over from the task before.
        assert report_request_id.apply_async().get(timeout=20) == ""
    finally:
        logger.removeHandler(handler)
    lines = [line for line in stream.getvalue().splitlines() if '"task ran"' in line]
    assert '"request_id": "req-0123456789abcdef"' in lines[0]
    assert '"request_id": "-"' in lines[1]


def test_the_request_id_reaches_the_message_headers():
    from byok_project.celery import REQUEST_ID_HEADER, add_request_id_header

    headers = {}
    token = enter_request_context(RequestContext(request_id="req-abcdef0123456789"))
    try:
        add_request_id_header(headers=headers)
    finally:
        leave_request_context(token)
    assert headers == {REQUEST_ID_HEADER: "req-abcdef0123456789"}
