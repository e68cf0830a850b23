"""Logging (text or JSON lines, request ids, redaction on every handler), metrics and traces."""

import os

from django.core.exceptions import ImproperlyConfigured

from .env import env_bool

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

# --- Traces (OpenTelemetry, core/tracing.py) -----------------------------------------------------------------
# Off by default. On with BYOK_OTEL_ENABLED=true, or when a collector is named the standard way
# (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT); OTEL_SDK_DISABLED=true keeps them off.
BYOK_OTEL_ENABLED = not env_bool("OTEL_SDK_DISABLED", False) and env_bool(
    "BYOK_OTEL_ENABLED", bool(os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
                              or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")))
