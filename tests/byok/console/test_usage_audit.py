"""The usage page (a chosen range, by member, model, source and day, CSV export) and the audit trail's sentences."""

import csv
import io
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Membership
from accounts.services import api_key_create
from audit.models import AuditAction, AuditEvent
from byok.models import UsageRecord
from byok.services.keys import provider_key_create, provider_key_rotate
from tests.byok.console.conftest import signed_in
from tests.factories import BusinessUserFactory, UserFactory, WorkspaceFactory, add_member

pytestmark = pytest.mark.django_db


def usage(workspace, *, user, day: date, source="byok", model="claude-sonnet", count=1, key_hint="AKIA…SECRETISH",
          api_key=None):
    at = timezone.make_aware(datetime.combine(day, datetime.min.time())) + timedelta(hours=12)
    rows = UsageRecord.objects.bulk_create(
        UsageRecord(workspace=workspace, owner=workspace.owner, user=user, api_key=api_key, provider="bedrock",
                    model=model, source=source, task="chat", input_tokens=100, output_tokens=10, key_hint=key_hint,
                    credits_charged=1 if source == "platform" else 0) for _ in range(count))
    UsageRecord.objects.filter(pk__in=[r.pk for r in rows]).update(created_at=at)


def test_usage_by_member_model_source_and_day_for_a_range(owner, workspace):
    mark = add_member(workspace, UserFactory(username="mark"))
    usage(workspace, user=mark, day=date(2026, 3, 2), count=3)
    usage(workspace, user=owner, day=date(2026, 3, 3), source="platform", model="claude-opus")
    usage(workspace, user=mark, day=date(2026, 4, 1))  # outside the range
    html = signed_in(owner).get("/manage/usage/", {"since": "2026-03-01", "until": "2026-03-31"}).content.decode()
    assert "From 2026-03-01 to 2026-03-31 included" in html
    by_member = html.split('id="usage-by-member"')[1].split("</table>")[0]
    assert "<td>mark</td><td>3</td>" in by_member and "<td>olivia</td><td>1</td>" in by_member
    by_day = html.split('id="usage-by-day"')[1].split("</table>")[0]
    assert "<td>2026-03-02</td><td>3</td>" in by_day and "<td>2026-03-03</td><td>1</td>" in by_day
    assert "2026-04-01" not in by_day
    assert "claude-opus" in html and "BYOK (your keys)" in html
    assert 'href="/manage/usage/csv/?since=2026-03-01&amp;until=2026-03-31"' in html


@pytest.mark.parametrize("query, error", [
    ({"since": "2026-03-31", "until": "2026-03-01"}, "must be on or before"),
    ({"since": "2024-01-01", "until": "2026-01-01"}, "at most 366 days"),
    ({"since": "yesterday", "until": "2026-01-01"}, "Enter a valid date"),
])
def test_an_invalid_range_is_explained_and_this_month_shown(owner, workspace, query, error):
    response = signed_in(owner).get("/manage/usage/", query)
    assert response.status_code == 400 and error in response.content.decode()
    assert f"From {timezone.localdate().replace(day=1):%Y-%m-%d}" in response.content.decode()
    assert signed_in(owner).get("/manage/usage/csv/", query).status_code == 400


def test_csv_export_is_streamed_grouped_and_has_no_key(owner, workspace):
    mark = add_member(workspace, UserFactory(username="mark"))
    usage(workspace, user=mark, day=date(2026, 3, 2), count=2)
    usage(workspace, user=mark, day=date(2026, 3, 2), source="platform", model="=HYPERLINK(1)")
    response = signed_in(owner).get("/manage/usage/csv/", {"since": "2026-03-01", "until": "2026-03-31"})
    assert response.streaming and response["Content-Type"].startswith("text/csv")
    assert 'filename="byok-usage-2026-03-01-to-2026-03-31.csv"' in response["Content-Disposition"]
    body = b"".join(response.streaming_content).decode()
    assert "AKIA" not in body and "SECRETISH" not in body
    rows = list(csv.DictReader(io.StringIO(body)))
    assert [(r["date"], r["member"], r["source"], r["model"], r["calls"]) for r in rows] == [
        ("2026-03-02", "mark", "byok", "claude-sonnet", "2"), ("2026-03-02", "mark", "platform", "'=HYPERLINK(1)", "1")]
    assert rows[1]["credits_charged"] == "1" and rows[0]["workspace"] == "acme"


def test_csv_export_covers_only_visible_workspaces(owner, workspace):
    other = WorkspaceFactory(slug="elsewhere")
    usage(other, user=other.owner, day=timezone.localdate())
    usage(workspace, user=owner, day=timezone.localdate())
    body = b"".join(signed_in(owner).get("/manage/usage/csv/").streaming_content).decode()
    assert "acme" in body and "elsewhere" not in body


def test_usage_page_queries_do_not_grow_with_rows_members_or_days(owner, workspace):
    client = signed_in(owner)
    query = {"since": "2026-01-01", "until": "2026-03-31"}

    def count():
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/manage/usage/", query).status_code == 200
        return len(captured)

    usage(workspace, user=owner, day=date(2026, 1, 5))
    few = count()
    for i in range(20):
        member = add_member(workspace)
        usage(workspace, user=member, day=date(2026, 1, 1) + timedelta(days=i * 4), count=5, model=f"m{i}")
    assert count() == few


def test_members_and_admins_of_other_workspaces_get_no_csv(owner, workspace):
    member = add_member(workspace)
    response = signed_in(member).get("/manage/usage/csv/")
    assert response.status_code == 302 and response.url.startswith("/manage/login/")


# --- the audit trail in sentences --------------------------------------------------------------------------------


def test_audit_rows_read_as_sentences_with_raw_details_one_click_away(owner, workspace, sim):
    account = sim.account("demo-bedrock")
    key = provider_key_create(owner=owner, provider="bedrock", name="EU key", skip_test=True,
                              credentials={"access_key_id": account.access_key_id,
                                           "secret_access_key": account.secret_access_key})
    other = sim.account("demo-bedrock-no-opus")
    key = provider_key_rotate(key=key, credentials={"access_key_id": other.access_key_id,
                                                    "secret_access_key": other.secret_access_key},
                              actor=owner, skip_test=True)
    html = signed_in(owner).get("/manage/audit/auditevent/").content.decode()
    assert f"olivia rotated “EU key” ({key.key_hint})" in html
    assert "olivia added “EU key”" in html and "an AWS Bedrock (IAM credentials) key" in html
    assert "bedrock key" not in html
    assert '<details class="byok-raw"><summary>details</summary><pre>' in html
    assert "&quot;hint&quot;: {" in html  # the raw JSON, escaped
    assert account.secret_access_key not in html and other.secret_access_key not in html


def test_membership_events_read_as_sentences(owner, workspace):
    ada = add_member(workspace, UserFactory(username="ada"), role=Membership.Role.ADMIN)
    from accounts.services import invitation_create, membership_role_change

    membership_role_change(workspace=workspace, user=ada, role="member", actor=owner)
    invitation_create(workspace=workspace, email="new@example.com", role="member", actor=owner,
                      link_for=lambda t: f"http://x/{t}")
    html = signed_in(owner).get("/manage/audit/auditevent/").content.decode()
    assert "olivia changed the role of ada: admin → member" in html
    assert "olivia invited new@example.com as member" in html
    assert "olivia added ada as admin" in html


def test_a_system_event_names_byok_and_a_deleted_key_keeps_its_name(owner, workspace):
    AuditEvent.objects.create(action=AuditAction.FALLBACK_ACTIVATED, actor_label="system:routing", owner=owner,
                              workspace=workspace, target_key_id=999, target_hint="AKIA…GONE",
                              details={"category": "auth", "now_serving": "platform credentials"})
    AuditEvent.objects.create(action=AuditAction.KEY_DELETED, actor=owner, actor_label="olivia", owner=owner,
                              target_key_id=998, target_hint="sk-…1234", details={"provider": "openai", "name": "Old"})
    html = signed_in(owner).get("/manage/audit/auditevent/").content.decode()
    assert "AKIA…GONE failed (auth); calls went to platform credentials" in html
    assert "olivia deleted “Old” (sk-…1234)" in html


def test_audit_detail_page_has_the_sentence(owner, workspace):
    event = AuditEvent.objects.filter(owner=owner).first()
    html = signed_in(owner).get(f"/manage/audit/auditevent/{event.pk}/change/").content.decode()
    assert "olivia created the workspace Acme" in html


def test_another_owners_usage_is_not_in_the_range(owner, workspace):
    other_owner = BusinessUserFactory()
    other = WorkspaceFactory(owner=other_owner)
    usage(other, user=other_owner, day=timezone.localdate(), count=7)
    html = signed_in(owner).get("/manage/usage/").content.decode()
    assert "<td>7</td>" not in html


def test_the_provider_filter_and_a_vertex_tests_account_use_display_names(owner, workspace, sim):
    from byok.console.keys import test_outcome
    from tests.byok.routing_helpers import key_for

    key_for(owner, sim.add_account("bedrock_api_key"), provider="bedrock_api_key", name="API key one")
    html = signed_in(owner).get("/manage/byok/providerkey/").content.decode()
    filter_html = html.split('id="changelist-filter"')[1]
    assert "AWS Bedrock (API key)" in filter_html and ">bedrock_api_key<" not in filter_html
    vertex = test_outcome({"provider": "vertex", "account": "byok-demo-vertex", "checks": []})
    assert vertex["account_label"] == "Google Cloud project / service account"
    assert test_outcome({"provider": "bedrock", "checks": []})["account_label"] == "AWS account / identity"


def test_money_spend_per_workspace_member_and_day_credits_used_and_byok_savings_in_page_and_csv(owner, workspace):
    mark = add_member(workspace, UserFactory(username="mark"))
    usage(workspace, user=mark, day=date(2026, 3, 2), count=2)  # 2 × 110 tokens on olivia's key
    usage(workspace, user=owner, day=date(2026, 3, 3), source="platform", model="claude-opus")
    UsageRecord.objects.filter(source="byok").update(estimated_cost=Decimal("0.75"))
    UsageRecord.objects.filter(source="platform").update(estimated_cost=Decimal("0.20"))
    html = signed_in(owner).get("/manage/usage/", {"since": "2026-03-01", "until": "2026-03-31"}).content.decode()
    money = html.split('id="money"')[1].split("</section>")[0]
    assert 'id="spend-byok">$1.50<' in money and 'id="spend-platform">$0.20<' in money
    # 110 tokens a call: one credit each, rounded up per call as a platform call is charged.
    assert "1 platform credits used" in money and 'id="byok-saved">2 platform credits<' in money
    by_workspace = html.split('id="usage-by-workspace"')[1].split("</table>")[0]
    assert "<td>Acme</td><td>3</td>" in by_workspace and "<td>1.5000</td><td>0.2000</td>" in by_workspace
    by_member = html.split('id="usage-by-member"')[1].split("</table>")[0]
    assert "<td>mark</td><td>2</td><td>200</td><td>20</td><td>1.5000</td><td>0.0000</td>" in by_member
    body = b"".join(signed_in(owner).get("/manage/usage/csv/", {"since": "2026-03-01", "until": "2026-03-31"})
                    .streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(body)))
    assert [(r["member"], Decimal(r["estimated_cost_usd_own_keys"] or 0), Decimal(r["estimated_cost_usd_platform"] or 0))
            for r in rows] == [("mark", Decimal("1.5"), 0), ("olivia", 0, Decimal("0.2"))]


def test_spend_per_api_key_in_page_and_csv_names_only_the_viewers_workspaces_keys(owner, workspace):
    mark = add_member(workspace, UserFactory(username="mark"))
    ada = add_member(workspace, UserFactory(username="ada"), role=Membership.Role.ADMIN)
    laptop, _ = api_key_create(workspace=workspace, user=mark, name="laptop", actor=mark)
    ci, _ = api_key_create(workspace=workspace, user=mark, name="ci", actor=mark)
    usage(workspace, user=mark, day=date(2026, 3, 2), count=3, api_key=laptop)
    usage(workspace, user=mark, day=date(2026, 3, 3), api_key=ci)
    usage(workspace, user=owner, day=date(2026, 3, 3), source="platform")  # the REST API with a token: no key
    UsageRecord.objects.filter(source="byok").update(estimated_cost=Decimal("0.125"))
    UsageRecord.objects.filter(source="platform").update(estimated_cost=Decimal("0.5"))
    stranger = BusinessUserFactory()
    elsewhere = WorkspaceFactory(owner=stranger, slug="elsewhere")
    their_key, _ = api_key_create(workspace=elsewhere, user=stranger, name="their key", actor=stranger)
    usage(elsewhere, user=stranger, day=date(2026, 3, 2), count=7, api_key=their_key)
    march = {"since": "2026-03-01", "until": "2026-03-31"}

    for viewer in (owner, ada):
        html = signed_in(viewer).get("/manage/usage/", march).content.decode()
        table = html.split('id="usage-by-api-key"')[1].split("</table>")[0]
        assert (f"<td>laptop <code>{laptop.key_hint}</code></td><td>mark</td><td>acme</td><td>3</td><td>300</td>"
                f"<td>30</td><td>0.3750</td><td>0.0000</td><td>0</td>") in table
        assert f"<td>ci <code>{ci.key_hint}</code></td><td>mark</td><td>acme</td><td>1</td>" in table
        assert "<td>(no workspace API key)</td><td></td><td></td><td>1</td><td>100</td><td>10</td><td>0.0000</td>" \
               "<td>0.5000</td><td>1</td>" in table
        assert "their key" not in html and their_key.key_hint not in html

    body = b"".join(signed_in(owner).get("/manage/usage/csv/", march).streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(body)))
    assert sorted((r["date"], r["api_key"], r["api_key_hint"], r["calls"],
                   Decimal(r["estimated_cost_usd_own_keys"] or 0)) for r in rows) == [("2026-03-02", "laptop", laptop.key_hint, "3", Decimal("0.375")),
                                     ("2026-03-03", "", "", "1", 0),
                                     ("2026-03-03", "ci", ci.key_hint, "1", Decimal("0.125"))]
    assert "their key" not in body
