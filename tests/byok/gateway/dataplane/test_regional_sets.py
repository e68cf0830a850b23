"""X-BYOK-Region on the data plane: a long-term regional credential set signs with its own STS session (never its
long-term secret, as the simulator's record of who signed shows), and the response and usage name that set's hint."""

import pytest

from byok.models import ProviderKey, UsageRecord
from byok.providers.base import hint
from tests.byok.routing_helpers import key_for, regional_set, team, use_platform_account

pytestmark = pytest.mark.django_db(transaction=True)

HELLO = [{"role": "user", "content": "Summarise the quarterly report in one line."}]
REGION = {"X-BYOK-Region": "eu-west-1"}


@pytest.fixture
def regional_key(sandbox):
    """A member, and the owner's eu key: main set on one account, a long-term eu-west-1 set on another."""
    owner, workspace, member = team()
    main, regional = sandbox.add_account("bedrock"), sandbox.add_account("bedrock")
    key = key_for(owner, main, inference_profile="eu", regional_credentials=[regional_set(regional, "eu-west-1")])
    return member, key, main, regional


def signers(sandbox, operation: str) -> set[str]:
    """The access key ids that signed `operation` (the simulator records each caller's key id)."""
    return set(sandbox.calls(operation))


def usage(dataplane) -> list[tuple]:
    dataplane.flush_usage()
    return list(UsageRecord.objects.order_by("id").values_list("source", "key_id", "key_hint"))


def test_a_regional_call_signs_with_the_sets_session_and_names_its_hint(dataplane, sandbox, regional_key):
    member, key, main, regional = regional_key
    raw = dataplane.openai(member, **REGION).chat.completions.with_raw_response.create(model="standard",
                                                                                      messages=HELLO)
    assert raw.parse().choices[0].message.content
    regional_hint = hint(regional.access_key_id)
    assert raw.headers["x-byok-source"] == "byok"
    assert raw.headers["x-byok-key-hint"] == regional_hint.replace("…", "...") != key.key_hint.replace("…", "...")
    own = ProviderKey.objects.get(pk=key.pk).get_session()["regional"][0]
    assert own["access_key_id"].startswith("ASIA")
    assert signers(sandbox, "bedrock.Converse") == {own["access_key_id"]}
    assert sandbox.server.stats()["by_account"][regional.name] == {"sts.GetSessionToken": 1, "bedrock.Converse": 1}
    assert usage(dataplane) == [("byok", key.pk, regional_hint)]


def test_a_call_without_the_header_still_names_the_main_set(dataplane, sandbox, regional_key):
    member, key, main, regional = regional_key
    raw = dataplane.openai(member).chat.completions.with_raw_response.create(model="standard", messages=HELLO)
    assert raw.headers["x-byok-key-hint"] == key.key_hint.replace("…", "...")
    assert "bedrock.Converse" not in sandbox.server.stats()["by_account"].get(regional.name, {})
    assert usage(dataplane) == [("byok", key.pk, key.key_hint)]


def test_a_streamed_regional_messages_call_signs_with_the_sets_session(dataplane, sandbox, regional_key):
    member, key, main, regional = regional_key
    with dataplane.anthropic(member, **REGION).messages.stream(model="claude-opus", max_tokens=100,
                                                               messages=HELLO) as stream:
        assert "".join(stream.text_stream)
        assert stream.response.headers["x-byok-key-hint"] == hint(regional.access_key_id).replace("…", "...")
    own = ProviderKey.objects.get(pk=key.pk).get_session()["regional"][0]
    assert signers(sandbox, "bedrock.InvokeModelWithResponseStream") == {own["access_key_id"]}
    assert usage(dataplane) == [("byok", key.pk, hint(regional.access_key_id))]


def test_a_session_stored_before_regional_sessions_is_replaced_before_the_regional_call(dataplane, sandbox,
                                                                                       regional_key):
    member, key, main, regional = regional_key
    client = dataplane.openai(member)
    client.chat.completions.create(model="standard", messages=HELLO)  # the main set: the session is obtained
    stored = ProviderKey.objects.get(pk=key.pk)
    main_only = {name: value for name, value in stored.get_session().items() if name != "regional"}
    stored.set_session(main_only, stored.session_token_expires_at)  # valid for hours: only its shape is old
    stored.save(update_fields=["session_secret"])
    raw = dataplane.openai(member, **REGION).chat.completions.with_raw_response.create(model="standard",
                                                                                      messages=HELLO)
    assert (raw.headers["x-byok-source"], raw.headers["x-byok-fallback-reason"]) == ("byok", "")
    own = ProviderKey.objects.get(pk=key.pk).get_session()["regional"][0]
    assert regional.access_key_id not in signers(sandbox, "bedrock.Converse")
    assert sandbox.calls("bedrock.Converse").get(own["access_key_id"]) == 1
    assert sandbox.calls("sts.GetSessionToken") == {main.access_key_id: 2, regional.access_key_id: 2}


def test_a_regional_set_sts_refuses_falls_back_and_fails_the_key(dataplane, sandbox, settings):
    owner, workspace, member = team()
    platform = use_platform_account(settings, sandbox, profile="eu")  # an EU key falls back in the EU only
    main, regional = sandbox.add_account("bedrock"), sandbox.add_account("bedrock", sts_get_session_token=False)
    key = key_for(owner, main, inference_profile="eu", regional_credentials=[regional_set(regional, "eu-west-1")])
    raw = dataplane.openai(member, **REGION).chat.completions.with_raw_response.create(model="standard",
                                                                                      messages=HELLO)
    assert (raw.headers["x-byok-source"], raw.headers["x-byok-fallback-reason"]) == ("platform", "permission_denied")
    assert signers(sandbox, "bedrock.Converse") == {platform.access_key_id}
    assert ProviderKey.objects.get(pk=key.pk).status == ProviderKey.Status.FAILING
