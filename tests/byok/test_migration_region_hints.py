"""Migration 0015 on keys stored before it: each regional set's hint from the decrypted credentials, and a session
stored before long-term regional sets had sessions of their own made due (the next cycle or call replaces it)."""

import importlib
from datetime import timedelta

import pytest
from django.apps import apps
from django.utils import timezone

from byok.models import ProviderKey
from byok.providers.base import hint
from byok.services.keys import provider_key_create
from byok.services.sessions import session_keys_due
from tests.byok.keys_data import BEDROCK_AKIA, BEDROCK_ASIA
from tests.byok.routing_helpers import team

pytestmark = pytest.mark.django_db

migration = importlib.import_module("byok.migrations.0015_provider_key_region_hints")

OTHER_AKIA = {"access_key_id": "AKIAZ7EXAMPLE4KE7XQ9", "secret_access_key": "x" * 40}
OTHER_ASIA = {name: BEDROCK_ASIA[name] for name in ("access_key_id", "secret_access_key", "session_token")}
MAIN_ONLY_SESSION = {"access_key_id": "ASIAZ7EXAMPLE4KE7XQ4", "secret_access_key": "y" * 40,
                     "session_token": "FwoGZXIvYXdzEBYaDHexampleSessionToken9876543210fedcba"}


def stored_before_the_migration(regional: dict) -> ProviderKey:
    key = provider_key_create(owner=team()[0], provider="bedrock", name="eu key", credentials=BEDROCK_AKIA,
                              inference_profile="eu", skip_test=True,
                              regional_credentials=[{"regions": ["eu-west-1", "eu-west-2"], **regional}])
    key.set_session(MAIN_ONLY_SESSION, timezone.now() + timedelta(hours=12))
    key.save()
    ProviderKey.objects.filter(pk=key.pk).update(region_hints={})  # the column's default when it was added
    return key


def test_hints_are_backfilled_and_a_session_without_regional_sessions_becomes_due():
    key = stored_before_the_migration(OTHER_AKIA)
    without_sets = provider_key_create(owner=team()[0], provider="bedrock", name="plain", credentials=BEDROCK_AKIA,
                                       skip_test=True)
    assert key not in session_keys_due()
    migration.backfill_region_hints(apps, None)
    key.refresh_from_db()
    assert key.region_hints == {"eu-west-1": hint(OTHER_AKIA["access_key_id"]),
                                "eu-west-2": hint(OTHER_AKIA["access_key_id"])}
    assert key.session_token_expires_at is None and key in session_keys_due()
    assert ProviderKey.objects.get(pk=without_sets.pk).region_hints == {}


def test_a_key_whose_regional_sets_are_temporary_keeps_its_session():
    key = stored_before_the_migration(OTHER_ASIA)
    expires_at = ProviderKey.objects.get(pk=key.pk).session_token_expires_at
    migration.backfill_region_hints(apps, None)
    key.refresh_from_db()
    assert key.region_hints == {"eu-west-1": hint(OTHER_ASIA["access_key_id"]),
                                "eu-west-2": hint(OTHER_ASIA["access_key_id"])}
    assert key.session_token_expires_at == expires_at
