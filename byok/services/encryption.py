"""Encryption-key operations on stored secrets: re-encrypt everything under the primary key, and check readability.

Both walk every encrypted field of every model (`encrypted_models()`) by primary-key ranges, so memory stays flat
and an interrupted rotation resumes where it stopped: rows already under the primary key are skipped.
"""

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from django.db import connections, models, router, transaction
from django.db.models import Count
from django.db.models.functions import Substr

from audit.models import AuditAction
from audit.services.record import audit_record
from core.invalidation import generation_bump

from ..crypto import KEY_ID_LENGTH, DecryptionError, encrypted_models, keyring, stored_key_id

ROTATION_ACTOR = "rotate_encryption_key"
Progress = Callable[[int], None]


@dataclass
class Unreadable:
    """A stored value no configured key can decrypt (identified by its row, never by its content)."""

    model: str
    field: str
    pk: int
    key_id: str
    reason: str

    def as_dict(self) -> dict:
        return {"model": self.model, "field": self.field, "pk": self.pk, "key_id": self.key_id, "reason": self.reason}


@dataclass
class RotationReport:
    primary_key_id: str
    before: dict[str, int]
    after: dict[str, int]
    rewritten: int
    unreadable: list[Unreadable] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"primary_key_id": self.primary_key_id, "before": self.before, "after": self.after,
                "rewritten": self.rewritten, "unreadable": [u.as_dict() for u in self.unreadable]}


@dataclass
class EncryptionCheck:
    configured_key_ids: list[str]
    counts: dict[str, dict[str, int]]  # "app.Model.field" -> key id -> rows
    unreadable: list[Unreadable]

    @property
    def ok(self) -> bool:
        return not self.unreadable

    def as_dict(self) -> dict:
        return {"configured_key_ids": self.configured_key_ids, "counts": self.counts,
                "unreadable": [u.as_dict() for u in self.unreadable], "ok": self.ok}


def encrypted_row_count() -> int:
    """Rows a full pass visits (each row once, whatever its number of encrypted fields); sizes a progress bar."""
    return sum(model._base_manager.count() for model, _ in encrypted_models())


def encryption_key_counts() -> dict[str, dict[str, int]]:
    """Stored values per key id for every encrypted field, counted in the database (no decryption)."""
    counts = {}
    for model, names in encrypted_models():
        for name in names:
            rows = (model._base_manager.filter(**{f"{name}__isnull": False}).order_by()
                    .annotate(written_by=Substr(name, 1, KEY_ID_LENGTH)).values("written_by")
                    .annotate(rows=Count("pk")))
            counts[_label(model, name)] = {row["written_by"]: row["rows"] for row in rows}
    return counts


def encryption_key_rotate(*, batch_size: int = 1000, progress: Progress | None = None) -> RotationReport:
    """Re-encrypt every stored secret under the primary key, one transaction per batch; resumable.

    An update only lands if the row still holds the value that was read, so a secret changed meanwhile (which is
    already under the primary key) is never overwritten with the re-encrypted old one.
    """
    ring = keyring()
    before = _totals(encryption_key_counts())
    rewritten, unreadable = 0, []
    for model, names in encrypted_models():
        for batch in _batches(model, names, batch_size):
            updates: dict[str, list[tuple[str, object, str]]] = {name: [] for name in names}
            for pk, *values in batch:
                for name, stored in zip(names, values):
                    if stored is None or not ring.needs_rotation(stored):
                        continue
                    try:
                        updates[name].append((ring.rotate(stored), pk, stored))
                    except DecryptionError as exc:
                        unreadable.append(Unreadable(model._meta.label, name, pk, stored_key_id(stored), str(exc)))
            rewritten += _write(model, updates)
            if progress:
                progress(len(batch))
    report = RotationReport(primary_key_id=ring.primary_id, before=before,
                            after=_totals(encryption_key_counts()), rewritten=rewritten, unreadable=unreadable)
    generation_bump("gateway")  # cached resolutions in every data-plane process drop
    audit_record(action=AuditAction.ENCRYPTION_KEY_ROTATED, actor=None, system_actor=ROTATION_ACTOR,
                 details={"primary_key_id": report.primary_key_id, "before": report.before, "after": report.after,
                          "rewritten": report.rewritten, "unreadable": len(report.unreadable)})
    return report


def encryption_check(*, progress: Progress | None = None) -> EncryptionCheck:
    """Rows per key id for every encrypted field, and every value no configured key can decrypt."""
    ring = keyring()
    counts: dict[str, Counter] = {}
    unreadable = []
    for model, names in encrypted_models():
        for name in names:
            counts.setdefault(_label(model, name), Counter())
        for batch in _batches(model, names, 1000):
            for pk, *values in batch:
                for name, stored in zip(names, values):
                    if stored is None:
                        continue
                    counts[_label(model, name)][stored_key_id(stored)] += 1
                    try:
                        ring.decrypt(stored)
                    except DecryptionError as exc:
                        unreadable.append(Unreadable(model._meta.label, name, pk, stored_key_id(stored), str(exc)))
            if progress:
                progress(len(batch))
    return EncryptionCheck(configured_key_ids=ring.key_ids, counts={k: dict(v) for k, v in counts.items()},
                           unreadable=unreadable)


def _batches(model: type[models.Model], names: list[str], size: int) -> Iterator[list[tuple]]:
    """(pk, *values) rows in primary-key order, `size` at a time; keyset pagination stays fast to the end."""
    last_pk = None
    rows = model._base_manager.order_by("pk").values_list("pk", *names)
    while True:
        batch = list((rows if last_pk is None else rows.filter(pk__gt=last_pk))[:size])
        if not batch:
            return
        yield batch
        last_pk = batch[-1][0]


def _write(model: type[models.Model], updates: dict[str, list[tuple[str, object, str]]]) -> int:
    """One executemany UPDATE per field (far cheaper than bulk_update's CASE on large batches)."""
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    table, pk_column = quote(model._meta.db_table), quote(model._meta.pk.column)
    written = 0
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        for name, rows in updates.items():
            if not rows:
                continue
            column = quote(model._meta.get_field(name).column)
            cursor.executemany(f"UPDATE {table} SET {column} = %s WHERE {pk_column} = %s AND {column} = %s", rows)
            written += len(rows)
    return written


def _totals(counts: dict[str, dict[str, int]]) -> dict[str, int]:
    totals: Counter = Counter()
    for per_key in counts.values():
        totals.update(per_key)
    return dict(sorted(totals.items()))


def _label(model: type[models.Model], name: str) -> str:
    return f"{model._meta.label}.{name}"
