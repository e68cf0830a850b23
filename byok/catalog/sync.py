"""Bring the catalog table in line with the installed packages (byok/catalog/sources.py). Idempotent.

Used by the seeding data migrations (with the historical model) and by `manage.py sync_model_catalog` (daily on the
beat). The packages' descriptive fields (names, kind, per-profile ids, aliases, limits, prices, lifecycle) win, except
the fields staff set in /admin/ (`staff_overrides`): the sync never undoes those. Which model serves a tier is staff's
choice or the lifecycle's (retirement moves a tier to the replacement); the sync only fills a tier no current model
serves, with the provider's default for it or that default's current replacement. A model whose retirement day had
passed before the catalog first listed it is created retired. Run by a migration whose model predates a field
(`kind`, the embedding tier), the sync leaves that field, and the embedding models, to the migration that adds it.
"""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

TIER_FIELDS = {"standard": "serves_standard", "complex": "serves_complex", "embedding": "serves_embedding"}
PRICE_FIELDS = ("input_price_per_mtok", "output_price_per_mtok", "cache_write_5m_price_per_mtok",
                "cache_write_1h_price_per_mtok", "cache_read_price_per_mtok", "long_context_prices", "profile_prices")
SYNCED_FIELDS = ("display_name", "kind", "profile_ids", "aliases", "context_window", "max_output_tokens",
                 *PRICE_FIELDS, "status", "deprecated_on", "retires_on")


@dataclass
class SyncReport:
    created: list[str] = field(default_factory=list)
    updated: dict[str, list[str]] = field(default_factory=dict)  # label -> the fields that changed
    kept: dict[str, list[str]] = field(default_factory=dict)  # label -> staff's fields the packages would change
    unchanged: int = 0

    def as_dict(self) -> dict:
        return {"created": self.created, "updated": self.updated, "kept": self.kept, "unchanged": self.unchanged}


def _value(name: str, raw):
    if raw is None:
        return None
    if name.endswith("_per_mtok"):
        return Decimal(str(raw))
    if name.endswith("_on") and isinstance(raw, str):
        return date.fromisoformat(raw)
    return raw


def catalog_sync(model_class, entries: list[dict] | None = None, *, today: date | None = None) -> SyncReport:
    """Create missing models, update changed ones (staff's fields kept); returns what changed (by family/model_id).
    A model the packages no longer list stays as it is: retiring it is the lifecycle's job."""
    from ..providers.registry import platform_provider
    from .sources import catalog_entries

    today = today or date.today()
    entries = catalog_entries(today=today) if entries is None else entries
    # An earlier migration's model lacks the fields added since (kind, the embedding tier): embedding models wait.
    known = {f.name for f in model_class._meta.get_fields()}
    entries = [entry for entry in entries if entry.get("kind", "chat") == "chat" or "kind" in known]
    report = SyncReport()
    rows = {}
    for entry in entries:
        family, model_id = entry["family"], entry["model_id"]
        label = f"{family}/{model_id}"
        values = {name: _value(name, entry.get(name)) for name in SYNCED_FIELDS if name in entry and name in known}
        row = model_class.objects.filter(family=family, model_id=model_id).first()
        if row is None:
            row = model_class(family=family, model_id=model_id, **values)
            if row.retires_on is not None and row.retires_on <= today:
                row.status = "retired"  # gone before this catalog knew it: it never served here
            row.save()
            report.created.append(label)
        else:
            if row.status == "retired":
                values.pop("status", None)  # retirement is final; only the lifecycle (or staff) writes it
            overridden = set(row.staff_overrides)
            changed = [name for name, value in values.items() if getattr(row, name) != value]
            kept = [name for name in changed if name in overridden]
            changed = [name for name in changed if name not in overridden]
            if kept:
                report.kept[label] = kept
            if changed:
                for name in changed:
                    setattr(row, name, values[name])
                row.save(update_fields=[*changed, "updated_at"])
                report.updated[label] = changed
            else:
                report.unchanged += 1
        rows[(family, model_id)] = (row, entry.get("replacement"))
    for (family, model_id), (row, replacement_id) in rows.items():
        if "replacement" in row.staff_overrides:
            continue
        replacement = model_class.objects.filter(family=family, model_id=replacement_id).first() \
            if replacement_id else None
        if row.replacement_id != (replacement.pk if replacement else None):
            row.replacement = replacement
            row.save(update_fields=["replacement", "updated_at"])
            label = f"{family}/{model_id}"
            if label not in report.created:
                if label not in report.updated:
                    report.unchanged -= 1
                report.updated.setdefault(label, []).append("replacement")
    _fill_empty_tiers(model_class, {family for family, _ in rows}, platform_provider, report, known)
    return report


def _fill_empty_tiers(model_class, families, platform_provider, report: SyncReport, known: set[str]) -> None:
    """A tier no current model serves goes to the provider's default for it (the embedding tier: its first
    `embedding_models`), or, when that one is retired, to the first current model down its chain of replacements (as
    retirement would have moved it)."""
    for family in sorted(families):
        provider = platform_provider(family)
        defaults = dict(provider.models)
        if provider.embedding_models and TIER_FIELDS["embedding"] in known:
            defaults["embedding"] = provider.embedding_models[0]
        for tier, default in defaults.items():
            if model_class.objects.filter(family=family, **{TIER_FIELDS[tier]: True}).exclude(
                    status="retired").exists():
                continue
            row, seen = model_class.objects.filter(family=family, model_id=default).first(), set()
            while row is not None and row.status == "retired" and row.pk not in seen:
                seen.add(row.pk)
                row = row.replacement
            if row is not None and row.status != "retired":
                setattr(row, TIER_FIELDS[tier], True)
                row.save(update_fields=[TIER_FIELDS[tier], "updated_at"])
                if f"{family}/{row.model_id}" not in report.created:
                    report.updated.setdefault(f"{family}/{row.model_id}", []).append(TIER_FIELDS[tier])
