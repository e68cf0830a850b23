import pytest

from tests.byok.routing_helpers import key_for, team

pytestmark = pytest.mark.django_db(transaction=True)


def test_smoke_openai_chat_on_bedrock(dataplane, sandbox):
    owner, workspace, member = team()
    key_for(owner, sandbox.add_account("bedrock"))
    client = dataplane.openai(member)
    reply = client.chat.completions.with_raw_response.create(
        model="standard", messages=[{"role": "user", "content": "Hello there"}])
    print(reply.headers)
    completion = reply.parse()
    print(completion)
    assert completion.choices[0].message.content
