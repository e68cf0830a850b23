"""Spend per workspace API key: each /v1 call records the key that made it, and the usage API, the console's usage
page and its CSV show each key's cost as the catalog's prices make it, computed here from the tokens the SDK saw."""

import csv
import io
from collections import Counter, defaultdict
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.utils import timezone

from accounts.services import api_key_revoke
from byok.models import Model, UsageRecord
from tests.byok.console.conftest import signed_in
from tests.byok.routing_helpers import key_for, team
from tests.factories import add_member

pytestmark = pytest.mark.django_db(transaction=True)

REPORT = "The quarterly report, section by section. "  # 6 words: 1,000 of them are 7,800 tokens on the simulator


def priced_by_hand(model_id: str, usage) -> Decimal:
    """A chat call's cost from the anthropic catalog row's prices per million tokens."""
    row = next(m for m in Model.objects.filter(family="anthropic") if model_id in m.ids())
    total = usage.prompt_tokens * row.input_price_per_mtok + usage.completion_tokens * row.output_price_per_mtok
    return (total / Decimal(1_000_000)).quantize(Decimal("1e-8"), rounding=ROUND_HALF_UP)


def test_each_workspace_api_key_records_its_calls_and_its_spend_shows_to_the_cent(dataplane, sandbox, client_for):
    owner, workspace, member = team()
    colleague = add_member(workspace)
    key_for(owner, sandbox.add_account("anthropic"), provider="anthropic")
    laptop, raw_laptop = dataplane.api_key(member, workspace, name="laptop")
    ci, raw_ci = dataplane.api_key(colleague, workspace, name="ci")
    spent: dict[int, Decimal] = defaultdict(Decimal)
    for api_key, user, raw, pages in ((laptop, member, raw_laptop, 1000), (laptop, member, raw_laptop, 1500),
                                      (ci, colleague, raw_ci, 2500)):
        reply = dataplane.openai(user, key=raw).chat.completions.create(
            model="anthropic/standard", messages=[{"role": "user", "content": REPORT * pages}])
        spent[api_key.pk] += priced_by_hand(reply.model, reply.usage)
    dataplane.flush_usage()

    assert Counter(UsageRecord.objects.values_list("api_key_id", flat=True)) == {laptop.pk: 2, ci.pk: 1}
    assert spent[laptop.pk] > Decimal("0.01") and spent[ci.pk] > Decimal("0.01")  # cents, not fractions of one
    api_key_revoke(key=laptop, actor=member)  # a revoked key keeps its name and its spend

    summary = client_for(owner).get(f"/api/v1/workspaces/{workspace.slug}/usage/").json()
    by_key = {row["api_key_id"]: row for row in summary["by_api_key"]}
    assert set(by_key) == {laptop.pk, ci.pk}
    assert (by_key[laptop.pk]["name"], by_key[laptop.pk]["member"], by_key[laptop.pk]["calls"]) == (
        "laptop", member.username, 2)
    assert by_key[laptop.pk]["key_hint"] == laptop.key_hint and by_key[laptop.pk]["revoked_at"] is not None
    assert (by_key[ci.pk]["name"], by_key[ci.pk]["member"], by_key[ci.pk]["revoked_at"]) == ("ci", colleague.username,
                                                                                           None)
    for key_id, cost in spent.items():
        assert Decimal(by_key[key_id]["byok_cost"]) == cost.quantize(Decimal("0.000001"))
        assert Decimal(by_key[key_id]["platform_cost"]) == 0

    today = timezone.localdate().isoformat()
    page = signed_in(owner).get("/manage/usage/", {"since": today, "until": today}).content.decode()
    table = page.split('id="usage-by-api-key"')[1].split("</table>")[0]
    assert f"<td>laptop <code>{laptop.key_hint}</code> (revoked)</td><td>{member.username}</td>" in table
    assert f"<td>ci <code>{ci.key_hint}</code></td><td>{colleague.username}</td>" in table
    for key_id, cost in spent.items():
        shown = cost.quantize(Decimal("0.000001")).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
        assert f"<td>{shown}</td><td>0.0000</td>" in table.split(f"{by_key[key_id]['key_hint']}</code>")[1]

    body = b"".join(signed_in(owner).get("/manage/usage/csv/", {"since": today, "until": today})
                    .streaming_content).decode()
    exported: dict[str, Decimal] = defaultdict(Decimal)
    for row in csv.DictReader(io.StringIO(body)):
        exported[(row["api_key"], row["api_key_hint"])] += Decimal(row["estimated_cost_usd_own_keys"])
    assert exported == {("laptop", laptop.key_hint): spent[laptop.pk], ("ci", ci.key_hint): spent[ci.pk]}
