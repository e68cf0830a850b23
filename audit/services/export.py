"""Export: events oldest first, with their chain columns, as JSON lines or CSV."""

import csv
from collections.abc import Iterable
from typing import TextIO

from ..models import AuditEvent
from .chain import audit_event_record, canonical_json

EXPORT_FORMATS = ("jsonl", "csv")
_EXPORT_COLUMNS = [
    "id", "created_at", "action", "actor_id", "actor_label", "actor_ip", "actor_user_agent", "request_id",
    "owner_id", "workspace_id", "target_key_id", "target_hint", "details",
    "chain", "chain_sequence", "previous_hash", "content_hash", "chain_hash",
]


def audit_events_export(*, events: Iterable[AuditEvent], export_format: str, output: TextIO) -> int:
    """Write events oldest first, with their chain columns so the copy can be checked against the chain."""
    count = 0
    writer = csv.DictWriter(output, fieldnames=_EXPORT_COLUMNS) if export_format == "csv" else None
    if writer:
        writer.writeheader()
    for event in events:
        record = audit_event_record(event)
        if writer:
            writer.writerow({**record, "details": canonical_json(record["details"])})
        else:
            output.write(canonical_json(record) + "\n")
        count += 1
    return count
