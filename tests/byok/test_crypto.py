import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.conf import settings as django_settings
from django.core.exceptions import FieldError, ImproperlyConfigured
from hypothesis import given, settings
from hypothesis import strategies as st

from byok.crypto import DecryptionError, Keyring, key_id, keyring, stored_key_id
from byok.models import ProviderKey
from byok.providers.registry import PROVIDERS
from tests.byok.keys_data import ANTHROPIC
from tests.factories import BusinessUserFactory

K1, K2, K3 = (Fernet.generate_key().decode() for _ in range(3))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)


@given(st.binary(max_size=2048))
def test_any_bytes_round_trip(plaintext):
    ring = Keyring([K1])
    stored = ring.encrypt(plaintext)
    assert ring.decrypt(stored) == plaintext
    assert stored_key_id(stored) == key_id(K1)


@given(st.dictionaries(st.text(max_size=20), json_values, max_size=6))
def test_any_json_object_round_trips(value):
    ring = Keyring([K1])
    assert ring.decrypt_json(ring.encrypt_json(value)) == value


@settings(max_examples=50)
@given(st.lists(st.binary(max_size=256), min_size=1, max_size=10))
def test_rotation_across_three_keys_then_dropping_the_old_ones(plaintexts):
    stored = [Keyring([K1]).encrypt(p) for p in plaintexts]
    ring = Keyring([K2, K1])
    stored = [ring.rotate(s) for s in stored]
    ring = Keyring([K3, K2, K1])
    stored = [ring.rotate(s) for s in stored]

    only_new = Keyring([K3])
    assert [only_new.decrypt(s) for s in stored] == plaintexts
    assert {stored_key_id(s) for s in stored} == {key_id(K3)}


@given(st.binary(max_size=256))
def test_old_key_can_be_removed_after_rotation_but_not_before(plaintext):
    old = Keyring([K1]).encrypt(plaintext)
    rotated = Keyring([K2, K1]).rotate(old)
    assert Keyring([K2]).decrypt(rotated) == plaintext
    with pytest.raises(DecryptionError):
        Keyring([K2]).decrypt(old)


def test_rotating_a_value_already_under_the_primary_key_leaves_it_untouched():
    ring = Keyring([K2, K1])
    stored = ring.encrypt(b"x")
    assert not ring.needs_rotation(stored)
    assert ring.rotate(stored) is stored


@given(st.binary(min_size=1, max_size=256))
def test_missing_key_error_names_the_key_id_and_no_secret(plaintext):
    stored = Keyring([K1]).encrypt(plaintext)
    with pytest.raises(DecryptionError) as raised:
        Keyring([K2]).decrypt(stored)
    message = str(raised.value)
    assert key_id(K1) in message and "not in BYOK_ENCRYPTION_KEYS" in message
    assert K1 not in message and K2 not in message and stored.partition(":")[2] not in message


def test_configured_key_that_cannot_decrypt_reports_corruption():
    stored = Keyring([K1]).encrypt(b"secret")
    tampered = stored[:-6] + ("A" if stored[-6] != "A" else "B") + stored[-5:]
    with pytest.raises(DecryptionError, match=f"corrupt: key id {key_id(K1)}"):
        Keyring([K1]).decrypt(tampered)


def test_value_that_is_not_keyring_ciphertext_is_a_clear_error():
    with pytest.raises(DecryptionError, match="not keyring ciphertext"):
        Keyring([K1]).decrypt("plain-text-that-leaked-in")


@pytest.mark.django_db
def test_wrong_key_gives_decryption_error_never_empty_credentials(settings):
    key = _stored_key(settings, keys=[K1])
    settings.BYOK_ENCRYPTION_KEYS = [K2]
    with pytest.raises(DecryptionError, match=key_id(K1)):
        ProviderKey.objects.get(pk=key.pk).get_credentials()


@pytest.mark.parametrize("keys, position", [([K1, "not-a-key"], 2), (["", K1], 1), ([K1, K2, K3[:-2]], 3)])
def test_malformed_key_list_names_the_position(keys, position):
    with pytest.raises(ImproperlyConfigured, match=f"key #{position} is not a valid Fernet key") as raised:
        Keyring(keys)
    assert all(k not in str(raised.value) for k in keys if k)


def test_empty_key_list_is_refused():
    with pytest.raises(ImproperlyConfigured, match="BYOK_ENCRYPTION_KEYS is empty"):
        Keyring([])


def test_changing_the_setting_rebuilds_the_keyring(settings):
    settings.BYOK_ENCRYPTION_KEYS = [K1]
    assert keyring().primary_id == key_id(K1)
    settings.BYOK_ENCRYPTION_KEYS = [K2, K1]
    assert keyring().primary_id == key_id(K2)


# --- the field refuses what would silently match nothing --------------------------------------------------

@pytest.mark.django_db
@pytest.mark.parametrize("lookup", [
    {"secret": "x"}, {"secret__exact": "x"}, {"secret__iexact": "x"}, {"secret__icontains": "sk-"},
    {"secret__contains": "sk-"}, {"secret__in": ["x"]}, {"secret__startswith": "ab"}, {"secret__endswith": "z"},
    {"secret__regex": "."}, {"secret__gt": "a"}, {"session_secret__exact": "x"}, {"owner__provider_keys__secret": "x"},
])
def test_filtering_on_an_encrypted_field_raises(lookup):
    with pytest.raises(FieldError, match="is encrypted: it cannot be filtered on"):
        list(ProviderKey.objects.filter(**lookup))


@pytest.mark.django_db
def test_excluding_on_an_encrypted_field_raises():
    with pytest.raises(FieldError):
        list(ProviderKey.objects.exclude(secret__icontains="AKIA"))


@pytest.mark.django_db
@pytest.mark.parametrize("ordering", ["secret", "-secret", "session_secret", "-session_secret"])
def test_ordering_by_an_encrypted_field_raises(ordering):
    with pytest.raises(FieldError, match="is encrypted: it cannot be ordered by"):
        ProviderKey.objects.order_by(ordering)


@pytest.mark.django_db
def test_isnull_works_on_an_encrypted_field(settings):
    key = _stored_key(settings, keys=[K1])
    assert list(ProviderKey.objects.filter(session_secret__isnull=True)) == [key]
    key.set_session({"token": "t"}, None)
    key.save()
    assert list(ProviderKey.objects.filter(session_secret__isnull=False)) == [key]
    assert not ProviderKey.objects.filter(secret__isnull=True).exists()


def _stored_key(settings, *, keys: list[str]) -> ProviderKey:
    settings.BYOK_ENCRYPTION_KEYS = keys
    key = ProviderKey(owner=BusinessUserFactory(), provider="anthropic", family="anthropic", name="k",
                      key_hint="sk-ant-…a1b2", credential_type="api_key")
    key.set_credentials(PROVIDERS["anthropic"].credentials(ANTHROPIC))
    key.save()
    return key


# --- start-up refuses a production configuration without keys ----------------------------------------------

def test_system_check_fails_in_production_without_encryption_keys(tmp_path):
    env = {
        key: value for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "BYOK_ENCRYPTION_KEYS", "DEBUG", "CACHE_URL", "CELERY_BROKER_URL"}
    }
    env.update(DJANGO_ENV="production", SECRET_KEY="x" * 60, ALLOWED_HOSTS="x", BYOK_ENCRYPTION_KEYS="",
               BYOK_VAR_DIR=str(tmp_path))
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=Path(django_settings.BASE_DIR), env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "byok.E001" in result.stderr and "BYOK_ENCRYPTION_KEYS is empty" in result.stderr
