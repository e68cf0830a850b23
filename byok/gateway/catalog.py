"""Model names the data plane accepts, and what each means.

- a tier: `standard`, `complex` — the tier's model of the workspace's default family (the owner's key's family);
- an alias: `claude-sonnet`, `claude-opus` — the standard / complex tier of a Claude family (Bedrock, Anthropic or Vertex);
- provider-qualified: `<provider id>/<tier, alias or model id>`, e.g. `bedrock/complex`, `openai/gpt-5`,
  `anthropic/claude-sonnet-4-5-20250929` (any registry provider id; the provider's family is what counts);
- a catalog model id alone: `gpt-5`, `claude-opus-4-5-20251101`, `anthropic.claude-sonnet-4-5-20250929-v1:0`
  (a Bedrock id may carry an inference-profile prefix; the key's own profile is applied).
"""

from dataclasses import dataclass

from django.conf import settings

from ..providers.base import TIERS
from ..providers.registry import FAMILIES, PROVIDERS
from .resolve import Resolution

ALIASES = {"claude-sonnet": "standard", "claude-opus": "complex"}
CLAUDE_FAMILIES = ("bedrock", "anthropic", "vertex")  # Vertex: Claude on Vertex AI (its tiers are Claude)

# family -> its catalog model ids (base ids, without inference-profile prefixes), and the reverse
FAMILY_MODELS: dict[str, tuple[str, ...]] = {
    family: tuple(dict.fromkeys(m for p in PROVIDERS.values() if p.family == family
                                for m in (*p.models.values(), *p.models_extra)))
    for family in FAMILIES
}
MODEL_FAMILY = {model: family for family, models in FAMILY_MODELS.items() for model in models}
PROFILE_PREFIXES = {profile for p in PROVIDERS.values() for profile in p.inference_profiles}


class UnknownModel(ValueError):
    pass


@dataclass(frozen=True)
class Target:
    """What a model name asks for: a family (None: the workspace's default) and a tier or a base model id."""

    family: str | None
    tier: str = ""
    base_model: str = ""
    claude: bool = False  # an alias: the family is chosen among Claude families once the default is known

    def family_for(self, default_family: str) -> str:
        if self.family:
            return self.family
        if self.claude and default_family not in CLAUDE_FAMILIES:
            fallback = settings.BYOK_DEFAULT_FAMILY
            return fallback if fallback in CLAUDE_FAMILIES else "anthropic"
        return default_family

    def model_id(self, resolution: Resolution) -> str:
        if self.tier:
            return resolution.model_for(self.tier)
        profile = resolution.provider_spec.inference_profiles.get(resolution.inference_profile)
        return profile.model_id(self.base_model) if profile else self.base_model

    @property
    def task(self) -> str:
        return self.tier or "model"


def _strip_profile(model: str) -> str:
    prefix, _, rest = model.partition(".")
    return rest if prefix in PROFILE_PREFIXES and rest.startswith("anthropic.") else model


def _tier_or_model(name: str, family: str | None) -> Target:
    if name in TIERS:
        return Target(family=family, tier=name)
    if name in ALIASES:
        return Target(family=family, tier=ALIASES[name], claude=family is None)
    base = _strip_profile(name)
    if base in MODEL_FAMILY and (family is None or MODEL_FAMILY[base] == family):
        return Target(family=MODEL_FAMILY[base], base_model=base)
    raise UnknownModel(name)


def parse_model(name) -> Target:
    """The target a model name asks for; UnknownModel when it names none (see valid_names)."""
    if not isinstance(name, str) or not name:
        raise UnknownModel("")
    provider, slash, rest = name.partition("/")
    if slash and provider in PROVIDERS:
        return _tier_or_model(rest, PROVIDERS[provider].family)
    return _tier_or_model(name, None)


def valid_names() -> list[str]:
    names = list(TIERS) + list(ALIASES)
    for family, models in FAMILY_MODELS.items():
        names += [f"{family}/{tier}" for tier in TIERS] + list(models)
    return names
