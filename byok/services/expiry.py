"""Credentials that cannot be refreshed expire (temporary ASIA keys, Bedrock API keys), and what owners must act on.

Once past `expires_at` (given by the owner, or learned from an ExpiredToken answer) a key is expired: audited once
and the owner is told. A daily reminder lists keys expired, expiring soon, or due for rotation.
"""

import logging
import smtplib
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from itertools import groupby

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from accounts.models import User
from audit.models import AuditAction, AuditEvent
from audit.services.record import audit_record
from core.invalidation import generation_bump

from ..models import ProviderKey
from ..models.keys import CredentialReminder
from . import notifications
from .sessions import lock_key

logger = logging.getLogger(__name__)


def _expiry_recorded() -> Exists:
    return Exists(AuditEvent.objects.filter(action=AuditAction.KEY_EXPIRED, target_key_id=OuterRef("pk"),
                                            created_at__gte=OuterRef("expires_at")))


def credential_expiry_sweep(*, now: datetime | None = None) -> list[int]:
    """Record each temporary key or Bedrock API key past its `expires_at` as expired, once; returns their ids.

    Their status is `expired` already (derived from `expires_at`); this audits it and tells the owner.
    """
    now = now or timezone.now()
    key_ids = list(
        ProviderKey.objects.filter(expires_at__lte=now).exclude(pk__in=ProviderKey.objects.session_refreshing())
        .filter(~_expiry_recorded()).order_by("id").values_list("id", flat=True)
    )
    return [key_id for key_id in key_ids if provider_key_mark_expired(key_id=key_id)]


def provider_key_mark_expired(*, key_id: int, provider_code: str = "") -> bool:
    """The key's credentials have expired: by date, or because the provider answered ExpiredToken (`provider_code`),
    in which case the expiry is learned as now. Audited and emailed once per expiry; False when already recorded
    or when the key has sessions (they are refreshed instead)."""
    with transaction.atomic():
        key = lock_key(key_id, wait=True)
        if key is None or key.refreshes_session:
            return False
        now = timezone.now()
        if key.expires_at is None or key.expires_at > now:
            key.expires_at = now
            key.save(update_fields=["expires_at", "updated_at"])
        if ProviderKey.objects.filter(pk=key.pk).filter(_expiry_recorded()).exists():
            return False
        generation_bump("gateway")  # cached resolutions in every data-plane process drop
        audit_record(action=AuditAction.KEY_EXPIRED, actor=None, system_actor="credential_expiry",
                     owner=key.owner, target=key,
                     details={"expires_at": key.expires_at.isoformat(),
                              "learned_from": f"provider answer {provider_code}" if provider_code else "expiry date"})
    return True


# --- What owners must act on ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CredentialNotice:
    """One key an owner must act on, by hint (never a secret)."""

    key_id: int
    owner_id: int
    owner_username: str
    provider: str
    name: str
    key_hint: str
    kind: str  # expired, expiring or rotation_due
    expires_at: datetime | None
    age_days: int

    EXPIRED = "expired"
    EXPIRING = "expiring"
    ROTATION_DUE = "rotation_due"

    def as_dict(self) -> dict:
        return {**asdict(self), "expires_at": self.expires_at.isoformat() if self.expires_at else None}


def credential_notices(*, now: datetime | None = None) -> list[CredentialNotice]:
    """Enabled keys that have expired or expire within BYOK_EXPIRY_REMINDER_DAYS (temporary credentials and
    Bedrock API keys: only they have an expiry), and long-lived keys older than BYOK_ROTATION_REMINDER_DAYS."""
    now = now or timezone.now()
    enabled = ProviderKey.objects.filter(enabled=True).select_related("owner")
    expiring = enabled.filter(expires_at__lte=now + timedelta(days=settings.BYOK_EXPIRY_REMINDER_DAYS))
    rotation_due = enabled.rotation_due(now=now)

    def notice(key: ProviderKey, kind: str) -> CredentialNotice:
        return CredentialNotice(key_id=key.pk, owner_id=key.owner_id, owner_username=key.owner.get_username(),
                                provider=key.provider, name=key.name, key_hint=key.key_hint, kind=kind,
                                expires_at=key.expires_at, age_days=(now - (key.rotated_at or key.created_at)).days)

    notices = [notice(k, CredentialNotice.EXPIRED if k.expires_at <= now else CredentialNotice.EXPIRING)
               for k in expiring]
    notices += [notice(k, CredentialNotice.ROTATION_DUE) for k in rotation_due]
    return sorted(notices, key=lambda n: (n.owner_id, n.kind, n.key_id))


def credential_reminders_send(*, now: datetime | None = None) -> int:
    """Email each owner with notices one reminder a day; returns how many were sent.

    The day's reminder row is inserted first, as a claim, and kept only if the email went out: a re-run the same
    day (or a concurrent one, which waits on the unique row) sends nothing, and a mail outage is retried next run.
    """
    now = now or timezone.now()
    today = timezone.localdate(now)
    notices = credential_notices(now=now)
    owners = User.objects.in_bulk({n.owner_id for n in notices})
    sent = 0
    for owner_id, owner_notices in groupby(notices, key=lambda n: n.owner_id):
        owner_notices = list(owner_notices)
        owner = owners[owner_id]
        if not owner.email:
            continue
        try:
            with transaction.atomic():
                CredentialReminder.objects.create(owner=owner, sent_on=today,
                                                  key_ids=sorted({n.key_id for n in owner_notices}))
                notifications.credential_reminder(owner=owner, notices=owner_notices)
        except IntegrityError:
            continue
        except (smtplib.SMTPException, OSError) as exc:
            logger.warning("Credential reminder to owner %s not sent (%s); the next run retries.", owner_id,
                           type(exc).__name__)
            continue
        sent += 1
    return sent
