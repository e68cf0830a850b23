"""Fill the model catalog from the installed packages (byok/catalog/sources.py), as `sync_model_catalog` does."""

from django.db import migrations


def seed(apps, schema_editor):
    from byok.catalog.sync import catalog_sync

    catalog_sync(apps.get_model("byok", "Model"))


class Migration(migrations.Migration):
    dependencies = [
        ("byok", "0016_catalog_from_packages_usage_token_kinds"),
    ]

    operations = [
        migrations.RunPython(seed, migrations.RunPython.noop),
    ]
