import json
import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from ...services.encryption import encrypted_row_count, encryption_check


class Command(BaseCommand):
    help = "Count stored secrets per key id for every encrypted field, and find any no configured key can read."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Print the result as JSON.")

    def handle(self, *args, **options):
        with tqdm(total=encrypted_row_count(), unit="row", file=sys.stderr, desc="checking", disable=None) as bar:
            check = encryption_check(progress=bar.update)
        if options["json"]:
            self.stdout.write(json.dumps(check.as_dict()))
        else:
            self.stdout.write(f"Configured key ids (first encrypts): {', '.join(check.configured_key_ids)}")
            for label, per_key in check.counts.items():
                rows = ", ".join(f"{key_id}: {n}" for key_id, n in sorted(per_key.items())) or "no rows"
                self.stdout.write(f"{label}: {rows}")
            for row in check.unreadable:
                self.stdout.write(f"UNREADABLE {row.model}.{row.field} pk={row.pk}: {row.reason}")
        if not check.ok:
            raise CommandError(f"{len(check.unreadable)} stored value(s) cannot be decrypted with the configured keys.")
