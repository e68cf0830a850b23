"""Bring the catalog table in line with the bundled data file (byok/catalog/models.json). Idempotent.

Used by the seeding data migration (with the historical model) and by `manage.py sync_model_catalog`. The file's
descriptive fields (names, per-profile ids, aliases, context window, prices, lifecycle) win; which model serves a
tier is staff's choice in /admin/, so the file's tiers are applied only when a model is created, and only where no
current model of the family serves that tier already.
"""

import json
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

CATALOG_PATH = Path(__file__).with_name("models.json")
TIER_FIELDS = {"standard": "serves_standard", "complex": "serves_complex", "embedding": "serves_embedding"}
_FIELDS = ("display_name", "kind", "profile_ids", "aliases", "context_window", "input_price_per_mtok",
           "output_price_per_mtok", "status", "deprecated_on", "retires_on")


@dataclass
class SyncReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0

    def as_dict(self) -> dict:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged}


def load_catalog(path: Path = CATALOG_PATH) -> list[dict]:
    with open(path, encoding="utf-8") as catalog_file:
        return json.load(catalog_file)["models"]


def _value(name: str, raw):
    if raw is None:
        return None
    if name.endswith("_per_mtok"):
        return Decimal(str(raw))
    if name.endswith("_on"):
        return date.fromisoformat(raw)
    return raw


def catalog_sync(model_class, entries: list[dict] | None = None) -> SyncReport:
    """Create missing models, update changed ones; returns what changed (by family/model_id)."""
    entries = load_catalog() if entries is None else entries
    # An earlier migration's model lacks the fields added since (kind, the embedding tier): their entries wait.
    known = {f.name for f in model_class._meta.get_fields()}
    entries = [e for e in entries if all(TIER_FIELDS[t] in known for t in e.get("tiers", []))
               and ("kind" not in e or "kind" in known)]
    report = SyncReport()
    rows = {}
    for entry in entries:
        label = f"{entry['family']}/{entry['model_id']}"
        values = {name: _value(name, entry.get(name)) for name in _FIELDS if name in entry and name in known}
        row = model_class.objects.filter(family=entry["family"], model_id=entry["model_id"]).first()
        if row is None:
            row = model_class(family=entry["family"], model_id=entry["model_id"], **values)
            for tier in entry.get("tiers", []):
                taken = model_class.objects.filter(family=row.family, **{TIER_FIELDS[tier]: True}).exclude(
                    status="retired").exists()
                if not taken and row.status != "retired":
                    setattr(row, TIER_FIELDS[tier], True)
            row.save()
            report.created.append(label)
        else:
            changed = [name for name, value in values.items() if getattr(row, name) != value]
            if changed:
                for name in changed:
                    setattr(row, name, values[name])
                row.save(update_fields=[*changed, "updated_at"])
                report.updated.append(label)
            else:
                report.unchanged += 1
        rows[(entry["family"], entry["model_id"])] = (row, entry.get("replacement"))
    for (family, _), (row, replacement_id) in rows.items():
        replacement = model_class.objects.filter(family=family, model_id=replacement_id).first() \
            if replacement_id else None
        if row.replacement_id != (replacement.pk if replacement else None):
            row.replacement = replacement
            row.save(update_fields=["replacement", "updated_at"])
            label = f"{family}/{row.model_id}"
            if label not in report.created and label not in report.updated:
                report.updated.append(label)
                report.unchanged -= 1
    return report
