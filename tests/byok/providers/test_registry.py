"""Every list of providers outside the registry derives from it, or is checked against it here."""

import re
from pathlib import Path

from byok.checks import endpoint_settings_known
from byok.providers.registry import FAMILIES, PROVIDERS, endpoint_overrides, platform_provider, providers_table

ENV_EXAMPLE = Path(__file__).resolve().parents[3] / ".env.example"


def env_example() -> dict[str, str]:
    lines = ENV_EXAMPLE.read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if re.match(r"[A-Z][A-Z0-9_]*=", line))


def test_env_example_lists_every_endpoint_setting_a_provider_reads_in_registry_order():
    listed = [name for name in env_example() if name.startswith("BYOK_") and name.endswith(("_BASE_URL", "_ENDPOINT_URL"))]
    assert listed == list(endpoint_overrides())


def test_env_example_lists_each_familys_platform_credentials_and_nothing_no_provider_reads():
    filled = {name: "x" for name in env_example() if name.startswith("PLATFORM_")}

    def platform(env):  # the default set and each geography's own (PLATFORM_…_EU)
        return [platform_provider(family).platform_credentials(env) for family in FAMILIES] + [
            platform_provider(family).platform_set(env, "eu") for family in FAMILIES]

    assert all(credentials.configured for credentials in platform(filled)[:len(FAMILIES)])
    for name in filled:  # each variable changes what some family's platform credentials are
        assert platform({k: v for k, v in filled.items() if k != name}) != platform(filled), name


def test_the_providers_table_names_each_provider_its_family_and_endpoint_variables():
    rows = providers_table().splitlines()
    assert rows[0] == "| id | name | family | endpoint variables |" and len(rows) == 2 + len(PROVIDERS)
    assert "| `groq` | Groq | `groq` | `BYOK_GROQ_BASE_URL` |" in rows
    assert "| `bedrock` | AWS Bedrock (IAM credentials) | `bedrock` | `BYOK_BEDROCK_ENDPOINT_URL`, `BYOK_STS_ENDPOINT_URL` |" in rows


def test_an_endpoint_setting_no_provider_reads_is_a_warning(settings, simulator):
    settings.BYOK_ENDPOINTS = simulator.env()
    assert endpoint_settings_known(None) == []
    settings.BYOK_ENDPOINTS = {**simulator.env(), "BYOK_GROK_BASE_URL": f"{simulator.url}/groq/v1"}
    [warning] = endpoint_settings_known(None)
    assert warning.id == "byok.W001" and "BYOK_GROK_BASE_URL" in warning.msg and "BYOK_GROQ_BASE_URL" in warning.hint
