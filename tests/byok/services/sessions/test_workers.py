"""Real workers: the beat task fans out, a broker outage loses nothing, two worker processes make one STS call per
key, and concurrent callers of one process share one inline refresh."""

import threading
import time

import pytest
from django.db import connection
from django.utils import timezone

from audit.models import AuditAction, AuditEvent
from byok import tasks
from byok.crypto import keyring
from byok.models import ProviderKey
from byok.providers.base import hint
from byok.services.sessions import session_ensure_fresh, session_refresh, session_refresh_fan_out
from byok_project.celery import app
from tests.audit.conftest import broker_unreachable
from tests.byok.routing_helpers import key_for
from tests.factories import BusinessUserFactory
from tests.fixtures.workers import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def refreshed_count() -> int:
    return ProviderKey.objects.filter(session_secret__isnull=False).count()


def due_keys(sandbox, count: int, owners: int = 1) -> list:
    """`count` long-term keys, each on its own simulated AWS account (so STS calls are counted per key)."""
    from byok.simulator.accounts import new_account

    accounts = [new_account("bedrock") for _ in range(count)]
    sandbox.server.add_accounts(accounts)
    people = [BusinessUserFactory() for _ in range(owners)]
    keys = [
        ProviderKey(owner=people[n % owners], provider="bedrock", family="bedrock", name=f"key {n}",
                    secret=keyring().encrypt_json({"access_key_id": a.access_key_id,
                                                   "secret_access_key": a.secret_access_key}),
                    key_hint=hint(a.access_key_id), credential_type="long_term", inference_profile="global",
                    scope="selected")
        for n, a in enumerate(accounts)
    ]
    ProviderKey.objects.bulk_create(keys, batch_size=500)
    return accounts


@pytest.mark.worker
def test_the_beat_task_fans_out_and_a_real_worker_refreshes_every_due_key(sandbox, celery_worker):
    accounts = due_keys(sandbox, 5)
    tasks.refresh_due_sessions.delay()
    wait_until(lambda: refreshed_count() == 5)
    assert sandbox.calls("sts.GetSessionToken") == {a.access_key_id: 1 for a in accounts}


def test_with_the_broker_down_a_cycle_queues_nothing_changes_nothing_and_the_next_cycle_refreshes(sandbox):
    accounts = due_keys(sandbox, 3)
    with broker_unreachable():
        fan_out = session_refresh_fan_out()
    assert (fan_out.due, fan_out.queued, fan_out.broker_unavailable) == (3, 0, True)
    untouched = ProviderKey.objects.filter(session_secret__isnull=True, session_token_expires_at__isnull=True,
                                           failing_since__isnull=True)
    assert untouched.count() == 3 and not AuditEvent.objects.exists()
    assert sandbox.calls("sts.GetSessionToken") == {}

    app.control.purge()
    fan_out = session_refresh_fan_out()
    assert (fan_out.queued, fan_out.broker_unavailable) == (3, False)
    with app.connection_for_read() as conn:  # run what was queued, as a worker would
        queue = conn.SimpleQueue("celery")
        try:
            for _ in range(3):
                message = queue.get(timeout=10)
                tasks.refresh_session.apply(args=message.payload[0])
                message.ack()
        finally:
            queue.close()
    assert refreshed_count() == 3
    assert sandbox.calls("sts.GetSessionToken") == {a.access_key_id: 1 for a in accounts}


def test_with_the_broker_down_a_refresh_still_commits_whole_with_its_audit_event(sandbox):
    due_keys(sandbox, 1)
    key = ProviderKey.objects.get()
    with broker_unreachable():
        assert session_refresh(key_id=key.pk).status == "refreshed"  # its audit task could not be queued
    key.refresh_from_db()
    assert key.get_session() and key.session_token_expires_at > timezone.now()
    assert AuditEvent.objects.filter(action=AuditAction.SESSION_REFRESHED, target_key_id=key.pk).count() == 1


def test_concurrent_callers_share_one_inline_refresh(sandbox):
    account = sandbox.add_account("bedrock")
    key = key_for(BusinessUserFactory(), account)
    start, errors = threading.Barrier(8), []

    def caller():
        try:
            start.wait()
            session_ensure_fresh(key_id=key.pk)
        except Exception as exc:  # collected: an assertion in a thread would not fail the test
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=caller) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sandbox.calls("sts.GetSessionToken") == {account.access_key_id: 1}
    assert AuditEvent.objects.filter(action=AuditAction.SESSION_REFRESHED).count() == 1


@pytest.mark.worker
def test_two_worker_processes_make_exactly_one_sts_call_per_due_key(sandbox, postgres, worker_processes):
    accounts = due_keys(sandbox, 1000, owners=10)
    for n in range(2):
        worker_processes(f"sessions-{n}", env=sandbox.server.env())
    # Two cycles back to back: every key is queued twice, so both workers contend for the same rows.
    assert session_refresh_fan_out().queued == 1000
    assert session_refresh_fan_out().queued == 1000
    wait_until(lambda: refreshed_count() == 1000, timeout=60)
    time.sleep(1)  # any duplicate still in flight would be counted by now
    calls = sandbox.calls("sts.GetSessionToken")
    assert len(calls) == 1000 and set(calls.values()) == {1}
    assert set(calls) == {a.access_key_id for a in accounts}
