from django.db import migrations

PLANS = [
    # code, name, byok_allowed, monthly_platform_credits (1 credit = 1,000 tokens), ordering
    ("free", "Free", False, 1_000, 10),
    ("pro", "Pro", False, 10_000, 20),
    ("business", "Business", True, 50_000, 30),
    ("enterprise", "Enterprise", True, 250_000, 40),
]


def seed_plans(apps, schema_editor):
    Plan = apps.get_model("accounts", "Plan")
    for code, name, byok_allowed, credits, ordering in PLANS:
        Plan.objects.update_or_create(
            code=code,
            defaults={
                "name": name,
                "byok_allowed": byok_allowed,
                "monthly_platform_credits": credits,
                "ordering": ordering,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]

    operations = [migrations.RunPython(seed_plans, migrations.RunPython.noop)]
