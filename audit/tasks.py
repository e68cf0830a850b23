"""Celery tasks: thin, they take ids (never content) and call services."""

from celery import shared_task

from .services.sinks import AuditShippingFailed, audit_event_chain_and_ship, audit_pending_sweep


@shared_task(
    autoretry_for=(AuditShippingFailed,), retry_backoff=5, retry_backoff_max=600, retry_jitter=True, max_retries=8,
    soft_time_limit=60, time_limit=90, ignore_result=True,
)
def audit_event_process(event_id: int) -> None:
    """Chain and ship one committed audit event (and whatever of its owner's chain is still pending)."""
    audit_event_chain_and_ship(event_id=event_id)


@shared_task(soft_time_limit=240, time_limit=300, ignore_result=True)
def audit_sweep() -> dict[str, int]:
    """Every minute (CELERY_BEAT_SCHEDULE): what lost tasks or a broker outage left unchained or unshipped."""
    return audit_pending_sweep()
