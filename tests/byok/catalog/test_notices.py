"""Who hears about which model: one rule (byok.catalog.selectors.lifecycle_notices) for the lifecycle e-mail and the
console. A model counts when it is deprecated, retiring within BYOK_MODEL_NOTICE_DAYS or retired within as many
days, and calls in the owner's workspaces used it in the last 30 days."""

from datetime import date, timedelta

import pytest
from django.core import mail
from django.utils import timezone

from byok import tasks
from byok.catalog.selectors import lifecycle_notices
from byok.models import Model, UsageRecord
from byok.providers.bedrock.profiles import OPUS_4_5, SONNET_4_5
from tests.byok.catalog.test_catalog import edit
from tests.byok.console.conftest import signed_in
from tests.byok.routing_helpers import team

pytestmark = pytest.mark.django_db
SONNET_4_6 = "anthropic.claude-sonnet-4-6"


def used(owner, workspace, model: str, *, task="standard", provider="bedrock", days_ago=0):
    record = UsageRecord.objects.create(workspace=workspace, owner=owner, provider=provider, model=model,
                                        source="byok", task=task, input_tokens=1)
    if days_ago:
        UsageRecord.objects.filter(pk=record.pk).update(created_at=timezone.now() - timedelta(days=days_ago))


def bedrock(model_id: str) -> Model:
    return Model.objects.get(family="bedrock", model_id=model_id)


@pytest.fixture
def sonnet_4_6():
    return Model.objects.get(family="bedrock", model_id=SONNET_4_6)  # listed by the packages


def test_only_models_the_traffic_used_lately_and_within_the_window(sonnet_4_6, settings):
    today = timezone.localdate()
    alice, alices, _ = team()
    bob, bobs, _ = team()
    carol, carols, _ = team()
    used(alice, alices, "us." + SONNET_4_5)  # a profile id of the deprecated model
    used(bob, bobs, "global." + OPUS_4_5, task="complex")  # a prefix the catalog does not list
    used(carol, carols, "us." + SONNET_4_5, days_ago=31)  # too long ago
    used(carol, carols, "anthropic.claude-haiku-4-5-20251001-v1:0")  # a model with no notice
    used(carol, carols, "claude-sonnet-4-5-20250929", provider="anthropic")  # the same name in another family
    edit(bedrock(SONNET_4_5), status="deprecated", deprecated_on=today, retires_on=today + timedelta(days=20),
         replacement=sonnet_4_6)
    edit(bedrock(OPUS_4_5), retires_on=today + timedelta(days=45))  # beyond the 30-day window

    [notice] = [n for n in lifecycle_notices() if n.model.family == "bedrock"]
    assert (notice.model.model_id, notice.owner_ids, notice.workspaces) == (SONNET_4_5, {alice.pk}, (alices.name,))
    # Anthropic's own Sonnet 4.5 (retired on 2026-11-30 by the packages) is a notice of its own, for carol.
    assert {n.model.family for n in lifecycle_notices()} <= {"bedrock", "anthropic"}
    assert notice.replacement.display_name == "Claude Sonnet 4.6"
    assert notice.tier_moves == (("standard", "Claude Sonnet 4.6"),) and not notice.named_directly

    settings.BYOK_MODEL_NOTICE_DAYS = 60
    assert {(n.model.model_id, n.owner_ids) for n in lifecycle_notices() if n.model.family == "bedrock"} == {
        (SONNET_4_5, frozenset({alice.pk})), (OPUS_4_5, frozenset({bob.pk}))}
    assert lifecycle_notices(workspace_ids=[bobs.pk])[0].model.model_id == OPUS_4_5


def test_a_retired_model_counts_within_the_window_and_says_what_serves_its_tier_now(sonnet_4_6):
    today = timezone.localdate()
    owner, workspace, _ = team()
    used(owner, workspace, "us." + SONNET_4_5)
    used(owner, workspace, SONNET_4_5, task="model", days_ago=2)  # named by its id
    edit(bedrock(SONNET_4_5), retires_on=today, replacement=sonnet_4_6)
    tasks.model_lifecycle.apply()

    [notice] = lifecycle_notices()
    assert notice.model.retired and notice.named_directly
    assert notice.tier_moves == (("standard", "Claude Sonnet 4.6"),)  # what the tier's next call uses
    assert lifecycle_notices(today=today + timedelta(days=30)) != []
    assert lifecycle_notices(today=today + timedelta(days=31)) == []


def test_no_replacement_says_what_serves_the_tier_and_never_names_the_retiring_model_itself():
    today = timezone.localdate()
    owner, workspace, _ = team()
    used(owner, workspace, "us." + SONNET_4_5)
    used(owner, workspace, "us." + OPUS_4_5, task="complex")
    edit(bedrock(SONNET_4_5), retires_on=today + timedelta(days=5), replacement=None)
    edit(bedrock(OPUS_4_5), serves_complex=False)
    edit(bedrock("anthropic.claude-haiku-4-5-20251001-v1:0"), serves_complex=True, retires_on=today + timedelta(days=5))
    used(owner, workspace, "us.anthropic.claude-haiku-4-5-20251001-v1:0", task="complex")

    notices = {n.model.model_id: n for n in lifecycle_notices()}
    # Sonnet 4.5 is Bedrock's code default for the standard tier: with no replacement it would still be called.
    assert notices[SONNET_4_5].tier_moves == (("standard", None),)
    # Haiku serves the complex tier; without it, the code default (Opus 4.5) does.
    assert notices["anthropic.claude-haiku-4-5-20251001-v1:0"].tier_moves == (("complex", "Claude Opus 4.5"),)


def test_the_email_and_the_console_follow_the_one_rule(sonnet_4_6):
    today = timezone.localdate()
    heard, heard_workspace, _ = team()
    quiet, quiet_workspace, _ = team()
    used(heard, heard_workspace, "us." + SONNET_4_5)
    used(quiet, quiet_workspace, "us." + OPUS_4_5, task="complex")
    edit(bedrock(SONNET_4_5), status="deprecated", retires_on=today + timedelta(days=10), replacement=sonnet_4_6)

    tasks.model_lifecycle.apply()
    assert [m.to for m in mail.outbox] == [[heard.email]]
    assert "Claude Sonnet 4.5" in signed_in(heard).get("/manage/").content.decode().split('id="model-notices"')[1]
    assert 'id="model-notices"' not in signed_in(quiet).get("/manage/").content.decode()


def test_the_providers_api_lists_each_models_lifecycle(client_for, sonnet_4_6):
    edit(bedrock(SONNET_4_5), status="deprecated", deprecated_on=date(2026, 9, 1), retires_on=date(2026, 12, 1),
         replacement=sonnet_4_6)
    listing = {p["id"]: p for p in client_for(team()[0]).get("/api/v1/providers/").json()}
    sonnet = next(m for m in listing["bedrock_api_key"]["catalog"] if m["model_id"] == SONNET_4_5)
    assert {name: sonnet[name] for name in ("status", "deprecated_on", "retires_on", "replacement")} == {
        "status": "deprecated", "deprecated_on": "2026-09-01", "retires_on": "2026-12-01", "replacement": SONNET_4_6}
