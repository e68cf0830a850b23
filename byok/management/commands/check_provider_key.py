import json

from django.core.management.base import BaseCommand, CommandError

from ...models import ProviderKey
from ...services.connection import provider_key_test_connection


class Command(BaseCommand):
    help = "Test a stored provider key against its provider; the result is kept on the key and audited."

    def add_arguments(self, parser):
        parser.add_argument("key_id", type=int, help="Provider key id.")
        parser.add_argument("--json", action="store_true", help="Print the result as JSON.")

    def handle(self, *args, key_id, **options):
        key = ProviderKey.objects.select_related("owner").filter(pk=key_id).first()
        if key is None:
            raise CommandError(f"No provider key with id {key_id}.")
        result = provider_key_test_connection(key=key, actor=None)
        if options["json"]:
            self.stdout.write(json.dumps(result.as_dict()))
        else:
            self.stdout.write(f"{key.provider} key {key.pk} ({key.key_hint}) of {key.owner.username}: "
                              f"{'OK' if result.ok else 'FAILED: ' + str(result.category)} in {result.duration_ms} ms")
            if result.account:
                self.stdout.write(f"  account: {result.account}")
            for check in result.checks:
                mark = "✓" if check.ok else "✗"
                line = f"  {mark} {check.name} {check.target} {check.region}".rstrip()
                self.stdout.write(line + (f" — {check.category}: {check.hint}" if not check.ok else ""))
        if not result.ok:
            raise CommandError(f"Connection test failed: {result.category}.")
