"""Model names the data plane accepts, and what each means.

- a tier: `standard`, `complex` — the tier's model of the workspace's default family (the owner's key's family);
  `embedding` — the family's default embedding model (for /v1/embeddings);
- an alias: `claude-sonnet`, `claude-opus` — the standard / complex tier of a Claude family (Bedrock, Anthropic or Vertex);
- provider-qualified: `<provider id>/<tier, alias or model id>`, e.g. `bedrock/complex`, `openai/gpt-5`,
  `anthropic/claude-sonnet-5-5` (any registry provider id; the provider's family is what counts: an id two families
  share, such as `claude-sonnet-5-5` on Anthropic and Vertex, is the named family's);
- a model id alone: `gpt-5`, `claude-opus-4-5-20251101`, `anthropic.claude-sonnet-4-5-20250929-v1:0` (a Bedrock id
  may carry an inference-profile prefix; the key's own profile is applied), or one of its catalog aliases.

The models of a family are the model catalog's (byok.catalog: staff add models in /admin/) and the providers'
code defaults, less the ones the catalog says are retired; the ones that embed are the catalog's `embedding` kind
and the providers' `embedding_models`; read from the in-memory catalog snapshot, so a change
reaches every process with the catalog generation.
"""

from dataclasses import dataclass

from django.conf import settings

from ..catalog.selectors import Snapshot, catalog_snapshot
from ..providers.base import EMBEDDING_TIER, TIERS
from ..providers.registry import FAMILIES, PROVIDERS
from .resolve import CLAUDE_FAMILIES, Resolution

ALIASES = {"claude-sonnet": "standard", "claude-opus": "complex"}
MODEL_TASK = "model"  # the task of a call that names a model id (not a tier or an alias)

# family -> the model ids the providers' code names (tier defaults and extras), without inference-profile prefixes
CODE_MODELS: dict[str, tuple[str, ...]] = {
    family: tuple(dict.fromkeys(m for p in PROVIDERS.values() if p.family == family
                                for m in (*p.models.values(), *p.models_extra, *p.embedding_models)))
    for family in FAMILIES
}
CODE_EMBEDDING_MODELS = {(p.family, m) for p in PROVIDERS.values() for m in p.embedding_models}
PROFILE_PREFIXES = {profile for p in PROVIDERS.values() for profile in p.inference_profiles}


@dataclass(frozen=True)
class _Names:
    snapshot: Snapshot
    family_models: dict[str, tuple[str, ...]]  # family -> base model ids callable now
    model_ids: dict[str, tuple[str, str]]  # a base id or catalog alias -> (family, base id)
    family_ids: dict[tuple[str, str], str]  # (family, base id or catalog alias) -> base id: ids two families share
    embedding: frozenset[tuple[str, str]]  # (family, base id) of the models that embed
    targets: dict[str, "Target"]  # model names parsed under this snapshot (parse_model), up to MAX_TARGETS


_names: list[_Names] = []


def _current() -> _Names:
    """The names of the catalog snapshot in memory, derived once per snapshot."""
    snapshot = catalog_snapshot()
    if _names and _names[0].snapshot is snapshot:
        return _names[0]
    retired = {(m.family, m.model_id) for m in snapshot.models.values() if m.retired}
    family_models = {family: tuple(dict.fromkeys(
        [m.model_id for (f, _), m in sorted(snapshot.models.items()) if f == family]
        + list(CODE_MODELS[family]))) for family in FAMILIES}
    family_models = {family: tuple(m for m in models if (family, m) not in retired)
                     for family, models in family_models.items()}
    model_ids = {alias: (m.family, m.model_id) for m in snapshot.models.values() if not m.retired for alias in m.ids}
    model_ids.update({model: (family, model) for family, models in family_models.items() for model in models})
    family_ids = {(m.family, alias): m.model_id for m in snapshot.models.values() if not m.retired for alias in m.ids}
    family_ids.update({(family, model): model for family, models in family_models.items() for model in models})
    embedding = frozenset(CODE_EMBEDDING_MODELS | {key for key, m in snapshot.models.items() if m.kind == "embedding"})
    names = _Names(snapshot, family_models, model_ids, family_ids, embedding, {})
    _names[:] = [names]
    return names


def family_models(family: str) -> tuple[str, ...]:
    """The base model ids of the family that can be called now (catalog and code, not retired)."""
    return _current().family_models[family]


def embeds(family: str, model: str) -> bool:
    """Whether the family's model (a base id) is an embedding model."""
    return (family, model) in _current().embedding


class UnknownModel(ValueError):
    pass


@dataclass(frozen=True)
class Target:
    """What a model name asks for: a family (None: the workspace's default) and a tier or a base model id; `embedding`
    when it names an embedding model (the embedding tier, or an embedding model's id)."""

    family: str | None
    tier: str = ""
    base_model: str = ""
    claude: bool = False  # an alias: the family is chosen among Claude families once the default is known
    embedding_model: bool = False  # base_model is an embedding model

    def family_for(self, default_family: str) -> str:
        if self.family:
            return self.family
        if self.claude and default_family not in CLAUDE_FAMILIES:
            fallback = settings.BYOK_DEFAULT_FAMILY
            return fallback if fallback in CLAUDE_FAMILIES else "anthropic"
        return default_family

    @property
    def embedding(self) -> bool:
        return self.embedding_model or self.tier == EMBEDDING_TIER

    def model_id(self, resolution: Resolution) -> str:
        if self.tier:
            return resolution.model_for(self.tier)
        if self.embedding:
            return self.base_model  # no inference profiles for embedding models
        profile = resolution.provider_spec.inference_profiles.get(resolution.inference_profile)
        return profile.model_id(self.base_model) if profile else self.base_model

    @property
    def task(self) -> str:
        return self.tier or MODEL_TASK


def _strip_profile(model: str) -> str:
    prefix, _, rest = model.partition(".")
    return rest if prefix in PROFILE_PREFIXES and rest.startswith("anthropic.") else model


MAX_TARGETS = 4096  # parsed names kept per snapshot: only names that parse are kept, and there are a few hundred


def _tier_or_model(name: str, family: str | None, names: _Names) -> Target:
    if name in TIERS or name == EMBEDDING_TIER:
        return Target(family=family, tier=name)
    if name in ALIASES:
        return Target(family=family, tier=ALIASES[name], claude=family is None)
    if family is not None:
        base = names.family_ids.get((family, _strip_profile(name)))
        if base is not None:
            return Target(family=family, base_model=base, embedding_model=(family, base) in names.embedding)
        raise UnknownModel(name)
    known = names.model_ids.get(_strip_profile(name))
    if known is not None:
        return Target(family=known[0], base_model=known[1], embedding_model=known in names.embedding)
    raise UnknownModel(name)


def parse_model(name) -> Target:
    """The target a model name asks for; UnknownModel when it names none (see valid_names). Parsed once per catalog
    snapshot: every call names its model."""
    if not isinstance(name, str) or not name:
        raise UnknownModel("")
    names = _current()
    target = names.targets.get(name)
    if target is None:
        provider, slash, rest = name.partition("/")
        if slash and provider in PROVIDERS:
            target = _tier_or_model(rest, PROVIDERS[provider].family, names)
        else:
            target = _tier_or_model(name, None, names)
        if len(names.targets) < MAX_TARGETS:
            names.targets[name] = target
    return target


def valid_names() -> list[str]:
    names = [*TIERS, EMBEDDING_TIER, *ALIASES]
    current = _current()
    for family, models in current.family_models.items():
        names += [f"{family}/{tier}" for tier in TIERS]
        if any((family, model) in current.embedding for model in models):
            names.append(f"{family}/{EMBEDDING_TIER}")
        names += list(models)
    return names
