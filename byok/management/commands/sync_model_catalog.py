"""Bring the model catalog in line with byok/catalog/models.json; idempotent, reports what it created and updated."""

from django.core.management.base import BaseCommand

from ...catalog.services import catalog_sync_run


class Command(BaseCommand):
    help = "Sync the model catalog from the bundled data file (byok/catalog/models.json)."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Print the report as JSON.")

    def handle(self, *args, **options):
        report = catalog_sync_run()
        if options["json"]:
            import json

            self.stdout.write(json.dumps(report.as_dict()))
            return
        self.stdout.write(f"Model catalog: {len(report.created)} created, {len(report.updated)} updated, "
                          f"{report.unchanged} unchanged.")
        for label in report.created:
            self.stdout.write(f"  created {label}")
        for label in report.updated:
            self.stdout.write(f"  updated {label}")
