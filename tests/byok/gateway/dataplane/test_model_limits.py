"""Limits known before the call: a max_tokens above the model's limit (the catalog's max output tokens) is lowered
on a tier or an alias, whose model the client cannot know, and said in X-BYOK-Adjusted; on a model id it is a 400
naming the limit before any provider call, and never counts against the owner's key. A prompt that certainly exceeds
the context window (more words than it has tokens) is a 400 naming it, on every endpoint, by tier or id."""

import anthropic
import openai
import pytest

from byok.catalog.selectors import model_limits
from byok.gateway.dataplane import _more_words_than
from byok.models import ProviderKey, UsageRecord
from tests.byok.routing_helpers import key_for, team

pytestmark = pytest.mark.django_db(transaction=True)
HI = [{"role": "user", "content": "Hi"}]


@pytest.fixture
def claude(dataplane, sandbox):
    owner, workspace, member = team()
    key = key_for(owner, sandbox.add_account("anthropic"), provider="anthropic")
    return dataplane.anthropic(member), dataplane.openai(member), key


def test_an_alias_gets_the_models_limit_and_says_so(claude, sandbox):
    messages_client, chat_client, key = claude
    raw = messages_client.messages.with_raw_response.create(model="claude-sonnet", max_tokens=1_000_000, messages=HI)
    model = raw.headers["x-byok-model"]
    ceiling = model_limits("anthropic", model).max_output_tokens
    assert ceiling < 1_000_000 and raw.headers["x-byok-adjusted"] == f"max_tokens={ceiling}"
    # the simulator refuses a max_tokens above the model's published limit, as Anthropic does: it was lowered
    assert raw.parse().content and sandbox.call_log("anthropic.CreateMessage")[-1]["status"] == 200
    chat = chat_client.chat.completions.with_raw_response.create(model="standard", max_tokens=10_000_000,
                                                                 messages=HI)
    assert chat.headers["x-byok-adjusted"].startswith("max_tokens=")


def test_a_model_id_above_its_limit_is_a_400_before_any_call(claude, sandbox, dataplane):
    messages_client, chat_client, key = claude
    model = messages_client.messages.create(model="claude-sonnet", max_tokens=10, messages=HI).model
    ceiling = model_limits("anthropic", model).max_output_tokens
    calls = len(sandbox.call_log())
    with pytest.raises(anthropic.BadRequestError, match=f"limit of {ceiling} output tokens"):
        messages_client.messages.create(model=model, max_tokens=ceiling + 1, messages=HI)
    assert len(sandbox.call_log()) == calls
    key.refresh_from_db()
    assert key.failing_since is None and not key.model_breakers and key.status == ProviderKey.Status.ACTIVE
    dataplane.flush_usage()
    assert UsageRecord.objects.count() == 1


def test_a_prompt_over_the_context_window_is_a_400_before_any_call(claude, sandbox, dataplane):
    messages_client, chat_client, key = claude
    model = messages_client.messages.create(model="claude-sonnet", max_tokens=10, messages=HI).model
    window = model_limits("anthropic", model).context_window
    too_long = [{"role": "user", "content": "word " * (window + 1)}]
    calls = len(sandbox.call_log())
    with pytest.raises(anthropic.BadRequestError, match=f"more than {window} tokens, {model}'s context window"):
        messages_client.messages.create(model="claude-sonnet", max_tokens=10, messages=too_long)
    with pytest.raises(openai.BadRequestError, match="context window") as refused:
        chat_client.chat.completions.create(model=model, messages=too_long)
    assert refused.value.body["param"] == "messages"
    with pytest.raises(openai.BadRequestError, match="context window") as refused:
        chat_client.responses.create(model=model, input="word " * (window + 1))
    assert refused.value.body["param"] == "input"
    assert len(sandbox.call_log()) == calls
    key.refresh_from_db()
    assert key.failing_since is None and not key.model_breakers and key.status == ProviderKey.Status.ACTIVE
    dataplane.flush_usage()
    assert UsageRecord.objects.count() == 1


def test_an_embedding_input_over_the_models_window_is_a_400_naming_it(dataplane, sandbox):
    owner, workspace, member = team()
    key_for(owner, sandbox.add_account("openai"), provider="openai")
    client = dataplane.openai(member)
    raw = client.embeddings.with_raw_response.create(model="openai/embedding", input="hello")
    model = raw.headers["x-byok-model"]
    window = model_limits("openai", model).context_window
    calls = len(sandbox.call_log())
    with pytest.raises(openai.BadRequestError, match=rf"input\[1\] has more than {window} tokens") as refused:
        client.embeddings.create(model="openai/embedding", input=["fine", "word " * (window + 1)])
    assert refused.value.body["param"] == "input" and len(sandbox.call_log()) == calls


def test_the_word_count_skips_splitting_only_where_it_cannot_exceed():
    """n words take at least 2n - 1 characters: below that bound nothing is split, above it every word counts."""
    assert not _more_words_than(["a b c"], 3)  # 5 characters: at most 3 words
    assert _more_words_than(["a b c d"], 3)
    assert _more_words_than(["a b", "c d"], 3)  # words of several texts add up
    assert not _more_words_than(["aaaaaaaaaaaaaaaa"], 3)  # long, but one word
    assert _more_words_than(["x " * 10**6], 3)
