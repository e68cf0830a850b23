"""One call path: the same request through the REST completion endpoint (the sync bridge) and `/v1/chat/completions`
(the data plane) is the same call — the same answer and the same usage record — for every provider."""

import pytest


from byok.models import UsageRecord
from byok.providers.registry import PROVIDERS
from byok.services.keys import provider_key_create
from byok.services.roles import owner_external_id
from tests.byok.routing_helpers import key_for, team, use_platform_account, vertex_key_for

pytestmark = pytest.mark.django_db(transaction=True)

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "system", "content": "Answer in English."},
            {"role": "user", "content": "Summarise the quarterly report in one line."}]
ROLE_PLATFORM_ACCOUNT = "999900001111"
RECORDED = ("provider", "model", "source", "key_id", "key_hint", "input_tokens", "output_tokens", "estimated_cost",
            "credits_charged", "fallback_reason")


def owner_key(sandbox, settings, provider: str):
    owner, workspace, member = team()
    if provider == "vertex":
        account = sandbox.add_account("vertex")
        key = vertex_key_for(owner, sandbox, account)
    elif provider == "bedrock_role":
        use_platform_account(settings, sandbox, account_id=ROLE_PLATFORM_ACCOUNT)
        settings.BYOK_PLATFORM_AWS_ACCOUNT_ID = ROLE_PLATFORM_ACCOUNT
        roles = [{"name": "byok-bedrock", "trusted_account": ROLE_PLATFORM_ACCOUNT,
                  "external_id": owner_external_id(owner)}]
        sandbox.add_account("bedrock", account_id="210987654321", roles=roles)
        key = provider_key_create(owner=owner, provider="bedrock_role", name="role", inference_profile="us",
                                  skip_test=True,
                                  credentials={"role_arn": "arn:aws:iam::210987654321:role/byok-bedrock"})
    else:
        key = key_for(owner, sandbox.add_account(provider), provider=provider)
    return workspace, member, key


@pytest.mark.parametrize("provider", list(PROVIDERS))
def test_rest_and_v1_make_the_same_call(dataplane, sandbox, settings, client_for, provider):
    workspace, member, key = owner_key(sandbox, settings, provider)
    rest = client_for(member).post(f"/api/v1/workspaces/{workspace.slug}/completions/",
                                   {"messages": MESSAGES, "provider": provider, "max_tokens": 300}, format="json")
    assert rest.status_code == 200, rest.json()
    completion = dataplane.openai(member).chat.completions.create(
        model=f"{PROVIDERS[provider].family}/standard", messages=MESSAGES, max_tokens=300)
    dataplane.flush_usage()

    assert rest.json()["output"] == completion.choices[0].message.content
    by_rest, by_v1 = UsageRecord.objects.order_by("id").values(*RECORDED)
    assert by_rest == by_v1
    assert (by_rest["source"], by_rest["key_id"], by_rest["provider"]) == ("byok", key.pk, provider)
    assert by_rest["estimated_cost"] is not None and by_rest["input_tokens"] > 0
    assert rest.json()["model"] == completion.model == by_rest["model"]
