"""Once seeded the catalog from a hand-kept file; the catalog now comes from the installed packages (0017)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("byok", "0012_model_catalog"),
    ]

    operations = []
