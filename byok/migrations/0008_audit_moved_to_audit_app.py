# The audit models moved to the audit app. Their tables stay where they are (the audit models keep these names
# through Meta.db_table), so this only removes them from byok's migration state; audit/0001_initial adds them to
# the audit app's state, also without touching the database.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('byok', '0007_owner_email_sink'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name='AuditDelivery'),
                migrations.DeleteModel(name='AuditEvent'),
                migrations.DeleteModel(name='AuditChainHead'),
            ],
            database_operations=[],
        ),
    ]
