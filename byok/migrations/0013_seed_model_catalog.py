"""Seed the model catalog from the bundled data file (byok/catalog/models.json)."""

from django.db import migrations


def seed(apps, schema_editor):
    from byok.catalog.sync import catalog_sync

    catalog_sync(apps.get_model("byok", "Model"))


class Migration(migrations.Migration):
    dependencies = [
        ("byok", "0012_model_catalog"),
    ]

    operations = [
        migrations.RunPython(seed, migrations.RunPython.noop),
    ]
