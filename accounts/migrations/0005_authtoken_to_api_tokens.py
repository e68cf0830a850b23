"""DRF authtokens (stored in plain text) become control-plane API tokens (stored as their SHA-256).

Each `authtoken_token` row becomes an ApiKey with no workspace for its user, hashed from the same key, so a client
sending `Authorization: Token <its old key>` keeps working until the token expires: BYOK_API_TOKEN_DAYS from now
(the default expiry of a new token). The plain-text rows are then deleted. The `authtoken_token` table itself stays
(rest_framework.authtoken is no longer installed, and Django does not drop the tables of an app removed from
INSTALLED_APPS); it is read with plain SQL, only if it exists, so this migration does not depend on that app.
Not reversible into plain text: going back leaves the hashed tokens in place.
"""

import hashlib
from datetime import UTC, timedelta

from django.conf import settings
from django.db import migrations
from django.utils import timezone
from django.utils.dateparse import parse_datetime

TABLE = "authtoken_token"


def authtokens_to_api_tokens(apps, schema_editor):
    connection = schema_editor.connection
    if TABLE not in connection.introspection.table_names():
        return
    ApiKey = apps.get_model("accounts", "ApiKey")
    table = connection.ops.quote_name(TABLE)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT key, user_id, created FROM {table}")
        rows = cursor.fetchall()
    expires_at = timezone.now() + timedelta(days=settings.BYOK_API_TOKEN_DAYS)
    for key, user_id, created in rows:
        token = ApiKey.objects.create(
            workspace=None, user_id=user_id, name="API token (migrated)", key_hint=f"…{key[-4:]}",
            key_hash=hashlib.sha256(key.encode()).hexdigest(), expires_at=expires_at)
        if isinstance(created, str):  # SQLite answers text
            created = parse_datetime(created)
        if created is not None:
            if timezone.is_naive(created):
                created = timezone.make_aware(created, UTC)
            ApiKey.objects.filter(pk=token.pk).update(created_at=created)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table}")  # no plain-text token stays behind


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0004_api_token"),
    ]

    operations = [
        migrations.RunPython(authtokens_to_api_tokens, migrations.RunPython.noop, elidable=True),
    ]
