"""One error format for the whole API: {"error": {"code": ..., "message": ..., "fields": {...}}}."""

import logging
import sys

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .errors import DATABASE_UNAVAILABLE, DomainError
from .parsers import RequestTooLarge

logger = logging.getLogger("byok.api")

_CODES = {
    exceptions.ValidationError: "invalid",
    exceptions.ParseError: "malformed_request",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
    RequestTooLarge: "request_too_large",
}


def error_body(code: str, message: str, fields: dict | None = None, **extra) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields or {}, **extra}}


def _flatten(detail) -> dict[str, list[str]]:
    """DRF's nested error detail as {"field.sub": ["reason", ...]}."""
    flat: dict[str, list[str]] = {}

    def walk(prefix: str, value):
        if isinstance(value, dict):
            for key, sub in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), sub)
        elif isinstance(value, list) and value and not all(isinstance(item, str) for item in value):
            for index, sub in enumerate(value):
                walk(f"{prefix}.{index}" if prefix else str(index), sub)
        else:
            items = value if isinstance(value, list) else [value]
            flat.setdefault(prefix or "non_field_errors", []).extend(str(item) for item in items)

    walk("", detail)
    return flat


def _too_large_body() -> dict:
    return error_body("request_too_large",
                      f"The request body is larger than {settings.BYOK_API_MAX_BODY_SIZE} bytes.")


def _unavailable_body() -> dict:
    return error_body("service_unavailable", "The service is temporarily unavailable; try again shortly.")


def exception_handler(exc, context):
    if isinstance(exc, RequestDataTooBig):  # Django's own limit, hit while reading form fields
        return Response(_too_large_body(), status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    if isinstance(exc, DATABASE_UNAVAILABLE):
        logger.error("database unavailable during an API call", exc_info=exc)
        response = Response(_unavailable_body(), status=status.HTTP_503_SERVICE_UNAVAILABLE)
        response["Retry-After"] = str(settings.BYOK_RETRY_AFTER_SECONDS)
        return response
    if isinstance(exc, DomainError):
        response = Response(error_body(exc.code, exc.message, exc.fields, **exc.details), status=exc.status)
        if "retry_after" in exc.details:
            response["Retry-After"] = str(exc.details["retry_after"])
        return response
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    code = next((c for cls, c in _CODES.items() if isinstance(exc, cls)), "error")
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        response.data = error_body(code, "Some fields are invalid; see fields for each reason.", fields)
        response.status_code = status.HTTP_400_BAD_REQUEST
    else:
        response.data = error_body(code, str(exc.detail) if not isinstance(exc.detail, (dict, list)) else code)
    return response


# --- Errors outside DRF views: unmatched routes, failures in middleware, uncaught exceptions -------------------
# Django calls these (settings.DEBUG off) for every URL; under /api/ they answer in the error shape above,
# elsewhere with Django's HTML pages.

def is_api_request(request) -> bool:
    return request.path_info.startswith("/api/")


def _json(body: dict, status_code: int, **headers) -> JsonResponse:
    response = JsonResponse(body, status=status_code)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def handler400(request, exception=None):
    if not is_api_request(request):
        return defaults.bad_request(request, exception)
    if isinstance(exception, RequestDataTooBig):
        return _json(_too_large_body(), 413)
    return _json(error_body("malformed_request", "The request could not be understood."), 400)


def handler403(request, exception=None):
    if not is_api_request(request):
        return defaults.permission_denied(request, exception)
    return _json(error_body("permission_denied", "You do not have permission to perform this action."), 403)


def handler404(request, exception=None):
    if not is_api_request(request):
        return defaults.page_not_found(request, exception)
    return _json(error_body("not_found", "Not found."), 404)


def handler500(request):
    if not is_api_request(request):
        return defaults.server_error(request)
    if isinstance(sys.exc_info()[1], DATABASE_UNAVAILABLE):  # Django calls this inside its `except` block
        return _json(_unavailable_body(), 503, Retry_After=str(settings.BYOK_RETRY_AFTER_SECONDS))
    return _json(error_body("server_error", "Something went wrong on our side; it has been logged."), 500)


_STATUS_CODES = {400: "malformed_request", 401: "not_authenticated", 403: "permission_denied", 404: "not_found",
                 405: "method_not_allowed", 406: "not_acceptable", 413: "request_too_large",
                 415: "unsupported_media_type", 429: "throttled", 503: "service_unavailable"}


class ApiErrorMiddleware:
    """Under /api/, an error response that is not JSON (Django's DEBUG pages, the browsable API's HTML) is
    replaced by the documented shape, keeping its status and headers such as Retry-After and Allow.

    Exceptions a view lets escape are mapped here too (the database being down is a 503 with Retry-After),
    so the answer is the same whether DEBUG is on or off.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code < 400 or not is_api_request(request):
            return response
        if response.get("Content-Type", "").startswith("application/json"):
            return response
        data = getattr(response, "data", None)
        if isinstance(data, dict) and "error" in data:
            body = data
        else:
            code = _STATUS_CODES.get(response.status_code,
                                     "server_error" if response.status_code >= 500 else "error")
            body = error_body(code, response.reason_phrase or code)
        replacement = JsonResponse(body, status=response.status_code)
        for header in ("Retry-After", "Allow", "WWW-Authenticate", "X-Request-ID", "Vary"):
            if header in response:
                replacement[header] = response[header]
        return replacement

    def process_exception(self, request, exception):
        if not is_api_request(request):
            return None
        if isinstance(exception, DATABASE_UNAVAILABLE):
            logger.error("database unavailable", exc_info=exception)
            return _json(_unavailable_body(), 503, Retry_After=str(settings.BYOK_RETRY_AFTER_SECONDS))
        if isinstance(exception, RequestDataTooBig):
            return _json(_too_large_body(), 413)
        return None
