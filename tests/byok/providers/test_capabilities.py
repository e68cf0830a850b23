"""What the rest of byok asks of a provider, answered by the provider alone (no database, no network)."""

import pytest

from byok.providers.base import CredentialsInvalid, Provider
from byok.providers.registry import FAMILIES, PROVIDERS, platform_provider, session_refreshing_providers
from tests.byok.keys_data import BEDROCK_AKIA, BEDROCK_API_KEY, VALID


def test_every_provider_implements_the_whole_interface():
    for provider in PROVIDERS.values():
        assert isinstance(provider, Provider)
        assert not getattr(type(provider), "__abstractmethods__", None), provider.id
        assert set(provider.models) == {"standard", "complex"}, provider.id


def test_bedrock_models_carry_the_inference_profile_prefix_and_others_do_not():
    bedrock, openai = PROVIDERS["bedrock"], PROVIDERS["openai"]
    assert bedrock.model_for("complex", inference_profile="eu") == "eu.anthropic.claude-opus-4-5-20251101-v1:0"
    assert openai.model_for("standard") == "gpt-5-mini"


def test_profiles_default_validate_and_are_refused_where_a_provider_has_none():
    assert PROVIDERS["bedrock"].profile_for("") == "global"
    assert PROVIDERS["bedrock_api_key"].profile_for("apac") == "apac"
    with pytest.raises(CredentialsInvalid) as unknown:
        PROVIDERS["bedrock"].profile_for("mars")
    assert "inference_profile" in unknown.value.fields
    with pytest.raises(CredentialsInvalid):
        PROVIDERS["anthropic"].profile_for("us")
    assert PROVIDERS["anthropic"].profile_for("") == ""


def test_regions_come_from_the_profile_or_from_the_api_key_itself():
    assert PROVIDERS["bedrock"].region_for(inference_profile="eu") == "eu-central-1"
    assert PROVIDERS["bedrock_api_key"].region_for(inference_profile="us", regions=["us-west-2"]) == "us-west-2"
    assert PROVIDERS["openai"].region_for(inference_profile="") == ""


def test_only_long_term_bedrock_keys_and_role_keys_refresh_sessions():
    assert session_refreshing_providers() == {"bedrock": ("long_term",), "bedrock_role": ("role",)}
    assert not PROVIDERS["bedrock_role"].refreshes_session("long_term")
    assert PROVIDERS["bedrock"].refreshes_session("long_term")
    assert not PROVIDERS["bedrock"].refreshes_session("temporary")
    assert not PROVIDERS["bedrock_api_key"].refreshes_session("api_key")


def test_platform_credentials_are_read_from_the_environment_by_each_provider():
    env = {"PLATFORM_AWS_ACCESS_KEY_ID": BEDROCK_AKIA["access_key_id"],
           "PLATFORM_AWS_SECRET_ACCESS_KEY": BEDROCK_AKIA["secret_access_key"], "PLATFORM_AWS_REGION": "eu-west-1",
           "PLATFORM_GROQ_API_KEY": VALID["groq"]["api_key"]}
    bedrock = platform_provider("bedrock").platform_credentials(env)
    assert bedrock.configured and bedrock.region == "eu-west-1" and bedrock.inference_profile == "us"
    assert platform_provider("groq").platform_credentials(env).values == {"api_key": VALID["groq"]["api_key"]}
    assert not platform_provider("openai").platform_credentials(env).configured
    assert {platform_provider(family).id for family in FAMILIES} == set(FAMILIES)


def test_a_rotation_keeps_non_secret_fields_but_never_the_old_key_id_or_secret():
    bedrock, api_key = PROVIDERS["bedrock"], PROVIDERS["bedrock_api_key"]
    assert bedrock.values_kept_on_rotation({**BEDROCK_AKIA, "regional": [{"regions": ["eu-west-1"]}]}) == {}
    assert api_key.values_kept_on_rotation(BEDROCK_API_KEY) == {"region": "us-east-1"}


def test_a_session_replaces_the_long_term_secret_in_the_credentials_models_are_called_with():
    bedrock = PROVIDERS["bedrock"]
    session = {"access_key_id": "ASIA" + "Z" * 16, "secret_access_key": "s" * 40, "session_token": "t" * 32}
    merged = bedrock.with_session(bedrock.credentials(BEDROCK_AKIA), session)
    assert dict(merged) == session
    assert BEDROCK_AKIA["secret_access_key"] not in repr(merged)


def test_access_policies_exist_only_where_there_are_profiles():
    policy = PROVIDERS["bedrock"].access_policy("eu")
    resources = policy["Statement"][0]["Resource"]
    assert any("inference-profile/eu.anthropic.claude-sonnet" in r for r in resources)
    assert PROVIDERS["openai"].access_policy("") is None
