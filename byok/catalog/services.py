"""Writes to the model catalog: every one bumps the "catalog" generation (so every process drops its snapshot) and
is audited; and the lifecycle: notices to owners whose traffic used a deprecated or retiring model, and retirement,
which moves the model's tiers to its replacement by itself."""

import logging
from datetime import date

from django.db import IntegrityError, transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone

from accounts.models import User
from audit.models import AuditAction
from audit.services.record import audit_record
from core.invalidation import generation_bump

from ..models import Model, ModelNotice
from ..providers.registry import PROVIDERS
from .selectors import TOPIC, lifecycle_notices
from .sync import TIER_FIELDS, catalog_sync

logger = logging.getLogger(__name__)
AUDITED_FIELDS = ("family", "model_id", "display_name", "kind", "serves_standard", "serves_complex",
                  "serves_embedding", "status", "deprecated_on", "retires_on", "replacement_id",
                  "input_price_per_mtok", "output_price_per_mtok", "cache_write_5m_price_per_mtok",
                  "cache_write_1h_price_per_mtok", "cache_read_price_per_mtok", "long_context_prices",
                  "profile_prices", "context_window", "max_output_tokens", "aliases", "profile_ids", "staff_overrides")


@receiver(post_save, sender=Model)
@receiver(post_delete, sender=Model)
def _catalog_written(**kwargs) -> None:
    """Any write, from any path (admin, sync, retirement, a shell): every process drops its catalog snapshot."""
    generation_bump(TOPIC)


def model_snapshot(model: Model) -> dict:
    return {name: str(getattr(model, name)) if getattr(model, name) is not None else None for name in AUDITED_FIELDS}


def catalog_model_saved(*, model: Model, before: dict | None, actor: User | None, system_actor: str = "") -> None:
    """Audit one change of the catalog (CATALOG_CHANGED): what changed, from and to."""
    after = model_snapshot(model)
    changes = {name: {"from": (before or {}).get(name), "to": value} for name, value in after.items()
               if before is None or before.get(name) != value}
    audit_record(action=AuditAction.CATALOG_CHANGED, actor=actor, system_actor=system_actor,
                 details={"model": f"{model.family}/{model.model_id}", "created": before is None,
                          "changes": changes})


def catalog_model_deleted(*, model: Model, actor: User | None) -> None:
    audit_record(action=AuditAction.CATALOG_CHANGED, actor=actor,
                 details={"model": f"{model.family}/{model.model_id}", "deleted": True})


def catalog_sync_run(*, today: date | None = None) -> dict:
    """The installed packages into the table (manage.py sync_model_catalog, daily on the beat), audited when anything
    changed; then the lifecycle, so a model whose day has come leaves its tiers for its replacement at once and the
    owners concerned are told. Returns what changed."""
    today = today or timezone.localdate()
    with transaction.atomic():
        report = catalog_sync(Model, today=today)
        if report.created or report.updated:
            audit_record(action=AuditAction.CATALOG_CHANGED, actor=None, system_actor="sync_model_catalog",
                         details={"created": report.created, "updated": report.updated})
    return {**report.as_dict(), **catalog_lifecycle_run(today=today)}


# --- Lifecycle -------------------------------------------------------------------------------------------------


def models_retire_due(*, today: date) -> list[Model]:
    """Models whose retirement day has come: retired, their tiers moved to the replacement, audited."""
    retired = []
    for model in Model.objects.filter(retires_on__lte=today).exclude(status=Model.Status.RETIRED).order_by("id"):
        with transaction.atomic():
            model = Model.objects.select_for_update().get(pk=model.pk)
            if model.status == Model.Status.RETIRED:
                continue
            tiers = model.tiers
            replacement = _current_replacement(model)
            for tier in tiers:
                setattr(model, TIER_FIELDS[tier], False)
            model.status = Model.Status.RETIRED
            model.save(update_fields=["status", *[TIER_FIELDS[t] for t in tiers], "updated_at"])
            if replacement is not None and tiers:
                for tier in tiers:
                    setattr(replacement, TIER_FIELDS[tier], True)
                replacement.save(update_fields=[TIER_FIELDS[t] for t in tiers] + ["updated_at"])
            audit_record(action=AuditAction.MODEL_RETIRED, actor=None, system_actor="model_lifecycle", details={
                "model": f"{model.family}/{model.model_id}", "tiers": tiers,
                "replacement": f"{replacement.family}/{replacement.model_id}" if replacement else None})
            if tiers and replacement is None:
                logger.warning("%s/%s retired with no replacement: its tiers fall back to the providers' defaults.",
                               model.family, model.model_id)
        retired.append(model)
    return retired


def _current_replacement(model: Model) -> Model | None:
    """The model's replacement, or the replacement's own when that one is retired too (a chain of successors)."""
    seen = {model.pk}
    replacement = model.replacement
    while replacement is not None and replacement.status == Model.Status.RETIRED and replacement.pk not in seen:
        seen.add(replacement.pk)
        replacement = replacement.replacement
    return replacement if replacement is not None and replacement.status != Model.Status.RETIRED else None


def model_notices_send(*, today: date | None = None) -> int:
    """E-mail each owner whose traffic used a model with a notice (selectors.lifecycle_notices, the rule the console
    shows too), once per model per owner."""
    from ..services.notifications import owner_email

    today = today or timezone.localdate()
    sent = 0
    for notice in lifecycle_notices(today=today):
        model = notice.model
        for owner in User.objects.filter(pk__in=notice.owner_ids).order_by("pk"):
            try:
                with transaction.atomic():
                    ModelNotice.objects.create(owner=owner, model_id=model.pk)  # the claim: a re-run sends nothing
                    owner_email(owner=owner, template="model_notice", context={
                        "owner": owner, "model": model, "replacement": notice.replacement,
                        "retires_on": model.retires_on, "retired": model.retired,
                        "providers": ", ".join(p.name for p in PROVIDERS.values() if p.family == model.family)})
            except IntegrityError:
                continue
            sent += 1
    return sent


def catalog_lifecycle_run(*, today: date | None = None) -> dict:
    """The daily task: retire what is due (tiers move), then tell the owners concerned."""
    today = today or timezone.localdate()
    retired = models_retire_due(today=today)
    return {"retired": [f"{m.family}/{m.model_id}" for m in retired], "notices": model_notices_send(today=today)}
