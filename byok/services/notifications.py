"""Emails to key owners, rendered from templates/byok/email/. They name keys by hint, never by a secret."""

import logging
import smtplib

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string

from accounts.models import User

from ..models import ProviderKey
from ..providers.outcomes import Failure

logger = logging.getLogger(__name__)


def owner_email(*, owner: User, template: str, context: dict) -> None:
    """Render `<template>_subject.txt` and `<template>_body.txt` and send them to the owner.

    Raises the mail backend's error, so a caller that keeps a "sent" record can roll it back.
    """
    context = {**context, "owner": owner}
    subject = " ".join(render_to_string(f"byok/email/{template}_subject.txt", context).split())
    body = render_to_string(f"byok/email/{template}_body.txt", context)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [owner.email])


def _send_after_commit(*, owner: User, template: str, context: dict) -> None:
    # Runs after the change committed: a mail outage must not undo it, so it is logged instead.
    if not owner.email:
        logger.warning("Owner %s has no email address; %s not sent.", owner.pk, template)
        return
    try:
        owner_email(owner=owner, template=template, context=context)
    except (smtplib.SMTPException, OSError) as exc:
        logger.warning("Could not email owner %s (%s): %s", owner.pk, template, type(exc).__name__)


def session_refresh_failed(*, key: ProviderKey, failure: Failure) -> None:
    """AWS rejected the key's credentials when byok asked STS for a session: the key is failing."""
    _send_after_commit(owner=key.owner, template="session_refresh_failed",
                       context={"key": key, "category": failure.category, "hint": failure.hint})


def key_expired(*, key: ProviderKey) -> None:
    """Temporary credentials or a Bedrock API key expired: the owner must enter new ones."""
    _send_after_commit(owner=key.owner, template="key_expired", context={"key": key})


def credential_reminder(*, owner: User, notices: list) -> None:
    """The daily reminder: keys expired, expiring soon, or due for rotation."""
    owner_email(owner=owner, template="credential_reminder", context={
        "expired": [n for n in notices if n.kind == "expired"],
        "expiring": [n for n in notices if n.kind == "expiring"],
        "rotation_due": [n for n in notices if n.kind == "rotation_due"],
        "rotation_days": settings.BYOK_ROTATION_REMINDER_DAYS,
    })


def key_failing(*, key_id: int, category: str, hint: str) -> None:
    """Calls on the key failed in a way that will repeat: the circuit breaker opened. Once per incident."""
    key = ProviderKey.objects.select_related("owner").filter(pk=key_id).first()
    if key is not None:
        _send_after_commit(owner=key.owner, template="key_failing", context={
            "key": key, "category": category, "hint": hint,
            "cooldown_minutes": max(1, settings.BYOK_BREAKER_COOLDOWN_SECONDS // 60)})


def key_recovered(*, key_id: int) -> None:
    """The probe call worked: traffic is back on the owner's key."""
    key = ProviderKey.objects.select_related("owner").filter(pk=key_id).first()
    if key is not None:
        _send_after_commit(owner=key.owner, template="key_recovered", context={"key": key})
