"""What prompt caching saved, end to end: a Claude prompt cached on the simulator (a first call writes, a repeat
reads), and the usage API, the console's usage page, its CSV and the console's home show the saving as the
catalog's prices make it, computed here by hand from the catalog row: every cache write and read billed as plain
input, minus what the calls cost. A write not yet repaid by a read is a negative saving, shown as such."""

import csv
import io
import math
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.utils import timezone

from byok.models import UsageRecord
from tests.byok.console.conftest import signed_in
from tests.byok.gateway.dataplane.test_prompt_caching import CACHED, MANUAL, TOOL, claude_member, priced_by_hand

pytestmark = pytest.mark.django_db(transaction=True)

CENT = Decimal("0.01")


def saved_by_hand(records) -> Decimal:
    """Each call priced twice from the catalog row: with its cache writes and reads as plain input, and as it was."""
    total = Decimal(0)
    for record in records:
        plain = UsageRecord(provider=record.provider, model=record.model, output_tokens=record.output_tokens,
                            input_tokens=record.input_tokens + record.cache_write_5m_tokens
                            + record.cache_write_1h_tokens + record.cache_read_tokens)
        total += priced_by_hand(plain) - priced_by_hand(record)
    return total


def cached_calls(dataplane, sandbox, family: str, times: int):
    """`times` calls of one request whose system prompt and tool are cached (twenty manuals: cents of tokens)."""
    member = claude_member(sandbox, family)
    claude = dataplane.anthropic(member)
    request = {"model": f"{family}/standard", "max_tokens": 50, "tools": [{**TOOL, "cache_control": CACHED}],
               "system": [{"type": "text", "text": MANUAL * 20, "cache_control": CACHED}],
               "messages": [{"role": "user", "content": "What does chapter one say?"}]}
    replies = [claude.messages.create(**request) for _ in range(times)]
    dataplane.flush_usage()
    records = list(UsageRecord.objects.order_by("id"))
    assert len(records) == times and records[0].cache_write_5m_tokens == replies[0].usage.cache_creation_input_tokens
    return member.memberships.get().workspace, member, records


def shown(workspace, member):
    """What the API, the console's usage page, its CSV and the home page say caching saved."""
    owner = workspace.owner
    api = signed_in(owner).get(f"/api/v1/workspaces/{workspace.slug}/usage/").json()
    today = timezone.localdate().isoformat()
    page = signed_in(owner).get("/manage/usage/", {"since": today, "until": today}).content.decode()
    body = b"".join(signed_in(owner).get("/manage/usage/csv/", {"since": today, "until": today})
                    .streaming_content).decode()
    home = signed_in(owner).get("/manage/").content.decode()
    return api, page, list(csv.DictReader(io.StringIO(body))), home


def in_cents(amount: Decimal) -> str:
    cents = amount.quantize(CENT, rounding=ROUND_HALF_UP)
    return f"−${-cents}" if cents < 0 else f"${cents}"


@pytest.mark.parametrize("family", ["anthropic", "bedrock"])
def test_what_caching_saved_shows_in_the_api_console_and_csv_as_the_catalog_prices_it(dataplane, sandbox, family):
    workspace, member, records = cached_calls(dataplane, sandbox, family, times=2)
    assert records[1].cache_read_tokens == records[0].cache_write_5m_tokens > 40_000
    hand = saved_by_hand(records)
    assert hand > 5 * CENT  # a read repays its write several times over, in cents

    api, page, rows, home = shown(workspace, member)
    # The API's six decimals: the calls are priced together (their tokens summed), by hand one by one.
    for saved in (api["cost"]["byok_cache_saved"], api["by_source"]["byok"]["cache_saved"],
                  api["rows"][0]["cache_saved"], api["by_member"][0]["byok_cache_saved"],
                  api["by_api_key"][0]["byok_cache_saved"]):
        assert abs(Decimal(saved) - hand) <= Decimal("0.000001")
        assert Decimal(saved).quantize(CENT, rounding=ROUND_HALF_UP) == hand.quantize(CENT, rounding=ROUND_HALF_UP)
    assert api["cost"]["platform_cache_saved"] is None and api["by_member"][0]["member"] == member.username
    assert (api["rows"][0]["cache_write_5m_tokens"], api["rows"][0]["cache_read_tokens"]) == (
        records[0].cache_write_5m_tokens, records[1].cache_read_tokens)
    # Beside it, what the owner's key saved: the platform credits the calls would have used, cached tokens included.
    credits = sum(math.ceil((r.input_tokens + r.cache_write_5m_tokens + r.cache_read_tokens + r.output_tokens) / 1000)
                  for r in records)
    assert api["cost"]["platform_credits_saved"] == credits > 80

    money = page.split('id="money"')[1].split("</section>")[0]
    assert f'id="cache-saved-byok">{in_cents(hand)}<' in money and 'id="cache-saved-platform">—<' in money
    assert f'id="byok-saved">{credits} platform credits<' in money
    four_places = hand.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
    by_model = page.split('id="usage-by-model"')[1].split("</table>")[0]
    assert f"<td>{four_places}</td></tr>" in by_model
    for table in ("usage-by-workspace", "usage-by-member", "usage-by-api-key", "usage-by-day"):
        assert f"<td>{four_places}</td><td>—</td></tr>" in page.split(f'id="{table}"')[1].split("</table>")[0]

    assert abs(sum(Decimal(row["cache_saved_usd"]) for row in rows) - hand) <= Decimal("0.0000001")
    assert f'id="home-cache-saved-byok">{in_cents(hand)}<' in home


def test_a_cache_write_no_read_has_repaid_yet_is_a_negative_saving(dataplane, sandbox):
    workspace, member, records = cached_calls(dataplane, sandbox, "anthropic", times=1)
    hand = saved_by_hand(records)
    assert hand <= -CENT  # the write costs 1.25 times the input price

    api, page, rows, home = shown(workspace, member)
    assert Decimal(api["cost"]["byok_cache_saved"]) == hand.quantize(Decimal("0.000001"))
    assert Decimal(api["by_member"][0]["byok_cache_saved"]) < 0
    assert in_cents(hand).startswith("−$")
    assert f'id="cache-saved-byok">{in_cents(hand)}<' in page
    assert f"<td>{hand.quantize(Decimal('0.0001'), rounding=ROUND_HALF_UP)}</td></tr>" in page
    assert [Decimal(row["cache_saved_usd"]) for row in rows] == [hand]
    assert f'id="home-cache-saved-byok">{in_cents(hand)}<' in home
