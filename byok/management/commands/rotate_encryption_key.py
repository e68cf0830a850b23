import json
import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from ...services.encryption import encrypted_row_count, encryption_key_rotate


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored secret under the first key of BYOK_ENCRYPTION_KEYS, in batches (resumable: rows "
        "already under that key are skipped). Afterwards the other keys can be removed."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=1000, help="Rows per transaction (default 1000).")
        parser.add_argument("--json", action="store_true", help="Print the result as JSON.")

    def handle(self, *args, **options):
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.")
        with tqdm(total=encrypted_row_count(), unit="row", file=sys.stderr, desc="re-encrypting",
                  disable=None) as bar:
            report = encryption_key_rotate(batch_size=options["batch_size"], progress=bar.update)
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict()))
        else:
            self.stdout.write(f"Primary key id {report.primary_key_id}; re-encrypted {report.rewritten} value(s).")
            self.stdout.write(f"Before: {_per_key(report.before)}")
            self.stdout.write(f"After:  {_per_key(report.after)}")
        if report.unreadable:
            raise CommandError(
                f"{len(report.unreadable)} value(s) could not be decrypted and were left as they are; "
                "run check_encryption, and keep the old keys configured until they are resolved."
            )


def _per_key(counts: dict[str, int]) -> str:
    return ", ".join(f"{key_id}: {rows}" for key_id, rows in counts.items()) or "no stored secrets"
