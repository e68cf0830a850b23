"""Each owner's events form a hash chain; verify_audit_log finds any change made behind the ORM's back."""

import json
import threading
from contextlib import contextmanager

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections

from accounts.services import user_plan_change
from audit.models import GENESIS_HASH, AuditAction, AuditChainHead, AuditEvent
from audit.services.chain import audit_chain_extend, audit_chain_hash, audit_content_hash
from audit.services.record import audit_record
from byok.services.keys import provider_key_disable, provider_key_enable
from tests.factories import BusinessUserFactory


def chained(owner) -> list[AuditEvent]:
    audit_chain_extend(owner_id=owner.pk if owner else None)
    events = AuditEvent.objects.filter(owner=owner) if owner else AuditEvent.objects.filter(owner__isnull=True)
    return list(events.order_by("chain_sequence"))


def three_events(owner, key) -> list[AuditEvent]:
    provider_key_disable(key=key, actor=owner)
    provider_key_enable(key=key, actor=owner)
    return chained(owner)


@contextmanager
def append_only_trigger_disabled():
    """Tampering as an attacker with database access would: on PostgreSQL past the append-only trigger."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE byok_auditevent DISABLE TRIGGER byok_auditevent_append_only")
    yield
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # Deleting a row queued deferred foreign-key checks; ALTER TABLE refuses to run while they are pending.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("ALTER TABLE byok_auditevent ENABLE TRIGGER byok_auditevent_append_only")


def verify(*args) -> tuple[str, bool]:
    from io import StringIO

    out = StringIO()
    try:
        call_command("verify_audit_log", *args, stdout=out)
    except CommandError:
        return out.getvalue(), False
    return out.getvalue(), True


@pytest.mark.django_db
def test_events_are_linked_per_owner_from_the_genesis_hash(owner, bedrock_key):
    other = BusinessUserFactory()
    user_plan_change(user=other, plan_code="enterprise", actor=other)
    events = three_events(owner, bedrock_key)

    assert [e.chain_sequence for e in events] == [1, 2, 3]
    assert events[0].previous_hash == GENESIS_HASH
    for previous, event in zip(events, events[1:]):
        assert event.previous_hash == previous.chain_hash
    for event in events:
        assert event.content_hash == audit_content_hash(event)
        assert event.chain_hash == audit_chain_hash(previous_hash=event.previous_hash,
                                                    chain_sequence=event.chain_sequence,
                                                    content_hash=event.content_hash)
    head = AuditChainHead.objects.get(chain=f"owner:{owner.pk}")
    assert (head.sequence, head.last_hash) == (3, events[-1].chain_hash)
    assert [e.chain_sequence for e in chained(other)] == [1]  # another owner starts their own chain


@pytest.mark.django_db
def test_events_without_an_owner_form_the_system_chain():
    audit_record(action=AuditAction.ENCRYPTION_KEY_ROTATED, actor=None, system_actor="rotate_encryption_key")
    audit_record(action=AuditAction.ENCRYPTION_KEY_ROTATED, actor=None, system_actor="rotate_encryption_key")
    events = chained(None)
    assert [(e.chain_sequence, e.chain_name, e.actor_label) for e in events] == [
        (1, "system", "system:rotate_encryption_key"), (2, "system", "system:rotate_encryption_key")]
    assert AuditChainHead.objects.get(chain="system").sequence == 2


@pytest.mark.django_db
def test_verify_reports_an_intact_chain(owner, bedrock_key):
    three_events(owner, bedrock_key)
    output, ok = verify("--owner", owner.username)
    assert ok, output
    assert f"owner:{owner.pk} ({owner.username}): 3 events verified — intact." in output


@pytest.mark.django_db
def test_verify_finds_an_event_whose_content_was_changed_with_raw_sql(owner, bedrock_key):
    events = three_events(owner, bedrock_key)
    with append_only_trigger_disabled(), connection.cursor() as cursor:
        cursor.execute("UPDATE byok_auditevent SET actor_label = %s WHERE id = %s", ["mallory", events[1].pk])

    output, ok = verify()
    assert not ok
    assert f"BROKEN at event {events[1].pk} (sequence 2): the event's content was changed" in output

    report = json.loads(_verify_json(owner))[0]
    assert report["intact"] is False
    assert report["broken"]["event_id"] == events[1].pk
    assert report["broken"]["expected"] == events[1].content_hash


@pytest.mark.django_db
def test_verify_finds_a_rewritten_hash_at_the_next_link(owner, bedrock_key):
    """An attacker who also recomputes the content hash of the event they changed breaks the following link."""
    events = three_events(owner, bedrock_key)
    with append_only_trigger_disabled(), connection.cursor() as cursor:
        cursor.execute("UPDATE byok_auditevent SET details = %s WHERE id = %s", ['{"forged": true}', events[0].pk])
        forged = AuditEvent.objects.get(pk=events[0].pk)
        content_hash = audit_content_hash(forged)
        cursor.execute("UPDATE byok_auditevent SET content_hash = %s, chain_hash = %s WHERE id = %s", [
            content_hash, audit_chain_hash(previous_hash=GENESIS_HASH, chain_sequence=1, content_hash=content_hash),
            events[0].pk])

    output, ok = verify("--owner", owner.username)
    assert not ok
    assert f"BROKEN at event {events[1].pk} (sequence 2): previous_hash does not match" in output


@pytest.mark.django_db
def test_verify_finds_an_event_removed_from_the_middle(owner, bedrock_key):
    events = three_events(owner, bedrock_key)
    with append_only_trigger_disabled(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM byok_auditevent WHERE id = %s", [events[1].pk])
    output, ok = verify("--owner", owner.username)
    assert not ok
    assert f"BROKEN at event {events[2].pk} (sequence 3): an event is missing before this one" in output


@pytest.mark.django_db
def test_verify_finds_the_last_event_removed(owner, bedrock_key):
    events = three_events(owner, bedrock_key)
    with append_only_trigger_disabled(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM byok_auditevent WHERE id = %s", [events[2].pk])
    output, ok = verify("--owner", owner.username)
    assert not ok
    assert "BROKEN at end of chain (sequence 3): the chain ends early" in output


def _verify_json(owner) -> str:
    from io import StringIO

    out = StringIO()
    with pytest.raises(CommandError):
        call_command("verify_audit_log", "--owner", owner.username, "--json", stdout=out)
    return out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_two_workers_chaining_the_same_owner_at_once_do_not_fork_the_chain(postgres):
    owner = BusinessUserFactory()
    for _ in range(40):
        audit_record(action=AuditAction.PLAN_CHANGED, actor=owner, owner=owner, details={})
    start, errors = threading.Barrier(4), []

    def worker():
        start.wait()
        try:
            for _ in range(5):
                audit_chain_extend(owner_id=owner.pk)
        except Exception as exc:  # without the head lock, a second worker would try to relink chained events
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    sequences = sorted(AuditEvent.objects.filter(owner=owner).values_list("chain_sequence", flat=True))
    assert sequences == list(range(1, 41))
    output, ok = verify("--owner", owner.username)
    assert ok, output
