import json

from django.core.management.base import BaseCommand

from ...services.expiry import credential_notices


class Command(BaseCommand):
    help = ("List enabled keys that have expired or expire soon (temporary AWS credentials, Bedrock API keys) and "
            "keys due for rotation, by hint (never a secret).")

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Print the report as JSON.")

    def handle(self, *args, **options):
        notices = credential_notices()
        if options["json"]:
            self.stdout.write(json.dumps([n.as_dict() for n in notices]))
            return
        for n in notices:
            when = f"{n.age_days} days old" if n.kind == n.ROTATION_DUE else f"expires {n.expires_at:%Y-%m-%d %H:%M %Z}"
            self.stdout.write(f"{n.kind:<13} key {n.key_id} {n.key_hint} {n.provider} owner={n.owner_username} "
                              f"{when}")
        self.stdout.write(f"{len(notices)} key(s) need attention." if notices else "No key needs attention.")
