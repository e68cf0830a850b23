"""The catalog fed by the installed packages (genai-prices, LiteLLM's model map, the Anthropic and OpenAI SDKs): the
sync on today's data retires Sonnet 4.5 and moves the tiers to current models; staff's overrides survive; every token
kind is priced to the cent; each model's limits are known; the current models answer through /v1."""

import io
import json
from datetime import date
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from byok.catalog.pricing import TokenCounts, usage_cost
from byok.catalog.selectors import ModelLimits, model_limits, tier_models
from byok.catalog.sources import catalog_entries, prices_for
from byok.gateway.usage import UsageEntry, _insert_usage
from byok.models import Model, UsageRecord
from byok.providers.base import TIERS
from byok.providers.registry import PROVIDERS
from tests.byok.catalog.test_catalog import admin_save, staff_admin
from tests.byok.routing_helpers import key_for, team

TODAY = date(2026, 12, 7)  # the day this data was checked against: Sonnet 4.5 retired a week before


def sync(today: date = TODAY) -> dict:
    from byok.catalog.services import catalog_sync_run

    return catalog_sync_run(today=today)


@pytest.mark.django_db
def test_sync_from_the_installed_packages_retires_sonnet_4_5_and_every_tier_names_a_priced_current_model():
    # Last year's catalog: Sonnet 4.5 available, serving the standard tier, no lifecycle date.
    Model.objects.filter(family="anthropic", serves_standard=True).update(serves_standard=False)
    Model.objects.filter(family="anthropic", model_id="claude-sonnet-4-5-20250929").update(
        status="available", serves_standard=True, retires_on=None, replacement=None)
    report = sync()
    assert report["updated"]["anthropic/claude-sonnet-4-5-20250929"] == ["status", "retires_on", "replacement"]
    assert "anthropic/claude-sonnet-4-5-20250929" in report["retired"]
    sonnet = Model.objects.select_related("replacement").get(family="anthropic", model_id="claude-sonnet-4-5-20250929")
    assert (sonnet.status, sonnet.retires_on, sonnet.tiers) == ("retired", date(2026, 11, 30), [])
    assert sonnet.replacement.model_id == "claude-sonnet-5-5" and sonnet.replacement.status == "available"
    assert tier_models(PROVIDERS["anthropic"])["standard"] == "claude-sonnet-5-5"
    for provider in PROVIDERS.values():
        for tier, model_id in tier_models(provider).items():
            row = Model.objects.get(family=provider.family, model_id=model_id)
            assert row.status != "retired", (provider.id, tier, model_id)
            assert prices_for(provider.family, model_id, today=TODAY), (provider.id, tier, model_id)
    again = sync()
    assert (again["created"], again["updated"], again["retired"]) == ([], {}, [])


@pytest.mark.django_db
def test_the_sync_never_undoes_a_staff_override_made_in_admin():
    sync()
    opus = Model.objects.get(family="anthropic", model_id="claude-opus-4-8")
    admin_save(staff_admin(), opus, max_output_tokens=32000, input_price_per_mtok="4.5")
    opus.refresh_from_db()
    assert opus.staff_overrides == ["input_price_per_mtok", "max_output_tokens"]
    report = sync()
    opus.refresh_from_db()
    assert (opus.max_output_tokens, opus.input_price_per_mtok) == (32000, Decimal("4.5"))
    assert opus.output_price_per_mtok == Decimal("25")  # not overridden: still the package's
    assert report["kept"] == {"anthropic/claude-opus-4-8": ["max_output_tokens", "input_price_per_mtok"]}


@pytest.mark.django_db
def test_every_token_kind_is_priced_to_the_cent_where_usage_is_written():
    sync()
    owner, workspace, member = team()
    # Claude Sonnet 5.5 (genai-prices): $2 input, $10 output, $2.50 5-min write, $4 1-h write, $0.10 read per Mtok.
    entry = UsageEntry(at=timezone.now(), workspace_id=workspace.pk, user_id=member.pk, owner_id=owner.pk,
                       provider="anthropic", model="claude-sonnet-5-5", source="byok", task="standard", key_id=None,
                       key_hint="", input_tokens=1_000, output_tokens=2_000, latency_ms=5, fallback_reason="",
                       credits_charged=0, cache_write_5m_tokens=3_000, cache_write_1h_tokens=4_000,
                       cache_read_tokens=100_000, reasoning_tokens=500)
    _insert_usage([entry])
    record = UsageRecord.objects.get()
    # 1,000×2 + 2,000×10 (500 of them reasoning, billed as output) + 3,000×2.5 + 4,000×4 + 100,000×0.1 = 55,500 µ$
    assert record.estimated_cost == Decimal("0.05550000")
    assert (record.cache_write_5m_tokens, record.cache_write_1h_tokens, record.cache_read_tokens,
            record.reasoning_tokens) == (3_000, 4_000, 100_000, 500)


@pytest.mark.django_db
def test_long_context_and_bedrock_profile_prices_come_from_the_price_data():
    sync()
    # Sonnet 4.5 above 200k prompt tokens: $6 input, $22.50 output per Mtok.
    assert usage_cost(provider="anthropic", model="claude-sonnet-4-5", tokens=TokenCounts(
        input=150_000, cache_read=60_000, output=1_000)) == Decimal("0.9585")  # 150k×6 + 60k×0.6 + 1k×22.5
    # Bedrock: the global profile at Anthropic's price, a regional one 10% above it.
    tokens = TokenCounts(input=1_000_000, output=100_000)
    assert usage_cost(provider="bedrock", model="global.anthropic.claude-sonnet-5-5", tokens=tokens) == Decimal("3")
    assert usage_cost(provider="bedrock", model="eu.anthropic.claude-sonnet-5-5", tokens=tokens) == Decimal("3.3")
    assert usage_cost(provider="openai", model="unknown-model", tokens=tokens) is None


@pytest.mark.django_db
def test_each_models_limits_are_known_by_any_of_its_ids():
    sync()
    assert model_limits("anthropic", "claude-sonnet-4-5") == ModelLimits(200_000, 64_000)
    assert model_limits("bedrock", "us.anthropic.claude-sonnet-5-5") == ModelLimits(1_000_000, 128_000)
    assert model_limits("openai", "gpt-5-mini").max_output_tokens == 128_000
    assert model_limits("openai", "no-such-model") is None


def test_the_sync_command_reports_what_changed(db):
    Model.objects.filter(family="openai", model_id="gpt-5").update(output_price_per_mtok=Decimal("99"))
    out = io.StringIO()
    call_command("sync_model_catalog", "--json", stdout=out)
    report = json.loads(out.getvalue())
    assert report["updated"]["openai/gpt-5"] == ["output_price_per_mtok"]
    assert Model.objects.get(family="openai", model_id="gpt-5").output_price_per_mtok == Decimal("10")


def _current_ids(family: str, kind: str | None = None) -> list[str]:
    return [e["model_id"] for e in catalog_entries(today=TODAY)
            if e["family"] == family and (e["retires_on"] is None or e["retires_on"] > TODAY)
            and kind in (None, e["kind"])]


@pytest.mark.django_db(transaction=True)
def test_v1_models_lists_the_current_models_and_each_answers_on_the_simulator(dataplane, sandbox):
    sync(today=timezone.localdate())
    for provider in ("anthropic", "openai"):
        owner, workspace, member = team()
        key_for(owner, sandbox.add_account(provider), provider=provider)
        listed = {m.id for m in dataplane.openai(member).models.list()}
        current = _current_ids(provider)
        assert current and all(f"{provider}/{model_id}" in listed or model_id in listed for model_id in current)
        for model_id in _current_ids(provider, "chat"):
            completion = dataplane.openai(member).chat.completions.create(
                model=f"{provider}/{model_id}", messages=[{"role": "user", "content": "Say hi."}], max_tokens=20)
            assert completion.choices[0].message.content, model_id
        for model_id in _current_ids(provider, "embedding"):
            embedded = dataplane.openai(member).embeddings.create(model=f"{provider}/{model_id}", input="hi")
            assert embedded.data[0].embedding, model_id
        assert set(TIERS) <= {tier for tier, model_id in tier_models(PROVIDERS[provider]).items()
                              if model_id in current}


@pytest.mark.django_db
def test_a_connection_test_checks_the_tiers_current_models(sandbox):
    from byok.services.connection import connection_test

    sync()
    account = sandbox.add_account("anthropic")
    credentials = PROVIDERS["anthropic"].credentials({"api_key": account.api_key})
    result = connection_test(provider="anthropic", credentials=credentials, actor=None, owner_id=0)
    targets = {check.name: check.target for check in result.checks}
    assert result.ok and targets["model:standard"] == "claude-sonnet-5-5"  # Sonnet 4.5's replacement


@pytest.mark.django_db
def test_embedding_models_come_from_the_model_map_and_each_embedding_tier_is_the_providers_default():
    sync()
    embedding = {(row.family, row.model_id): row for row in Model.objects.filter(kind="embedding")}
    assert {("openai", "text-embedding-3-large"), ("mistral", "mistral-embed"), ("bedrock", "cohere.embed-v4:0"),
            ("vertex", "gemini-embedding-001")} <= set(embedding)
    assert not {family for family, _ in embedding} & {"anthropic", "deepseek", "xai", "groq"}  # they embed nothing
    for provider in PROVIDERS.values():
        if provider.embedding_models and (provider.family, provider.embedding_models[0]) in embedding:
            assert embedding[(provider.family, provider.embedding_models[0])].tiers == ["embedding"]
    small = embedding[("openai", "text-embedding-3-small")]
    assert (small.input_price_per_mtok, small.output_price_per_mtok, small.profile_ids) == (
        Decimal("0.02"), Decimal("0"), {})  # genai-prices' input price; an embedding answers no output tokens
    assert not Model.objects.filter(kind="chat", serves_embedding=True).exists()
    assert not Model.objects.filter(kind="embedding").exclude(serves_standard=False, serves_complex=False).exists()
