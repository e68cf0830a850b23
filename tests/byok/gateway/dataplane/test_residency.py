"""Residency-safe fallback: the geography of the owner's key (its inference profile, its location) bounds where its
fallback runs. Platform credentials of that geography serve it; without them the call is a 503 in the endpoint's
shape and no call leaves — the simulator's call log shows every call byok made."""

import openai
import pytest

from byok.providers.base import region_geography
from byok.providers.registry import PROVIDERS
from tests.byok.routing_helpers import MESSAGES, key_for, team, use_platform_account

pytestmark = pytest.mark.django_db(transaction=True)
TEMPORARY = "FwoGZXIvYXdzEXAMPLEtoken0123456789"  # a temporary key: calls sign with it directly (no STS first)


@pytest.fixture
def failing_eu_key(sandbox):
    """A member; the owner's Bedrock key on the EU profile, whose credentials the provider rejects."""
    owner, workspace, member = team()
    account = sandbox.add_account("bedrock", behaviour="expired", session_token=TEMPORARY)
    key_for(owner, account, inference_profile="eu")
    return member, account


def eu_platform_account(settings, sandbox):
    account = sandbox.add_account("bedrock")
    settings.BYOK_PLATFORM_ENV = {**settings.BYOK_PLATFORM_ENV,
                                  "PLATFORM_AWS_ACCESS_KEY_ID_EU": account.access_key_id,
                                  "PLATFORM_AWS_SECRET_ACCESS_KEY_EU": account.secret_access_key}
    return account


def test_an_eu_key_with_only_us_platform_credentials_gets_a_503_and_nothing_leaves(dataplane, sandbox, settings,
                                                                                 failing_eu_key):
    member, account = failing_eu_key
    us_platform = use_platform_account(settings, sandbox)
    with pytest.raises(openai.InternalServerError) as raised:
        dataplane.openai(member).chat.completions.create(model="standard", messages=MESSAGES)
    assert raised.value.status_code == 503
    error = raised.value.body
    assert error["code"] == "platform_credentials_missing" and "eu geography" in error["message"]
    log = sandbox.call_log()
    assert {call["account"] for call in log} == {account.name}  # the owner's own EU attempt, nothing else
    assert all(region_geography(call["region"]) == "eu" for call in log if call.get("region"))
    assert us_platform.name not in {call["account"] for call in log}


def test_an_eu_key_falls_back_on_eu_platform_credentials_in_the_eu(dataplane, sandbox, settings, failing_eu_key):
    member, account = failing_eu_key
    us_platform = use_platform_account(settings, sandbox)
    eu_platform = eu_platform_account(settings, sandbox)
    raw = dataplane.openai(member).chat.completions.with_raw_response.create(model="standard", messages=MESSAGES)
    assert (raw.headers["x-byok-source"], raw.headers["x-byok-fallback-reason"]) == ("platform", "expired")
    [served] = [call for call in sandbox.call_log("bedrock.Converse") if call["account"] == eu_platform.name]
    assert served["region"].startswith("eu-") and served["model"].startswith("eu.")
    assert us_platform.name not in {call["account"] for call in sandbox.call_log()}


def test_a_global_key_still_falls_back_anywhere(dataplane, sandbox, settings):
    owner, workspace, member = team()
    key_for(owner, sandbox.add_account("bedrock", behaviour="expired", session_token=TEMPORARY),
            inference_profile="global")
    us_platform = use_platform_account(settings, sandbox)
    raw = dataplane.openai(member).chat.completions.with_raw_response.create(model="standard", messages=MESSAGES)
    assert raw.headers["x-byok-source"] == "platform"
    assert us_platform.name in {call["account"] for call in sandbox.call_log("bedrock.Converse")}


def test_the_default_platform_set_serves_its_own_geography():
    bedrock = PROVIDERS["bedrock"]
    us_only = {"PLATFORM_AWS_ACCESS_KEY_ID": "AKIAUS", "PLATFORM_AWS_SECRET_ACCESS_KEY": "s",
               "PLATFORM_BEDROCK_INFERENCE_PROFILE": "us"}
    assert bedrock.platform_credentials_in(us_only, "us").values["access_key_id"] == "AKIAUS"
    assert not bedrock.platform_credentials_in(us_only, "eu").configured
    assert not bedrock.platform_credentials_in(us_only, "apac").configured
    with_eu = {**us_only, "PLATFORM_AWS_ACCESS_KEY_ID_EU": "AKIAEU", "PLATFORM_AWS_SECRET_ACCESS_KEY_EU": "s"}
    eu = bedrock.platform_credentials_in(with_eu, "eu")
    assert (eu.values["access_key_id"], eu.inference_profile, eu.region) == ("AKIAEU", "eu", "eu-central-1")
    # A set that would run elsewhere never serves the geography, whatever its suffix says.
    wrong = {**with_eu, "PLATFORM_BEDROCK_INFERENCE_PROFILE_EU": "us"}
    assert not bedrock.platform_credentials_in(wrong, "eu").configured
    vertex = PROVIDERS["vertex"]
    vertex_env = {"PLATFORM_VERTEX_SERVICE_ACCOUNT_JSON": "{}", "PLATFORM_VERTEX_LOCATION": "us-east5",
                  "PLATFORM_VERTEX_SERVICE_ACCOUNT_JSON_EU": "{}", "PLATFORM_VERTEX_LOCATION_EU": "europe-west1"}
    assert vertex.platform_credentials_in(vertex_env, "eu").region == "europe-west1"
    assert vertex.geography(inference_profile="", regions=("europe-west4",)) == "eu"
    assert vertex.geography(inference_profile="", regions=("global",)) == ""
