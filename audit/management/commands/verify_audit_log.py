import json

from django.core.management.base import BaseCommand, CommandError

from audit.selectors import audit_chain_owner_ids
from audit.services.verify import audit_chain_verify
from core.commands import get_user


class Command(BaseCommand):
    help = ("Recompute the audit hash chains (one per owner, plus the system chain) and report the first broken "
            "link of each, or that it is intact. Exits non-zero when any chain is broken.")

    def add_arguments(self, parser):
        parser.add_argument("--owner", metavar="USERNAME", help="Only this owner's chain.")
        parser.add_argument("--json", action="store_true", help="Print the reports as JSON.")

    def handle(self, *args, **options):
        owner_ids = [get_user(options["owner"]).pk] if options["owner"] else audit_chain_owner_ids()
        reports = [audit_chain_verify(owner_id=owner_id) for owner_id in owner_ids]
        if options["json"]:
            self.stdout.write(json.dumps([report.as_dict() for report in reports], indent=2))
        else:
            self.stdout.write("\n".join(self._describe(report) for report in reports) or "No audit events yet.")
        broken = [report.chain for report in reports if not report.intact]
        if broken:
            raise CommandError(f"Audit chain broken: {', '.join(broken)}.")

    @staticmethod
    def _describe(report) -> str:
        pending = f", {report.pending_events} not chained yet" if report.pending_events else ""
        summary = f"{report.chain} ({report.owner}): {report.verified_events} events verified{pending}"
        if report.intact:
            return f"{summary} — intact."
        where = f"event {report.broken.event_id}" if report.broken.event_id else "end of chain"
        return (f"{summary} — BROKEN at {where} (sequence {report.broken.chain_sequence}): {report.broken.problem}; "
                f"expected {report.broken.expected}, found {report.broken.found}.")
