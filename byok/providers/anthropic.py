"""Anthropic's API with an owner's `sk-ant-…` key."""

from .base import CredentialField, Provider, pattern_validator

CLAUDE_MODELS = {"standard": "claude-sonnet-4-5-20250929", "complex": "claude-opus-4-5-20251101"}


class AnthropicProvider(Provider):
    id = "anthropic"
    name = "Anthropic"
    family = "anthropic"
    models = CLAUDE_MODELS
    docs_url = "https://docs.anthropic.com/en/api/getting-started"
    hint_prefix = 7
    credential_fields = (
        CredentialField(
            "api_key", "API key", secret=True,
            validate=pattern_validator(
                label="API key", regex=r"sk-ant-[A-Za-z0-9_-]{20,200}", prefixes=("sk-ant-",),
                expectation="an Anthropic key looks like sk-ant-api03-… (from console.anthropic.com).",
            ),
        ),
    )
