"""What prompt caching saved, from usage records as the data plane writes them: each call on its own side of its
model's long-context threshold, no saving claimed for a model without cache prices, and an owner sees only the
savings of their own workspaces (API, console page, CSV, home)."""

import csv
import io
from decimal import ROUND_HALF_UP, Decimal

import pytest

from byok.catalog.pricing import TokenCounts, usage_cost
from byok.models import Model, UsageRecord
from tests.byok.console.conftest import signed_in
from tests.byok.routing_helpers import team
from tests.factories import add_member

pytestmark = pytest.mark.django_db

SONNET_4_5 = "claude-sonnet-4-5-20250929"  # cache prices, and long-context prices above 200,000 prompt tokens
HAIKU_5_5 = "claude-haiku-5-5"  # long-context prices above 100,000


def call(workspace, *, provider="anthropic", model=SONNET_4_5, input_tokens=0, cache_read_tokens=0,
         cache_write_5m_tokens=0, output_tokens=100):
    tokens = TokenCounts(input=input_tokens, output=output_tokens, cache_read=cache_read_tokens,
                         cache_write_5m=cache_write_5m_tokens)
    return UsageRecord.objects.create(
        workspace=workspace, owner=workspace.owner, user=workspace.owner, provider=provider, model=model,
        source="byok", task="standard", input_tokens=input_tokens, output_tokens=output_tokens,
        cache_read_tokens=cache_read_tokens, cache_write_5m_tokens=cache_write_5m_tokens,
        estimated_cost=usage_cost(provider=provider, model=model, tokens=tokens))


def read_saved_by_hand(model_id: str, *, input_tokens: int, cache_read_tokens: int) -> Decimal:
    """A call's cache reads at its prompt's tier of the catalog row: the input price minus the cache-read price."""
    row = Model.objects.get(family="anthropic", model_id=model_id)
    long_context = row.long_context_prices
    if input_tokens + cache_read_tokens > int(long_context["above"]):
        input_price, read_price = Decimal(long_context["input"]), Decimal(long_context["cache_read"])
    else:
        input_price, read_price = row.input_price_per_mtok, row.cache_read_price_per_mtok
    return cache_read_tokens * (input_price - read_price) / 1_000_000


def usage(user, workspace) -> dict:
    return signed_in(user).get(f"/api/v1/workspaces/{workspace.slug}/usage/").json()


def test_each_call_saves_at_its_own_side_of_its_models_long_context_threshold():
    owner, workspace, _ = team()
    sonnet_calls = [(10_000, 140_000),  # 150,000 prompt tokens: base prices
                    (10_000, 240_000),  # 250,000: long-context prices
                    (0, 200_000)]  # exactly the threshold: base prices (and above another model's 199,999)
    for input_tokens, cache_read_tokens in sonnet_calls:
        call(workspace, input_tokens=input_tokens, cache_read_tokens=cache_read_tokens)
    call(workspace, model=HAIKU_5_5, cache_read_tokens=150_000)  # above its 100,000: long-context prices

    rows = {row["model"]: row for row in usage(owner, workspace)["rows"]}
    sonnet = sum(read_saved_by_hand(SONNET_4_5, input_tokens=i, cache_read_tokens=r) for i, r in sonnet_calls)
    haiku = read_saved_by_hand(HAIKU_5_5, input_tokens=0, cache_read_tokens=150_000)
    assert (Decimal(rows[SONNET_4_5]["cache_saved"]), Decimal(rows[HAIKU_5_5]["cache_saved"])) == (sonnet, haiku)
    assert sonnet == Decimal("2.214") and haiku == Decimal("0.0675")  # the prices this test was written against


def test_no_saving_is_claimed_for_a_model_without_cache_prices():
    owner, workspace, _ = team()
    call(workspace, provider="groq", model="llama-3.3-70b-versatile", input_tokens=1_000, cache_read_tokens=50_000)
    call(workspace, provider="bedrock", model="a-model-the-catalog-does-not-know", cache_read_tokens=50_000)
    summary = usage(owner, workspace)
    assert [row["cache_saved"] for row in summary["rows"]] == [None, None]
    assert summary["cost"]["byok_cache_saved"] is None and summary["by_member"][0]["byok_cache_saved"] is None

    page = signed_in(owner).get("/manage/usage/").content.decode()
    assert 'id="cache-saved-byok">—<' in page
    assert page.split('id="usage-by-model"')[1].split("</table>")[0].count("<td>—</td></tr>") == 2
    body = b"".join(signed_in(owner).get("/manage/usage/csv/").streaming_content).decode()
    assert [row["cache_saved_usd"] for row in csv.DictReader(io.StringIO(body))] == ["", ""]
    assert 'id="home-cache-saved-byok">—<' in signed_in(owner).get("/manage/").content.decode()

    call(workspace, cache_read_tokens=100_000)  # beside a model with cache prices, that one's saving alone
    assert Decimal(usage(owner, workspace)["cost"]["byok_cache_saved"]) == read_saved_by_hand(
        SONNET_4_5, input_tokens=0, cache_read_tokens=100_000)


def test_an_owner_and_their_admins_see_only_their_own_workspaces_savings():
    owner, workspace, member = team()
    admin = add_member(workspace, role="admin")
    stranger, elsewhere, _ = team()
    call(workspace, cache_read_tokens=100_000)
    call(elsewhere, cache_read_tokens=150_000)
    ours = read_saved_by_hand(SONNET_4_5, input_tokens=0, cache_read_tokens=100_000)
    theirs = read_saved_by_hand(SONNET_4_5, input_tokens=0, cache_read_tokens=150_000)
    in_cents = f"${ours.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP)}"

    for viewer in (owner, admin):
        assert Decimal(usage(viewer, workspace)["cost"]["byok_cache_saved"]) == ours
        assert signed_in(viewer).get(f"/api/v1/workspaces/{elsewhere.slug}/usage/").status_code == 404
        page = signed_in(viewer).get("/manage/usage/").content.decode()
        assert f'id="cache-saved-byok">{in_cents}<' in page
        assert f'id="home-cache-saved-byok">{in_cents}<' in signed_in(viewer).get("/manage/").content.decode()
    assert signed_in(member).get(f"/api/v1/workspaces/{workspace.slug}/usage/").status_code == 403
    body = b"".join(signed_in(owner).get("/manage/usage/csv/").streaming_content).decode()
    assert [Decimal(row["cache_saved_usd"]) for row in csv.DictReader(io.StringIO(body))] == [ours]
    assert Decimal(usage(stranger, elsewhere)["cost"]["byok_cache_saved"]) == theirs
