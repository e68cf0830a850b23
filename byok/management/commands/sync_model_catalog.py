"""Bring the model catalog in line with the installed packages; idempotent, reports what changed."""

import json

from django.core.management.base import BaseCommand

from ...catalog.services import catalog_sync_run


class Command(BaseCommand):
    help = ("Sync the model catalog from the installed packages (genai-prices, LiteLLM's model map, the Anthropic "
            "and OpenAI SDKs), keep staff's /admin/ overrides, then retire what is due.")

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Print the report as JSON.")

    def handle(self, *args, **options):
        report = catalog_sync_run()
        if options["json"]:
            self.stdout.write(json.dumps(report))
            return
        self.stdout.write(f"Model catalog: {len(report['created'])} created, {len(report['updated'])} updated, "
                          f"{report['unchanged']} unchanged, {len(report['retired'])} retired.")
        for label in report["created"]:
            self.stdout.write(f"  created {label}")
        for label, fields in report["updated"].items():
            self.stdout.write(f"  updated {label}: {', '.join(fields)}")
        for label, fields in report["kept"].items():
            self.stdout.write(f"  kept staff's {label}: {', '.join(fields)}")
        for label in report["retired"]:
            self.stdout.write(f"  retired {label}")
