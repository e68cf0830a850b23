"""Usage is never lost and never blocks other tenants: a row the database refuses is parked in the dead-letter table
while the rest of its batch lands; a database outage keeps every row (in memory, then on disk at shutdown) and the
rows are written once when it ends, however often they are replayed; a data-plane process told to stop (SIGTERM)
answers the calls in flight, writes every row and adds every count to the limits' shared counters before it exits."""

import asyncio
import logging
import shutil
import signal
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx2
import pytest
from django.utils import timezone

from accounts.models import Workspace
from accounts.services import api_key_create
from byok.gateway import usage
from byok.gateway.limits import used_now
from byok.models import PlatformCreditUsage, UsageDeadLetter, UsageRecord
from byok.services.limits import usage_limit_set
from tests.byok.gateway.outages import database_unreachable
from tests.byok.routing_helpers import MESSAGES, key_for, team
from tests.factories import add_member
from tests.fixtures.dataplane import DataPlaneServer

pytestmark = pytest.mark.django_db(transaction=True)


def chat(client):
    return client.chat.completions.create(model="openai/standard", messages=MESSAGES, max_tokens=50)


def warmed(client, server) -> None:
    """The caller's key and resolution are cached: the generation watcher (every 250 ms) has seen the bumps of the
    set-up (key and API key created), and a call after that filled the caches again."""
    chat(client)
    time.sleep(0.6)
    chat(client)
    server.flush_usage()


def test_a_workspace_deleted_mid_call_parks_its_row_and_every_other_tenant_is_complete(dataplane, sandbox, caplog):
    caplog.set_level(logging.WARNING, logger="byok.gateway.usage")
    owner_a, doomed, member_a = team()
    key_for(owner_a, sandbox.add_account("openai", latency_ms=3000), provider="openai")
    owner_b, workspace_b, member_b = team()
    key_for(owner_b, sandbox.add_account("openai", latency_ms=1500), provider="openai")
    client_a, client_b = dataplane.openai(member_a), dataplane.openai(member_b)

    with ThreadPoolExecutor(7) as pool:
        in_flight = pool.submit(chat, client_a)
        time.sleep(1.0)  # the call is at the provider (3 s) when its workspace goes
        Workspace.objects.filter(pk=doomed.pk).delete()
        others = [pool.submit(chat, client_b) for _ in range(6)]  # their rows share batches with the doomed one
        in_flight.result()
        for call in others:
            call.result()
    dataplane.flush_usage()

    assert UsageRecord.objects.filter(workspace=workspace_b).count() == 6
    letter = UsageDeadLetter.objects.get()
    assert letter.entry["workspace_id"] == doomed.pk and letter.entry["call_id"] == letter.call_id.hex
    assert letter.reason.startswith("IntegrityError")
    assert not UsageRecord.objects.filter(workspace_id=doomed.pk).exists()
    parked = [r for r in caplog.records if "dead-letter" in r.getMessage()]
    assert len(parked) == 1 and parked[0].levelno == logging.WARNING and letter.call_id.hex in parked[0].getMessage()
    dataplane.flush_usage()  # parked once: the next flush has nothing left of it
    assert UsageDeadLetter.objects.count() == 1


def test_a_database_outage_during_calls_loses_no_usage_row(dataplane, sandbox, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="byok.gateway.usage")
    owner, workspace, member = team()
    key_for(owner, sandbox.add_account("openai"), provider="openai")
    client = dataplane.openai(member)
    warmed(client, dataplane)

    with database_unreachable(tmp_path), ThreadPoolExecutor(8) as pool:
        started = time.monotonic()
        answers = list(pool.map(lambda _: chat(client), range(120)))  # cached keys keep serving
        time.sleep(max(0.0, started + 2.5 - time.monotonic()))  # the flusher tried (and kept) at least twice
        dataplane.flush_usage()
        assert UsageRecord.objects.filter(workspace=workspace).count() == 2
    assert all(answer.choices for answer in answers)
    dataplane.flush_usage()

    assert UsageRecord.objects.filter(workspace=workspace).count() == 122
    assert UsageRecord.objects.filter(call_id__isnull=True).count() == 0
    outage = [r for r in caplog.records if "database is unreachable" in r.getMessage()]
    assert len(outage) == 1  # once per outage, not once per flush


def test_shutdown_during_an_outage_spills_usage_and_the_next_start_replays_it_once(transactional_db, sandbox,
                                                                                  settings, tmp_path):
    settings.VAR_DIR = tmp_path
    spool = tmp_path / "usage-spool"
    owner, workspace, member = team()
    key_for(owner, sandbox.add_account("openai"), provider="openai")
    server = DataPlaneServer().start()
    client = server.openai(member)
    warmed(client, server)

    with database_unreachable(tmp_path):
        for _ in range(5):
            chat(client)
        server.stop()  # what SIGTERM does: uvicorn's lifespan shutdown
    spilled = sorted(spool.glob("*.jsonl"))
    assert sum(len(path.read_text().splitlines()) for path in spilled) == 5
    copies = [shutil.copy(path, tmp_path / path.name) for path in spilled]

    restarted = DataPlaneServer().start()
    try:
        restarted.flush_usage()
        assert UsageRecord.objects.filter(workspace=workspace).count() == 7
        assert not list(spool.glob("*.jsonl"))
        for copy in copies:  # replayed again (another process on the host starting): nothing changes
            shutil.copy(copy, spool)
        asyncio.run(usage.UsageBatch().flush())
        assert not list(spool.glob("*.jsonl"))
        assert UsageRecord.objects.filter(workspace=workspace).count() == 7
    finally:
        restarted.stop()


@pytest.mark.usefixtures("whole_minute_ahead")
def test_sigterm_with_usage_queued_and_calls_in_flight_loses_nothing(dataplane_processes, sandbox):
    owner, quick_workspace, quick_member = team()
    key_for(owner, sandbox.add_account("openai"), provider="openai")
    owner, slow_workspace, slow_member = team()
    key_for(owner, sandbox.add_account("anthropic", latency_ms=2000), provider="anthropic")
    tokens_limit = usage_limit_set(owner=owner, actor=owner, subject="owner", metric="tokens_per_minute",
                                   value=1_000_000)
    [server] = dataplane_processes()
    quick = httpx2.Client(base_url=server.url, timeout=30,
                          headers={"Authorization": f"Bearer {DataPlaneServer.token(quick_member)}"})
    slow = httpx2.Client(base_url=server.url, timeout=30,
                         headers={"Authorization": f"Bearer {DataPlaneServer.token(slow_member)}"})
    body = {"messages": MESSAGES, "max_tokens": 50}

    with ThreadPoolExecutor(2) as pool:
        in_flight = [pool.submit(slow.post, "/v1/chat/completions", json={**body, "model": "anthropic/standard",
                                                                           "stream": stream})
                     for stream in (False, True)]
        time.sleep(0.5)  # both are at the provider (2 s)
        answered = [quick.post("/v1/chat/completions", json={**body, "model": "openai/standard"}) for _ in range(20)]
        assert not UsageRecord.objects.filter(workspace=slow_workspace).exists()
        server.process.send_signal(signal.SIGTERM)  # the last calls' usage is queued (written every second)
        late = [call.result() for call in in_flight]
    assert server.process.wait(timeout=30) == -signal.SIGTERM  # uvicorn raises it again once it has shut down

    assert all(answer.status_code == 200 for answer in answered + late)
    assert "data: [DONE]" in late[1].text  # the stream in flight was answered to its end
    assert UsageRecord.objects.filter(workspace=quick_workspace).count() == 20
    assert UsageRecord.objects.filter(workspace=slow_workspace).count() == 2
    model_calls = [call for call in sandbox.call_log() if call["operation"] != "sts.GetSessionToken"]
    assert len(model_calls) == 22 == UsageRecord.objects.values("call_id").distinct().count()
    # The calls in flight ended as the process stopped: their tokens reached the limit's shared counter all the same.
    slow_tokens = sum(row.input_tokens + row.output_tokens
                      for row in UsageRecord.objects.filter(workspace=slow_workspace))
    assert used_now(tokens_limit) == slow_tokens > 0


def platform_entry(workspace, member, credits: int) -> usage.UsageEntry:
    return usage.UsageEntry(
        at=timezone.now(), workspace_id=workspace.pk, user_id=member.pk, owner_id=workspace.owner_id,
        provider="openai", model="gpt-4.1-mini", source="platform", task="standard", key_id=None, key_hint="",
        input_tokens=credits * 1000, output_tokens=0, latency_ms=5, fallback_reason="no_byok_key",
        credits_charged=credits)


def test_a_batch_written_twice_is_counted_and_debited_once():
    owner, workspace, member = team()
    first, second = platform_entry(workspace, member, 2), platform_entry(workspace, member, 3)
    usage._write([first, second], [], set())
    usage._write([first, second, replay := platform_entry(workspace, member, 4)], [], set())
    assert replay.call_id != first.call_id

    assert UsageRecord.objects.filter(workspace=workspace).count() == 3
    assert PlatformCreditUsage.objects.get(owner=owner).used == 9 == sum(
        UsageRecord.objects.filter(workspace=workspace).values_list("credits_charged", flat=True))


def test_a_refused_row_is_parked_and_the_rest_of_its_batch_and_its_debits_land():
    owner, workspace, member = team()
    gone = platform_entry(workspace, member, 5)
    gone.workspace_id = Workspace.objects.order_by("-pk").values_list("pk", flat=True).first() + 1000
    kept = [platform_entry(workspace, member, 1) for _ in range(3)]
    batch = usage.UsageBatch()
    for entry in [kept[0], gone, *kept[1:]]:
        batch.add(entry)

    asyncio.run(batch.flush())

    assert set(UsageRecord.objects.values_list("call_id", flat=True)) == {entry.call_id for entry in kept}
    assert UsageDeadLetter.objects.get().call_id == gone.call_id
    assert PlatformCreditUsage.objects.get(owner=owner).used == 3  # the parked row debits nothing
    assert not batch.pending and batch.unwritten_credits[owner.pk] == 0


def test_a_member_deleted_since_their_call_costs_no_row_and_their_api_key_is_forgotten():
    owner, workspace, member = team()
    leaver = add_member(workspace)
    kept_key, _ = api_key_create(workspace=workspace, user=member, name="kept", actor=member)
    leavers_key, _ = api_key_create(workspace=workspace, user=leaver, name="leaver's", actor=leaver)
    kept, gone = platform_entry(workspace, member, 1), platform_entry(workspace, leaver, 1)
    kept.api_key_id, gone.api_key_id = kept_key.pk, leavers_key.pk
    leaver.delete()  # their API keys go with the account, while the call's usage waits in the queue
    batch = usage.UsageBatch()
    batch.add(kept)
    batch.add(gone)

    asyncio.run(batch.flush())

    assert set(UsageRecord.objects.values_list("call_id", "user_id", "api_key_id")) == {
        (kept.call_id, member.pk, kept_key.pk), (gone.call_id, None, None)}
    assert not UsageDeadLetter.objects.exists()
    assert PlatformCreditUsage.objects.get(owner=owner).used == 2


def test_entries_spilled_before_api_keys_were_recorded_still_load():
    line = platform_entry(*team()[1:], 1).as_json()
    del line["api_key_id"]
    assert usage.UsageEntry.from_json(line).api_key_id is None


def test_entries_survive_their_json_form():  # the spool's lines
    original = usage.UsageEntry(
        at=timezone.now(), workspace_id=1, user_id=2, owner_id=3, provider="openai", model="m", source="byok",
        task="standard", key_id=4, key_hint="sk-…abcd", input_tokens=5, output_tokens=6, latency_ms=7,
        fallback_reason="", credits_charged=0, api_key_id=8, call_id=uuid.uuid4())
    assert usage.UsageEntry.from_json(original.as_json()) == original


def test_staff_see_the_dead_letters_read_only(admin_client):
    letter = UsageDeadLetter.objects.create(call_id=uuid.uuid4(), reason="IntegrityError: FOREIGN KEY constraint failed",
                                            entry={"workspace_id": 41, "provider": "openai"})

    listing = admin_client.get("/admin/byok/usagedeadletter/")
    page = admin_client.get(f"/admin/byok/usagedeadletter/{letter.pk}/change/")

    assert listing.status_code == 200 and str(letter.call_id) in listing.content.decode()
    assert page.status_code == 200 and "FOREIGN KEY constraint failed" in page.content.decode()
    assert 'type="submit"' not in page.content.decode().split('id="content-main"')[1]  # nothing to save
    assert admin_client.get("/admin/byok/usagedeadletter/add/").status_code == 403
    assert admin_client.post(f"/admin/byok/usagedeadletter/{letter.pk}/delete/", {"post": "yes"}).status_code == 403
    assert UsageDeadLetter.objects.filter(pk=letter.pk).exists()


def test_a_replay_leaves_no_database_connection_open_on_the_loops_thread(settings, tmp_path):
    """Before replaying a spill, the batch asks whether the database answers. It asks on a database thread, whose
    connection is closed after; never on the event loop's own thread, where the connection would stay open for the
    process's life."""
    from django.db import connection

    settings.VAR_DIR = tmp_path
    owner, workspace, member = team()
    batch = usage.UsageBatch()
    batch.spool.write([platform_entry(workspace, member, 0)])

    async def flush() -> bool:
        await batch.flush()
        return connection.connection is None  # the event loop's

    with ThreadPoolExecutor(max_workers=1) as thread:  # a loop on a thread of its own, as the data plane's runs
        assert thread.submit(asyncio.run, flush()).result()
    assert UsageRecord.objects.filter(workspace=workspace).count() == 1
    assert not list((tmp_path / "usage-spool").glob("*.jsonl"))


def test_beyond_its_bound_the_queue_spills_to_disk_and_the_spill_is_replayed(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    owner, workspace, member = team()
    batch = usage.UsageBatch()
    for _ in range(usage.MAX_QUEUED + 1):
        batch.add(platform_entry(workspace, member, 0))

    with database_unreachable(tmp_path):
        asyncio.run(batch.flush())
    assert not batch.pending  # memory stays bounded
    spilled = list((tmp_path / "usage-spool").glob("*.jsonl"))
    assert sum(len(path.read_text().splitlines()) for path in spilled) == usage.MAX_QUEUED + 1

    asyncio.run(batch.flush())
    assert UsageRecord.objects.filter(workspace=workspace).count() == usage.MAX_QUEUED + 1
    assert not list((tmp_path / "usage-spool").glob("*.jsonl"))
