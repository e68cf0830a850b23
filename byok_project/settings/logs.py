"""Logging: text or JSON lines, request ids, redaction on every handler."""

import os

from django.core.exceptions import ImproperlyConfigured

# --- Logging ----------------------------------------------------------------------------------------------
DEFAULT_EXCEPTION_REPORTER_FILTER = "core.logging.AlwaysFilteringExceptionReporter"
LOG_FORMAT = os.environ.get("LOG_FORMAT", "text")
if LOG_FORMAT not in {"text", "json"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be text or json, not {LOG_FORMAT!r}")
LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_context": {"()": "core.logging.RequestContextFilter"},
        # Last line of defence: anything shaped like a credential is redacted before a handler writes it.
        "redact": {"()": "core.logging.RedactingFilter"},
    },
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "core.logging.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_context", "redact"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        # The SDKs' HTTP clients log every request at INFO: noise in our logs, not information.
        "httpx2": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
        "botocore": {"level": "WARNING"},
    },
}

# --- Metrics ----------------------------------------------------------------------------------------------
# /metrics (Prometheus) answers only with `Authorization: Bearer <this>`; unset, the endpoint is a 404.
# Under several worker processes also set PROMETHEUS_MULTIPROC_DIR (see core/metrics.py).
BYOK_METRICS_TOKEN = os.environ.get("BYOK_METRICS_TOKEN", "").strip()
