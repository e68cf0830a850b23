"""The data plane with provider keys scoped to workspace API keys: each API key's calls use its own provider key;
a call with another API key of the workspace falls to the owner-wide key (or platform credentials)."""

import pytest

from byok.models import ProviderKey, UsageRecord
from tests.byok.routing_helpers import key_for, team, use_platform_account

pytestmark = pytest.mark.django_db(transaction=True)

HELLO = [{"role": "user", "content": "Summarise the quarterly report in one line."}]


def test_each_api_key_uses_its_own_provider_key(dataplane, sandbox, settings):
    owner, workspace, member = team()
    staging, raw_staging = dataplane.api_key(member, workspace, name="staging")
    production, raw_production = dataplane.api_key(member, workspace, name="production")
    _, raw_other = dataplane.api_key(member, workspace, name="other")
    staging_account, production_account = sandbox.add_account("openai"), sandbox.add_account("openai")
    platform = use_platform_account(settings, sandbox, provider="openai")
    key_for(owner, staging_account, provider="openai", name="staging key",
            scope=ProviderKey.Scope.API_KEYS, api_keys=[staging])
    key_for(owner, production_account, provider="openai", name="production key",
            scope=ProviderKey.Scope.API_KEYS, api_keys=[production])

    for raw in (raw_staging, raw_production, raw_production, raw_other):
        raw_response = dataplane.openai(member, key=raw).chat.completions.with_raw_response.create(
            model="openai/standard", messages=HELLO)
        assert raw_response.parse().choices[0].message.content
        assert raw_response.headers["x-byok-source"] == ("platform" if raw == raw_other else "byok")
    assert sandbox.calls("openai.ChatCompletions") == {staging_account.name: 1, production_account.name: 2,
                                                       platform.name: 1}

    owner_wide = sandbox.add_account("openai")
    key_for(owner, owner_wide, provider="openai", name="owner-wide key")  # the generation bump drops cached answers
    for raw in (raw_other, raw_staging):
        dataplane.openai(member, key=raw).chat.completions.create(model="openai/standard", messages=HELLO)
    assert sandbox.calls("openai.ChatCompletions") == {staging_account.name: 2, production_account.name: 2,
                                                       platform.name: 1, owner_wide.name: 1}
    dataplane.flush_usage()
    assert UsageRecord.objects.filter(source="byok").count() == 5
