"""The provider catalog: every plug-in by id. Adding a provider means one module and one line here."""

from core.errors import DomainError

from .anthropic import AnthropicProvider
from .base import Provider
from .bedrock import BedrockApiKeyProvider, BedrockProvider
from .openai_compat import DEEPSEEK, MISTRAL, OPENAI, XAI, ZAI

PROVIDERS: dict[str, Provider] = {
    p.id: p
    for p in (BedrockProvider(), BedrockApiKeyProvider(), AnthropicProvider(), OPENAI, MISTRAL, DEEPSEEK, XAI, ZAI)
}
PROVIDER_CHOICES = [(p.id, p.name) for p in PROVIDERS.values()]
FAMILIES = list(dict.fromkeys(p.family for p in PROVIDERS.values()))  # catalog order


class UnknownProvider(DomainError):
    code = "invalid"
    status = 400


def get_provider(provider_id: str) -> Provider:
    try:
        return PROVIDERS[provider_id]
    except KeyError:
        raise UnknownProvider(
            f"Unknown provider {provider_id!r}.",
            fields={"provider": [f"Unknown provider; choose one of: {', '.join(PROVIDERS)}."]},
        ) from None
