"""The audit trail: webhook shipping and the sweep."""

import os

from django.core.exceptions import ImproperlyConfigured

from .env import env_int

# --- Audit trail: shipping, webhook, sweep schedule -----------------------------------------------------------
# Every audit event is shipped as one JSON line to the `byok.audit` logger and, when set, POSTed to this URL,
# signed with HMAC-SHA256 of the body under BYOK_AUDIT_WEBHOOK_SECRET (header X-BYOK-Signature: sha256=<hex>).
BYOK_AUDIT_WEBHOOK_URL = os.environ.get("BYOK_AUDIT_WEBHOOK_URL", "").strip()
BYOK_AUDIT_WEBHOOK_SECRET = os.environ.get("BYOK_AUDIT_WEBHOOK_SECRET", "").strip()
if BYOK_AUDIT_WEBHOOK_URL and not BYOK_AUDIT_WEBHOOK_URL.startswith(("https://", "http://")):
    raise ImproperlyConfigured("BYOK_AUDIT_WEBHOOK_URL must be an http(s) URL.")
if BYOK_AUDIT_WEBHOOK_URL and not BYOK_AUDIT_WEBHOOK_SECRET:
    raise ImproperlyConfigured("BYOK_AUDIT_WEBHOOK_SECRET must be set when BYOK_AUDIT_WEBHOOK_URL is.")
# The sweep ships what lost tasks or a broker outage left behind, once older than the grace period (younger events
# are the business of the task queued at their commit). django-celery-beat's DatabaseScheduler copies
# this entry into the database at beat start, where staff see and change it. Stale sweeps expire, not pile up.
BYOK_AUDIT_SWEEP_GRACE_SECONDS = env_int("BYOK_AUDIT_SWEEP_GRACE_SECONDS", 10)
