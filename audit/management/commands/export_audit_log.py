from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_datetime

from audit.selectors import audit_events_for_export
from audit.services.export import EXPORT_FORMATS, audit_events_export
from core.commands import get_user


def _timestamp(value: str | None, option: str):
    if value is None:
        return None
    parsed = parse_datetime(value)
    if parsed is None or parsed.tzinfo is None:
        raise CommandError(f"{option} must be an ISO 8601 time with a zone, e.g. 2026-01-31T00:00:00Z (got {value!r}).")
    return parsed


class Command(BaseCommand):
    help = ("Export audit events oldest first, with their hash-chain columns, as JSON lines or CSV. "
            "Never contains a secret: events hold key hints only.")

    def add_arguments(self, parser):
        parser.add_argument("--owner", metavar="USERNAME", help="Only this owner's events.")
        parser.add_argument("--since", metavar="ISO", help="From this time (inclusive).")
        parser.add_argument("--until", metavar="ISO", help="Before this time (exclusive).")
        parser.add_argument("--format", required=True, choices=EXPORT_FORMATS, dest="export_format")
        parser.add_argument("--output", metavar="FILE", help="Write here instead of standard output.")

    def handle(self, *args, **options):
        events = audit_events_for_export(
            owner=get_user(options["owner"]) if options["owner"] else None,
            since=_timestamp(options["since"], "--since"),
            until=_timestamp(options["until"], "--until"),
        ).iterator(chunk_size=2000)
        if options["output"]:
            with open(options["output"], "w", newline="", encoding="utf-8") as output:
                count = audit_events_export(events=events, export_format=options["export_format"], output=output)
            self.stdout.write(f"{count} events written to {options['output']}.")
        else:
            audit_events_export(events=events, export_format=options["export_format"], output=self.stdout)
