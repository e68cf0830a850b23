import json

from django.core.management.base import BaseCommand, CommandError

from core.commands import get_user

from ...services.sessions import SessionRefreshOutcome, session_refresh_cycle


class Command(BaseCommand):
    help = ("Refresh the STS sessions of long-term AWS keys that are due, now, in this process (the same cycle the "
            "5-minute beat task fans out to workers). Exits non-zero when any refresh failed.")

    def add_arguments(self, parser):
        parser.add_argument("--owner", metavar="USER", help="Only this owner's keys (username).")
        parser.add_argument("--dry-run", action="store_true", help="List the keys that are due; call nothing.")
        parser.add_argument("--json", action="store_true", help="Print the outcomes as JSON.")

    def handle(self, *args, **options):
        owner = get_user(options["owner"]) if options["owner"] else None
        outcomes = session_refresh_cycle(owner=owner, dry_run=options["dry_run"])
        failed = [o for o in outcomes if o.status == SessionRefreshOutcome.FAILED]
        if options["json"]:
            self.stdout.write(json.dumps([o.as_dict() for o in outcomes]))
        else:
            for o in outcomes:
                detail = o.reason or (f"session until {o.expires_at:%Y-%m-%d %H:%M %Z}" if o.expires_at else "")
                self.stdout.write(f"{o.status:<9} key {o.key_id} {o.key_hint} {detail}".rstrip())
            counts = {s: sum(o.status == s for o in outcomes) for s in ("due", "refreshed", "skipped", "failed")}
            self.stdout.write(", ".join(f"{n} {s}" for s, n in counts.items() if n) or "No key is due.")
        if failed:
            raise CommandError(f"{len(failed)} session refresh(es) failed: "
                               + ", ".join(f"key {o.key_id} {o.key_hint} ({o.reason})" for o in failed))
