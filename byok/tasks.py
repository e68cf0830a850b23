"""Celery tasks: thin, they take ids (never secrets or content) and call services."""

from celery import shared_task

from .services.expiry import credential_expiry_sweep, credential_reminders_send
from .services.sessions import (
    REFRESH_SESSION_TASK,
    SessionRefreshRetryable,
    session_refresh,
    session_refresh_fan_out,
)

# --- Session tokens and credential expiry ------------------------------------------------------------------


@shared_task(soft_time_limit=240, time_limit=300, ignore_result=True)
def refresh_due_sessions() -> dict:
    """Every 5 minutes (CELERY_BEAT_SCHEDULE): one refresh_session task per key whose session is due."""
    return session_refresh_fan_out().as_dict()


@shared_task(
    name=REFRESH_SESSION_TASK, autoretry_for=(SessionRefreshRetryable,), retry_backoff=5, retry_backoff_max=300, retry_jitter=True,
    max_retries=5, soft_time_limit=60, time_limit=90, ignore_result=True,
)
def refresh_session(key_id: int) -> str:
    """Refresh one key's STS session if still due (throttling and network errors retry with backoff)."""
    return session_refresh(key_id=key_id).status


@shared_task(soft_time_limit=240, time_limit=300, ignore_result=True)
def expire_credentials() -> list[int]:
    """Every 5 minutes: temporary credentials and Bedrock API keys past their expiry are recorded as expired."""
    return credential_expiry_sweep()


@shared_task(soft_time_limit=540, time_limit=600, ignore_result=True)
def notify_expiring_credentials() -> int:
    """Daily: one reminder per owner about expired, expiring and old keys (never twice the same day)."""
    return credential_reminders_send()


# --- The model catalog -------------------------------------------------------------------------------------


@shared_task(soft_time_limit=540, time_limit=600, ignore_result=True)
def sync_model_catalog() -> dict:
    """Daily: the catalog from the installed packages (staff's overrides kept), then the lifecycle."""
    from .catalog.services import catalog_sync_run

    return catalog_sync_run()


@shared_task(soft_time_limit=540, time_limit=600, ignore_result=True)
def model_lifecycle() -> dict:
    """Daily: retire models whose day has come (their tiers move to the replacement) and tell the owners whose
    traffic used a deprecated or retiring model (once per model per owner)."""
    from .catalog.services import catalog_lifecycle_run

    return catalog_lifecycle_run()
