"""Every provider plug-in by id. Adding a provider means its module, one line here, and its simulator module.

Every list of providers elsewhere derives from this one: endpoint settings (`make run`'s sandbox environment, the
simulator's routes, `.env.example`), choices, families and the docs' providers table."""

from core.errors import DomainError

from .anthropic import AnthropicProvider
from .base import CredentialType, Provider
from .bedrock import BedrockApiKeyProvider, BedrockProvider, BedrockRoleProvider
from .openai_compat import DEEPSEEK, GROQ, MISTRAL, OPENAI, XAI, ZAI
from .vertex import VertexProvider

PROVIDERS: dict[str, Provider] = {
    p.id: p
    for p in (BedrockProvider(), BedrockApiKeyProvider(), BedrockRoleProvider(), AnthropicProvider(), OPENAI, MISTRAL,
              DEEPSEEK, XAI, ZAI, GROQ, VertexProvider())
}
PROVIDER_CHOICES = [(p.id, p.name) for p in PROVIDERS.values()]
FAMILIES = list(dict.fromkeys(p.family for p in PROVIDERS.values()))  # registry order
# Every inference profile any provider offers (Bedrock's today), for labels.
INFERENCE_PROFILES = {profile.id: profile for p in PROVIDERS.values() for profile in p.inference_profiles.values()}


def endpoint_overrides() -> dict[str, str]:
    """Every endpoint setting a provider reads -> where the bundled simulator serves that endpoint (registry order)."""
    return {e.setting: e.simulator_path for p in PROVIDERS.values() for e in p.endpoints}


def providers_table() -> str:
    """The providers as a Markdown table (id, name, family, endpoint variables), for the docs to show or check."""
    rows = [f"| `{p.id}` | {p.name} | `{p.family}` | {', '.join(f'`{e.setting}`' for e in p.endpoints)} |"
            for p in PROVIDERS.values()]
    return "\n".join(["| id | name | family | endpoint variables |", "| --- | --- | --- | --- |", *rows])


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


def platform_provider(family: str) -> Provider:
    """The provider that serves a family on platform credentials: the one whose id is the family's name."""
    return PROVIDERS[family]


def session_refreshing_providers() -> dict[str, tuple[str, ...]]:
    """Provider id -> the credential types whose sessions byok refreshes (for queries over stored keys)."""
    return {p.id: refreshed for p in PROVIDERS.values()
            if (refreshed := tuple(kind for kind in CredentialType.ALL if p.refreshes_session(kind)))}
