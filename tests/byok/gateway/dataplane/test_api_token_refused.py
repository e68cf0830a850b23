"""/v1 speaks for a member in one workspace: only a workspace API key says which. An API token (no workspace) is
refused with a reason that says what to use instead, never a lookup of a workspace named "None"."""

import openai
import pytest

from accounts.services import api_token_create
from tests.byok.routing_helpers import team, use_platform_account

pytestmark = pytest.mark.django_db(transaction=True)
HELLO = [{"role": "user", "content": "Hello"}]


def test_an_api_token_on_v1_is_refused_naming_the_workspace_api_key(dataplane, sandbox, settings):
    owner, workspace, member = team()
    use_platform_account(settings, sandbox)
    token = api_token_create(user=member, name="cli", actor=member)[1]
    client = openai.OpenAI(base_url=f"{dataplane.url}/v1", api_key=token, max_retries=0)
    with pytest.raises(openai.PermissionDeniedError) as refused:
        client.chat.completions.create(model="standard", messages=HELLO)
    assert refused.value.body["code"] == "workspace_required"
    assert "workspace API key" in refused.value.body["message"] and "None" not in refused.value.body["message"]
    assert dataplane.openai(member).chat.completions.create(model="standard", messages=HELLO).choices
