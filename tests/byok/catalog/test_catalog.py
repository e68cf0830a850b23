"""The model catalog as data: seeded defaults, an idempotent sync, staff edits that reach every process, prices on
every call, and the lifecycle (notices once, retirement moves the tier)."""

import io
import json
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.test import Client
from django.utils import timezone

from audit.models import AuditAction, AuditEvent
from byok import tasks
from byok.catalog.pricing import TokenCounts, usage_cost
from byok.catalog.selectors import tier_model, tier_models
from byok.models import Model, ModelNotice, UsageRecord
from byok.providers.bedrock.profiles import OPUS_4_5, SONNET_4_5
from byok.providers.registry import PROVIDERS
from byok.services.connection import connection_test
from tests.byok.gateway.test_cross_process import Resolver
from tests.byok.routing_helpers import MESSAGES, key_for, team
from tests.factories import UserFactory

HAIKU = "anthropic.claude-haiku-4-5-20251001-v1:0"


def model(family: str, model_id: str) -> Model:
    return Model.objects.get(family=family, model_id=model_id)


def edit(row: Model, **changes) -> Model:
    """Change a catalog row as every writer does (a save: the catalog generation moves, snapshots drop)."""
    for name, value in changes.items():
        setattr(row, name, value)
    row.save()
    return row


def sync() -> dict:
    out = io.StringIO()
    call_command("sync_model_catalog", "--json", stdout=out)
    return json.loads(out.getvalue())


def staff_admin() -> Client:
    browser = Client()
    browser.force_login(UserFactory(is_staff=True, is_superuser=True))
    return browser


def admin_save(browser: Client, row: Model, **changes) -> None:
    """Post the /admin/ change form of `row` with `changes`, as staff would."""
    data = {
        "family": row.family, "model_id": row.model_id, "display_name": row.display_name, "kind": row.kind,
        "aliases": json.dumps(row.aliases), "profile_ids": json.dumps(row.profile_ids),
        "context_window": row.context_window or "", "input_price_per_mtok": row.input_price_per_mtok or "",
        "output_price_per_mtok": row.output_price_per_mtok or "", "status": row.status,
        "deprecated_on": row.deprecated_on or "", "retires_on": row.retires_on or "",
        "replacement": row.replacement_id or "", "serves_standard": row.serves_standard,
        "serves_complex": row.serves_complex, "serves_embedding": row.serves_embedding,
        "max_output_tokens": row.max_output_tokens or "",
        "cache_write_5m_price_per_mtok": row.cache_write_5m_price_per_mtok or "",
        "cache_write_1h_price_per_mtok": row.cache_write_1h_price_per_mtok or "",
        "cache_read_price_per_mtok": row.cache_read_price_per_mtok or "",
        "long_context_prices": json.dumps(row.long_context_prices), "profile_prices": json.dumps(row.profile_prices),
        "staff_overrides": json.dumps(row.staff_overrides),
    }
    data.update(changes)
    data = {k: v for k, v in data.items() if v is not False}  # an unticked checkbox is not posted
    response = browser.post(f"/admin/byok/model/{row.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:3000]


@pytest.mark.django_db
def test_the_seeds_are_the_providers_defaults_and_the_gateway_asks_the_catalog():
    for provider in PROVIDERS.values():
        assert tier_models(provider) == provider.models, provider.id
        for tier, base in provider.models.items():
            assert tier_model(provider.family, tier) == base
    sonnet = model("bedrock", SONNET_4_5)
    assert sonnet.tiers == ["standard"] and sonnet.profile_ids["eu"] == "eu." + SONNET_4_5
    assert (sonnet.input_price_per_mtok, sonnet.output_price_per_mtok) == (Decimal("3.3"), Decimal("16.5"))
    assert sonnet.profile_prices["global"]["input"] == "3"  # the global profile costs less than a region


@pytest.mark.django_db
def test_sync_is_idempotent_and_reports_what_it_created_and_updated():
    first = sync()  # seeded by the migration; the sync retires what is due today
    assert (first["created"], first["updated"], first["kept"]) == ([], {}, {})
    Model.objects.filter(family="openai", model_id="gpt-5").update(output_price_per_mtok=Decimal("99"))
    Model.objects.filter(family="zai", model_id="glm-4.5-air").delete()
    report = sync()
    assert report["created"] == ["zai/glm-4.5-air"] and report["updated"] == {"openai/gpt-5": ["output_price_per_mtok"]}
    assert model("openai", "gpt-5").output_price_per_mtok == Decimal("10")
    assert model("zai", "glm-4.5-air").serves_standard
    again = sync()
    assert (again["created"], again["updated"]) == ([], {})
    assert AuditEvent.objects.filter(action=AuditAction.CATALOG_CHANGED, actor_label="system:sync_model_catalog"
                                     ).count() == 1


@pytest.mark.django_db
def test_one_current_model_per_family_and_tier():
    with pytest.raises(IntegrityError), transaction.atomic():
        Model.objects.filter(family="bedrock", model_id=HAIKU).update(serves_standard=True)
    Model.objects.filter(family="bedrock", model_id=SONNET_4_5).update(status="retired", serves_standard=True)
    Model.objects.filter(family="bedrock", model_id=HAIKU).update(serves_standard=True)  # a retired one does not count


@pytest.mark.django_db(transaction=True)  # the call runs on the data plane's loop
def test_a_tier_changed_in_admin_serves_the_next_call_is_audited_and_tested(sandbox, client_for):
    owner, workspace, member = team()
    key_for(owner, sandbox.account("demo-bedrock"))
    browser = staff_admin()
    first = client_for(member).post(f"/api/v1/workspaces/{workspace.slug}/completions/", {"messages": MESSAGES},
                                    format="json").json()
    assert first["model"].endswith(SONNET_4_5)

    admin_save(browser, model("bedrock", SONNET_4_5), serves_standard=False)
    admin_save(browser, model("bedrock", HAIKU), serves_standard="on")
    call = client_for(member).post(f"/api/v1/workspaces/{workspace.slug}/completions/", {"messages": MESSAGES},
                                   format="json").json()
    assert call["model"] == "global." + HAIKU
    events = AuditEvent.objects.filter(action=AuditAction.CATALOG_CHANGED).order_by("id")
    assert [e.details["changes"]["serves_standard"] for e in events] == [{"from": "True", "to": "False"},
                                                                         {"from": "False", "to": "True"}]
    assert events[0].actor.is_staff

    # The connection test checks the tiers' current models.
    credentials = PROVIDERS["bedrock"].credentials({"access_key_id": sandbox.account("demo-bedrock").access_key_id,
                                                     "secret_access_key": sandbox.account("demo-bedrock")
                                                     .secret_access_key})
    result = connection_test(provider="bedrock", credentials=credentials, inference_profile="us", actor=None,
                             owner_id=owner.pk)
    assert {c.name: c.target for c in result.checks}["model:standard"] == "us." + HAIKU

    listing = {p["id"]: p for p in client_for(member).get("/api/v1/providers/").json()}
    assert listing["bedrock_role"]["models"]["standard"] == HAIKU
    haiku = next(m for m in listing["bedrock"]["catalog"] if m["model_id"] == HAIKU)
    assert haiku["tiers"] == ["standard"] and haiku["input_price_per_mtok"] == "1.100000"
    assert {"gpt-5", "gpt-5-mini", "gpt-5.6-sol"} <= {m["model_id"] for m in listing["openai"]["catalog"]}


@pytest.mark.django_db(transaction=True)
def test_a_tier_change_reaches_another_process_through_the_generation():
    owner, workspace, member = team()
    resolver = Resolver()
    try:
        assert resolver.resolve(member, workspace)["models"]["standard"] == "us." + SONNET_4_5
        sonnet, haiku = model("bedrock", SONNET_4_5), model("bedrock", HAIKU)
        sonnet.serves_standard = False
        sonnet.save()
        haiku.serves_standard = True
        haiku.save()
        deadline = time.monotonic() + 5
        while resolver.resolve(member, workspace)["models"]["standard"] != "us." + HAIKU:
            assert time.monotonic() < deadline, "the other process kept the old tier"
            time.sleep(0.05)
    finally:
        resolver.close()


@pytest.mark.django_db(transaction=True)  # the call runs on the data plane's loop
def test_every_call_is_priced_and_usage_shows_cost_and_credits_saved(sandbox, client_for):
    owner, workspace, member = team()
    key_for(owner, sandbox.account("demo-bedrock"))
    client_for(member).post(f"/api/v1/workspaces/{workspace.slug}/completions/", {"messages": MESSAGES},
                            format="json")
    record = UsageRecord.objects.get()
    assert record.model == "global." + SONNET_4_5
    expected = (Decimal(record.input_tokens) * 3 + Decimal(record.output_tokens) * 15) / 1_000_000  # global price
    assert record.estimated_cost == expected and expected > 0
    usage = client_for(owner).get(f"/api/v1/workspaces/{workspace.slug}/usage/").json()
    assert Decimal(usage["cost"]["byok"]) == expected.quantize(Decimal("0.000001"))
    assert usage["cost"]["platform_credits_saved"] == 1 and usage["cost"]["currency"] == "USD"
    assert Decimal(usage["by_source"]["byok"]["estimated_cost"]) == Decimal(usage["cost"]["byok"])
    assert usage_cost(provider="openai", model="unknown-model", tokens=TokenCounts(input=5, output=5)) is None


@pytest.mark.django_db
def test_retirement_moves_the_tier_and_owners_hear_once(sandbox, django_capture_on_commit_callbacks):
    owner, workspace, member = team()
    quiet_owner = team()[0]
    today = timezone.localdate()
    UsageRecord.objects.create(workspace=workspace, user=member, owner=owner, provider="bedrock",
                               model="us." + SONNET_4_5, source="byok", task="standard", input_tokens=10)
    sonnet, haiku = model("bedrock", SONNET_4_5), model("bedrock", HAIKU)
    edit(sonnet, status="deprecated", deprecated_on=today, replacement=haiku, retires_on=today + timedelta(days=10))

    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.model_lifecycle.apply().result == {"retired": [], "notices": 1}
        assert tasks.model_lifecycle.apply().result == {"retired": [], "notices": 0}
    assert [m.to for m in mail.outbox] == [[owner.email]]
    assert "Claude Haiku 4.5 replaces it" in mail.outbox[0].subject and "2" in mail.outbox[0].subject
    assert tier_model("bedrock", "standard") == SONNET_4_5

    edit(sonnet, retires_on=today)  # the day has come
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.model_lifecycle.apply().result == {"retired": ["bedrock/" + SONNET_4_5], "notices": 0}
        assert tasks.model_lifecycle.apply().result == {"retired": [], "notices": 0}
    assert tier_model("bedrock", "standard") == HAIKU
    sonnet.refresh_from_db()
    assert (sonnet.status, sonnet.tiers) == ("retired", [])
    retired = AuditEvent.objects.get(action=AuditAction.MODEL_RETIRED)
    assert retired.details == {"model": "bedrock/" + SONNET_4_5, "tiers": ["standard"],
                               "replacement": "bedrock/" + HAIKU}
    assert len(mail.outbox) == 1 and ModelNotice.objects.count() == 1
    assert not ModelNotice.objects.filter(owner=quiet_owner).exists()


@pytest.mark.django_db
def test_a_model_retired_without_notice_still_tells_its_users_once(sandbox, django_capture_on_commit_callbacks):
    owner, workspace, member = team()
    UsageRecord.objects.create(workspace=workspace, user=member, owner=owner, provider="anthropic",
                               model="claude-opus-5-5", source="platform", task="complex", output_tokens=10)
    opus = model("anthropic", "claude-opus-5-5")  # the complex tier's
    edit(opus, retires_on=timezone.localdate(), replacement=model("anthropic", "claude-haiku-4-5-20251001"))
    with django_capture_on_commit_callbacks(execute=True):
        first = tasks.model_lifecycle.apply().result
        second = tasks.model_lifecycle.apply().result
    assert first == {"retired": ["anthropic/claude-opus-5-5"], "notices": 1}
    assert second == {"retired": [], "notices": 0}
    assert tier_model("anthropic", "complex") == "claude-haiku-4-5-20251001"
    assert len(mail.outbox) == 1 and "was retired" in mail.outbox[0].subject
    assert "have moved to Claude Haiku 4.5" in mail.outbox[0].body
    assert OPUS_4_5 not in mail.outbox[0].body  # the anthropic family's model, not Bedrock's
