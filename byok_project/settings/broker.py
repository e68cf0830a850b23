"""Celery: broker, results, serialisation, limits and the beat schedule."""

import os
from datetime import timedelta

from celery.schedules import crontab

from .base import TIME_ZONE
from .env import VAR_DIR, env_int

# --- Celery -----------------------------------------------------------------------------------------------
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or "filesystem://"
if CELERY_BROKER_URL == "filesystem://":
    # kombu's filesystem transport needs no server and works across processes on one machine.
    # Its folders are created at start-up (core.apps), not here.
    _broker_dir = VAR_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
    _results_dir = VAR_DIR / "celery-results"
    CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND") or f"file://{_results_dir}"
else:
    CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND") or CELERY_BROKER_URL
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_TIME_LIMIT = 120
CELERY_TASK_SOFT_TIME_LIMIT = 90
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_RESULT_EXPIRES = timedelta(days=1)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = TIME_ZONE
# Publishing must fail fast when Redis is down (the audit hook then logs and moves on): bound the TCP connect,
# which otherwise waits on the OS when the host does not answer. Workers reconnect on their own schedule.
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 2}

# The model lifecycle runs daily at 07:30, or every BYOK_MODEL_LIFECYCLE_INTERVAL seconds when that is set (e.g. 3600:
# a model is retired within the hour its day begins rather than at 07:30).
BYOK_MODEL_LIFECYCLE_INTERVAL = env_int("BYOK_MODEL_LIFECYCLE_INTERVAL", 0)

# Periodic tasks. django-celery-beat's DatabaseScheduler copies these into the database at beat start, where staff
# see and change them; stale runs expire rather than pile up.
CELERY_BEAT_SCHEDULE = {
    "byok-audit-sweep": {"task": "audit.tasks.audit_sweep", "schedule": 60.0, "options": {"expires": 55}},
    # Session refresh and credential expiry (settings in the block below).
    "byok-refresh-due-sessions": {"task": "byok.tasks.refresh_due_sessions", "schedule": 300.0,
                                  "options": {"expires": 290}},
    "byok-expire-credentials": {"task": "byok.tasks.expire_credentials", "schedule": 300.0,
                                "options": {"expires": 290}},
    "byok-notify-expiring-credentials": {"task": "byok.tasks.notify_expiring_credentials",
                                         "schedule": crontab(hour=8, minute=0), "options": {"expires": 3600}},
    "byok-sync-model-catalog": {"task": "byok.tasks.sync_model_catalog", "schedule": crontab(hour=7, minute=15),
                                "options": {"expires": 3600}},
    "byok-model-lifecycle": {"task": "byok.tasks.model_lifecycle",
                             "schedule": float(BYOK_MODEL_LIFECYCLE_INTERVAL) if BYOK_MODEL_LIFECYCLE_INTERVAL
                             else crontab(hour=7, minute=30),
                             "options": {"expires": min(BYOK_MODEL_LIFECYCLE_INTERVAL or 3600, 3600)}},
}
