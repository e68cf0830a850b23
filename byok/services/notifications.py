"""Emails to key owners, rendered from templates/byok/email/. They name keys by hint, never by a secret."""

import logging
import smtplib

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string

from accounts.models import User
from audit.models import AuditAction, AuditEvent
from audit.services.sinks import AuditShippingFailed

from ..gateway.serving import serving_now, serving_sentence
from ..models import ProviderKey
from ..providers.outcomes import Category

logger = logging.getLogger(__name__)


def owner_email(*, owner: User, template: str, context: dict) -> None:
    """Render `<template>_subject.txt` and `<template>_body.txt` and send them to the owner.

    Raises the mail backend's error, so a caller that keeps a "sent" record can roll it back.
    """
    context = {**context, "owner": owner}
    subject = " ".join(render_to_string(f"byok/email/{template}_subject.txt", context).split())
    body = render_to_string(f"byok/email/{template}_body.txt", context)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [owner.email])


# The audit events an owner is emailed about (the owner-email audit sink), and the template for each.
_EVENT_TEMPLATES = {
    AuditAction.FALLBACK_ACTIVATED: "key_failing",
    AuditAction.BYOK_RECOVERED: "key_recovered",
    AuditAction.SESSION_REFRESH_FAILED: "session_refresh_failed",
    AuditAction.KEY_EXPIRED: "key_expired",
    AuditAction.USAGE_LIMIT_THRESHOLD: "limit_threshold",
}


def owner_event_email(*, event: AuditEvent) -> None:
    """Email the key's owner about one audit event (called once per event by the owner-email sink).

    Raises the mail backend's error, so the delivery is retried rather than recorded as sent.
    """
    if event.action == AuditAction.USAGE_LIMIT_THRESHOLD:
        _limit_threshold_email(event)
        return
    key = ProviderKey.objects.select_related("owner").filter(pk=event.target_key_id).first()
    if key is None or not key.owner.email:
        logger.warning("Audit event %s: no key or no owner email address; nothing to send.", event.pk)
        return
    if event.action == AuditAction.FALLBACK_ACTIVATED and _is_expiry(event, key):
        return  # one incident, one email: the KEY_EXPIRED email tells the owner (and byok does not retry an expired key)
    owner_email(owner=key.owner, template=_EVENT_TEMPLATES[event.action], context={
        **event.details, "key": key, "cooldown_minutes": max(1, settings.BYOK_BREAKER_COOLDOWN_SECONDS // 60),
        **key_serving_context(key)})


def _limit_threshold_email(event: AuditEvent) -> None:
    details = event.details
    if event.owner is None or not event.owner.email:
        logger.warning("Audit event %s: no owner email address; nothing to send.", event.pk)
        return
    money = details["metric"] in ("money_per_day", "money_per_month")
    limit_words = (f"budget of ${details['value'] / 100:,.2f} per {details['metric'].rsplit('_', 1)[1]}" if money
                   else f"limit of {details['value']} {details['metric'].replace('_', ' ')}")
    period = details["period"]
    period_words = (f"the day {period[1:5]}-{period[5:7]}-{period[7:]} (UTC)" if period.startswith("d") else
                    f"the month {period[1:5]}-{period[5:]} (UTC)" if period.startswith("m") else "this minute")
    owner_email(owner=event.owner, template="limit_threshold", context={
        **details, "limit_words": limit_words, "period_words": period_words,
        "subject_words": {"owner": "all your workspaces", "workspace": "one workspace", "member": "one member",
                          "api_key": "one API key"}[details["subject"]]})


def _is_expiry(event: AuditEvent, key: ProviderKey) -> bool:
    """A call refused because credentials that cannot be refreshed have expired: the expiry's own event (recorded
    by routing just before) is the one the owner hears about."""
    return event.details.get("category") == Category.EXPIRED and not key.refreshes_session


def key_serving_context(key: ProviderKey) -> dict:
    """What serves the workspaces this key serves, now: `serving_next` (a sentence) and `serving_platform` (every
    one of them on platform credentials), for the emails' "until then, calls …"."""
    workspaces = None if key.scope == ProviderKey.Scope.ALL_WORKSPACES else list(key.workspaces.all())
    servings = serving_now(owner=key.owner, families=[key.family], workspaces=workspaces)
    return {"serving_next": serving_sentence(servings),
            "serving_platform": bool(servings) and all(s.source == "platform" for s in servings)}


# Events an owner must hear about at once. The owner-email audit sink ships only these: once per event, durably,
# like the other sinks (a mail outage delays the email; the sweep sends it later). Registered in ByokConfig.ready().
OWNER_EMAIL_ACTIONS = tuple(_EVENT_TEMPLATES)


def ship_to_owner_email(*, event: AuditEvent, line: str) -> None:
    """The owner-email audit sink: a mail server that does not take the email fails the delivery (retried)."""
    try:
        owner_event_email(event=event)
    except (smtplib.SMTPException, OSError) as exc:
        raise AuditShippingFailed(f"mail server unavailable ({type(exc).__name__})") from exc


def credential_reminder(*, owner: User, notices: list) -> None:
    """The daily reminder: keys expired, expiring soon, or due for rotation."""
    owner_email(owner=owner, template="credential_reminder", context={
        "expired": [n for n in notices if n.kind == "expired"],
        "expiring": [n for n in notices if n.kind == "expiring"],
        "rotation_due": [n for n in notices if n.kind == "rotation_due"],
        "rotation_days": settings.BYOK_ROTATION_REMINDER_DAYS,
    })

