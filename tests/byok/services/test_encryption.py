import json
from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command

from audit.models import AuditEvent
from byok.crypto import Keyring, key_id, stored_key_id
from byok.models import ProviderKey
from byok.providers.registry import PROVIDERS
from tests.factories import BusinessUserFactory

pytestmark = pytest.mark.django_db

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def store_keys(settings, count: int, *, keys: list[str], with_session_every: int | None = 3) -> list[ProviderKey]:
    """`count` keys encrypted under `keys[0]`, some with session credentials (a second encrypted field)."""
    settings.BYOK_ENCRYPTION_KEYS = keys
    owner = BusinessUserFactory()
    stored = []
    for index in range(count):
        key = ProviderKey(owner=owner, provider="openai", family="openai", name=f"key {index}", scope="selected",
                          key_hint="sk-…0000", credential_type="api_key")
        key.set_credentials(PROVIDERS["openai"].credentials({"api_key": f"sk-proj-{index:040d}"}))
        if with_session_every and index % with_session_every == 0:
            key.set_session({"token": f"session-{index}"}, None)
        key.save()
        stored.append(key)
    return stored


def run(command: str, *args: str) -> dict:
    out = StringIO()
    call_command(command, *args, "--json", stdout=out, stderr=StringIO())
    return json.loads(out.getvalue())


def test_rotation_moves_every_secret_to_the_first_key_and_the_old_key_can_go(settings):
    store_keys(settings, 7, keys=[OLD])
    settings.BYOK_ENCRYPTION_KEYS = [NEW, OLD]

    report = run("rotate_encryption_key", "--batch-size", "3")

    assert report["before"] == {key_id(OLD): 7 + 3}
    assert report["after"] == {key_id(NEW): 7 + 3}
    assert report["rewritten"] == 10
    settings.BYOK_ENCRYPTION_KEYS = [NEW]
    for key in ProviderKey.objects.all():
        assert key.get_credentials()["api_key"] == f"sk-proj-{int(key.name.split()[1]):040d}"
    assert [k.get_session() for k in ProviderKey.objects.filter(session_secret__isnull=False).order_by("pk")] == [
        {"token": f"session-{i}"} for i in (0, 3, 6)]


def test_rotation_records_one_audit_event_with_the_counts(settings):
    store_keys(settings, 2, keys=[OLD])
    settings.BYOK_ENCRYPTION_KEYS = [NEW, OLD]
    run("rotate_encryption_key")
    event = AuditEvent.objects.get(action="ENCRYPTION_KEY_ROTATED")
    assert event.actor is None and event.actor_label == "system:rotate_encryption_key"
    assert event.details["before"] == {key_id(OLD): 3} and event.details["after"] == {key_id(NEW): 3}


def test_interrupted_rotation_resumes_where_it_stopped(settings, monkeypatch):
    store_keys(settings, 10, keys=[OLD], with_session_every=None)
    settings.BYOK_ENCRYPTION_KEYS = [NEW, OLD]
    calls = {"n": 0}
    real_rotate = Keyring.rotate

    def crash_in_second_batch(self, stored):
        calls["n"] += 1
        if calls["n"] == 6:
            raise KeyboardInterrupt
        return real_rotate(self, stored)

    monkeypatch.setattr(Keyring, "rotate", crash_in_second_batch)
    with pytest.raises(KeyboardInterrupt):
        call_command("rotate_encryption_key", "--batch-size", "4", stdout=StringIO(), stderr=StringIO())
    first_batch = dict(ProviderKey.objects.order_by("pk").values_list("pk", "secret")[:4])
    assert {stored_key_id(v) for v in first_batch.values()} == {key_id(NEW)}
    written_by = [stored_key_id(v) for v in ProviderKey.objects.values_list("secret", flat=True)]
    assert written_by.count(key_id(OLD)) == 6
    monkeypatch.setattr(Keyring, "rotate", real_rotate)

    report = run("rotate_encryption_key", "--batch-size", "4")

    assert report["before"] == {key_id(NEW): 4, key_id(OLD): 6}
    assert report["rewritten"] == 6
    assert dict(ProviderKey.objects.order_by("pk").values_list("pk", "secret")[:4]) == first_batch
    assert report["after"] == {key_id(NEW): 10}


def test_second_run_rewrites_nothing(settings):
    store_keys(settings, 3, keys=[OLD])
    settings.BYOK_ENCRYPTION_KEYS = [NEW, OLD]
    run("rotate_encryption_key")
    assert run("rotate_encryption_key")["rewritten"] == 0


def test_rotation_leaves_an_unreadable_row_and_fails(settings):
    store_keys(settings, 2, keys=[OLD])
    orphan = store_keys(settings, 1, keys=[Fernet.generate_key().decode()], with_session_every=None)[0]
    settings.BYOK_ENCRYPTION_KEYS = [NEW, OLD]
    out = StringIO()
    with pytest.raises(CommandError, match="1 value\\(s\\) could not be decrypted"):
        call_command("rotate_encryption_key", "--json", stdout=out, stderr=StringIO())
    report = json.loads(out.getvalue())
    assert [(u["pk"], u["field"]) for u in report["unreadable"]] == [(orphan.pk, "secret")]
    assert ProviderKey.objects.values_list("secret", flat=True).get(pk=orphan.pk) == orphan.secret


def test_check_reports_rows_per_key_id_and_field(settings):
    store_keys(settings, 3, keys=[OLD])
    settings.BYOK_ENCRYPTION_KEYS = [NEW, OLD]
    report = run("check_encryption")
    assert report["configured_key_ids"] == [key_id(NEW), key_id(OLD)]
    assert report["counts"] == {"byok.ProviderKey.secret": {key_id(OLD): 3},
                                "byok.ProviderKey.session_secret": {key_id(OLD): 1}}
    assert report["ok"] is True


def test_check_reports_a_row_no_configured_key_can_read_and_exits_non_zero(settings):
    store_keys(settings, 2, keys=[OLD])
    settings.BYOK_ENCRYPTION_KEYS = [NEW]
    out = StringIO()
    with pytest.raises(CommandError, match="3 stored value\\(s\\) cannot be decrypted"):
        call_command("check_encryption", stdout=out, stderr=StringIO())
    text = out.getvalue()
    assert f"byok.ProviderKey.secret: {key_id(OLD)}: 2" in text
    assert text.count("UNREADABLE") == 3 and f"key id {key_id(OLD)}" in text
    assert OLD not in text and "sk-proj-" not in text


def test_check_passes_after_rotation_with_only_the_new_key(settings):
    store_keys(settings, 2, keys=[OLD])
    settings.BYOK_ENCRYPTION_KEYS = [NEW, OLD]
    run("rotate_encryption_key")
    settings.BYOK_ENCRYPTION_KEYS = [NEW]
    assert run("check_encryption")["counts"]["byok.ProviderKey.secret"] == {key_id(NEW): 2}
