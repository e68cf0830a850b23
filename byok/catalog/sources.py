"""The catalog's facts, read offline from maintained packages installed with the project; nothing here is typed by
hand but the mapping of byok's families onto each package's names, and `overrides.json` (facts no package has).

- ids per family, context window, max output tokens, retirement day and successor: LiteLLM's maintained model map
  (`model_prices_and_context_window_backup.json`, read as a data file: the package is never imported);
- the Anthropic API's current ids and end-of-life days: the Anthropic SDK's `Model` literal and `DEPRECATED_MODELS`;
- the OpenAI API's chat ids: the OpenAI SDK's `ChatModel` / `ResponsesModel` literals; its embedding ids: the SDK's
  `EmbeddingModel` literal;
- which models embed (`kind: "embedding"`): LiteLLM's map (its `mode: "embedding"` entries), for the families whose
  providers embed (`Provider.embedding_models`);
- every price (input, output, cache writes 5 min / 1 h, cache read, long-context tier, Bedrock per profile):
  `genai-prices`, at the price in force today.

Upgrading those packages is how the catalog moves (`manage.py sync_model_catalog`, daily on the beat).
"""

import json
import re
import typing
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache
from importlib import metadata
from pathlib import Path

from django.utils import timezone

OVERRIDES_PATH = Path(__file__).with_name("overrides.json")
BEDROCK_PROFILES = ("global", "us", "eu", "apac")  # byok's Bedrock inference profiles (providers/bedrock/profiles)
# byok family -> (LiteLLM provider names, prefix of LiteLLM's keys, genai-prices provider)
FAMILY_SOURCES = {
    "anthropic": (("anthropic",), "", "anthropic"),
    "bedrock": (("bedrock_converse",), "", "aws"),
    "vertex": (("vertex_ai-anthropic_models", "vertex_ai-language-models"), "vertex_ai/", "google"),
    "openai": (("openai",), "", "openai"),
    "mistral": (("mistral",), "mistral/", "mistral"),
    "deepseek": (("deepseek",), "deepseek/", "deepseek"),
    "xai": (("xai",), "xai/", "x-ai"),
    "zai": (("zai",), "zai/", "zai"),
    "groq": (("groq",), "groq/", "groq"),
}
CHAT_MODES = ("chat", "responses")
EMBEDDING_MODE = "embedding"
# byok family -> (LiteLLM provider names, prefix of LiteLLM's keys) of its embedding models. Z.ai's embedding model
# is in no package: it is served as its provider's code default (providers/openai_compat.py), outside the catalog.
EMBEDDING_SOURCES = {
    "openai": (("openai",), ""),
    "mistral": (("mistral",), "mistral/"),
    "bedrock": (("bedrock",), ""),
    "vertex": (("vertex_ai-embedding-models",), ""),
}
# The embedding models whose request bodies byok's translations send: Bedrock's Titan v2 and Cohere Embed bodies
# (providers/bedrock/aws_async.py), Vertex's `:predict` (newer Gemini embedding models take embedContent only).
BEDROCK_EMBEDDERS = ("amazon.titan-embed-text-v2", "cohere.embed-")
VERTEX_EMBEDDERS = ("text-embedding-", "text-multilingual-embedding-", "gemini-embedding-001")
# genai-prices price key -> the catalog's price kind
PRICE_KINDS = {"input_mtok": "input", "output_mtok": "output", "cache_write_mtok": "cache_write_5m",
               "cache_write_1h_mtok": "cache_write_1h", "cache_read_mtok": "cache_read"}
_DATED = re.compile(r"^(?P<base>.+?)[-@](?P<date>\d{8})(?P<suffix>-v\d+:\d+)?$")


def litellm_model_map() -> dict[str, dict]:
    """LiteLLM's model map as installed (its data file, without importing the package)."""
    path = metadata.distribution("litellm").locate_file("litellm/model_prices_and_context_window_backup.json")
    with open(path, encoding="utf-8") as data:
        return {key: value for key, value in json.load(data).items() if isinstance(value, dict)}


def anthropic_sdk_models() -> tuple[list[str], dict[str, date]]:
    """The Anthropic SDK's known model ids and end-of-life days."""
    from anthropic._data.deprecated_models import DEPRECATED_MODELS
    from anthropic.types.model import Model

    return sorted(_literals(Model)), {model: _sdk_date(text) for model, text in DEPRECATED_MODELS.items()}


def openai_sdk_models() -> set[str]:
    """The OpenAI SDK's chat and Responses model ids (its `ChatModel` / `ResponsesModel` literals)."""
    from openai.types.shared.chat_model import ChatModel
    from openai.types.shared.responses_model import ResponsesModel

    return _literals(ChatModel) | _literals(ResponsesModel)


def openai_sdk_embedding_models() -> set[str]:
    """The OpenAI SDK's embedding model ids (its `EmbeddingModel` literal)."""
    from openai.types.embedding_model import EmbeddingModel

    return _literals(EmbeddingModel)


def _literals(alias) -> set[str]:
    """The strings of a Literal, or of the Literals in a Union."""
    if typing.get_origin(alias) is typing.Literal:
        return {arg for arg in typing.get_args(alias) if isinstance(arg, str)}
    return set().union(*(_literals(arg) for arg in typing.get_args(alias)))


def _sdk_date(text: str) -> date:
    """'November 30th, 2026' -> date(2026, 11, 30)."""
    return datetime.strptime(re.sub(r"(\d+)(st|nd|rd|th)", r"\1", text), "%B %d, %Y").date()


@cache
def _price_providers() -> dict:
    from genai_prices.data import providers

    return {provider.id: provider for provider in providers}


def prices_for(family: str, model_id: str, *, today: date, embedding: bool = False) -> tuple[dict, dict] | None:
    """genai-prices' prices in force today for a model id as byok calls it: ({kind: "USD/Mtok"},
    {"above": tokens, kind: "USD/Mtok"} or {}), or None when it does not list the model. An embedding model is priced
    by its input alone (it answers no output tokens: output is 0 where genai-prices lists none)."""
    from genai_prices.types import TieredPrices

    provider = _price_providers()[FAMILY_SOURCES[family][2]]
    found = provider.find_model(model_id)
    if found is None and family == "vertex":  # Claude on Vertex is priced as Anthropic prices it
        found = _price_providers()["anthropic"].find_model(model_id)
    if found is None:
        return None
    price = found.get_prices(datetime(today.year, today.month, today.day, tzinfo=UTC))
    base, long_context = {}, {}
    for key, kind in PRICE_KINDS.items():
        value = getattr(price, key, None)
        if isinstance(value, TieredPrices):
            base[kind] = _text(value.base)
            if value.tiers:
                long_context["above"] = value.tiers[0].start
                long_context[kind] = _text(value.tiers[0].price)
        elif value is not None:
            base[kind] = _text(value)
    if embedding and "input" in base:
        base.setdefault("output", "0")
    return (base, long_context) if "input" in base and "output" in base else None


def _text(value: Decimal) -> str:
    return format(value.normalize(), "f")


def catalog_entries(*, today: date | None = None) -> list[dict]:
    """Every model of every family as the sync writes it (byok/catalog/sync.py), from the installed packages."""
    today = today or timezone.localdate()
    model_map = litellm_model_map()
    anthropic_ids, anthropic_eol = anthropic_sdk_models()
    openai_ids = openai_sdk_models()
    openai_embedding_ids = openai_sdk_embedding_models()
    overrides = json.loads(OVERRIDES_PATH.read_text(encoding="utf-8"))["replacements"]
    code_models, code_embedding_models = _code_models()
    entries = []
    for family, (providers, prefix, _) in FAMILY_SOURCES.items():
        listed = _listed(model_map, providers, prefix, CHAT_MODES,
                         lambda model_id: _in_family(family, model_id, openai_ids=openai_ids))
        if family in EMBEDDING_SOURCES and code_embedding_models.get(family):
            listed.update(_listed(model_map, *EMBEDDING_SOURCES[family], (EMBEDDING_MODE,), lambda model_id:
                                  _embeds_in_family(family, model_id, openai_ids=openai_embedding_ids)))
        if family == "anthropic":  # the SDK's ids LiteLLM does not list yet are still models
            listed.update({model_id: {} for model_id in anthropic_ids if model_id not in listed})
        for model_id in code_models.get(family, ()):  # a model byok's providers name, priced but not in the map
            if model_id not in listed and prices_for(family, model_id, today=today):
                listed[model_id] = {}
        for model_id in code_embedding_models.get(family, ()):
            if model_id not in listed and prices_for(family, model_id, today=today, embedding=True):
                listed[model_id] = {"mode": EMBEDDING_MODE}
        entries += _family_entries(family, listed, model_map, today=today,
                                   eol=anthropic_eol if family == "anthropic" else {},
                                   replacements=overrides.get(family, {}))
    return entries


def _listed(model_map: dict, providers: tuple[str, ...], prefix: str, modes: tuple[str, ...], in_family) -> dict:
    """Model id -> LiteLLM's facts, for the map's entries of these providers and modes that byok's family calls."""
    listed: dict[str, dict] = {}
    for key, facts in model_map.items():
        if facts.get("litellm_provider") not in providers or facts.get("mode") not in modes:
            continue
        if prefix and not key.startswith(prefix) or not prefix and "/" in key or key.endswith("@default"):
            continue
        model_id = key[len(prefix):]
        if in_family(model_id):
            listed[model_id] = facts
    return listed


def _code_models() -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Family -> the model ids byok's providers name in code: chat (tier defaults and extras), and embedding."""
    from ..providers.registry import PROVIDERS

    chat: dict[str, list[str]] = {}
    embedding: dict[str, list[str]] = {}
    for provider in PROVIDERS.values():
        chat.setdefault(provider.family, []).extend([*provider.models.values(), *provider.models_extra])
        embedding.setdefault(provider.family, []).extend(provider.embedding_models)
    return chat, embedding


def _in_family(family: str, model_id: str, *, openai_ids: set[str]) -> bool:
    """Whether byok's providers of the family call this model of the map (chat models of the family's kind)."""
    if family == "bedrock":  # byok's Bedrock providers call Claude, by base id; profiles are attached below
        return model_id.startswith("anthropic.claude")
    if family == "vertex":
        return model_id.startswith(("claude-", "gemini-"))
    if family == "openai":
        return model_id in openai_ids
    if family == "anthropic":
        return model_id.startswith("claude-")
    return True


def _embeds_in_family(family: str, model_id: str, *, openai_ids: set[str]) -> bool:
    """Whether byok's providers of the family call this embedding model of the map."""
    if family == "openai":
        return model_id in openai_ids
    if family == "bedrock":
        return model_id.startswith(BEDROCK_EMBEDDERS)
    if family == "vertex":
        return model_id.startswith(VERTEX_EMBEDDERS)
    return True


def _family_entries(family: str, listed: dict[str, dict], model_map: dict, *, today: date, eol: dict,
                    replacements: dict) -> list[dict]:
    """One entry per model: an undated id listed beside its dated one is an alias of it."""
    aliases: dict[str, list[str]] = {}
    for model_id in listed:
        match = _DATED.match(model_id)
        if match and match["base"] in listed and match["base"] != model_id:
            aliases.setdefault(model_id, []).append(match["base"])
    alias_of = {alias: model_id for model_id, names in aliases.items() for alias in names}
    prefix = FAMILY_SOURCES[family][1]
    entries = []
    for model_id, facts in sorted(listed.items()):
        if model_id in alias_of:
            continue
        names = aliases.get(model_id, [])
        related = [facts, *(listed[name] for name in names)]
        embedding = facts.get("mode") == EMBEDDING_MODE
        priced = prices_for(family, model_id, today=today, embedding=embedding)
        retires_on = eol.get(model_id) or next(
            (eol[n] for n in names if n in eol), None) or _first_date(f.get("deprecation_date") for f in related)
        successor = next((f["successor_model"] for f in related if f.get("successor_model")), None)
        replacement = replacements.get(model_id) or (_base_id(family, successor.removeprefix(prefix))
                                                     if successor else None)
        entry = {
            "family": family, "model_id": model_id, "display_name": _display_name(family, model_id),
            "kind": "embedding" if embedding else "chat",
            "aliases": names, "context_window": _first(f.get("max_input_tokens") for f in related),
            "max_output_tokens": _first(f.get("max_output_tokens") for f in related),
            "status": "deprecated" if retires_on else "available", "retires_on": retires_on,
            "replacement": alias_of.get(replacement, replacement),
        }
        if priced:
            base, long_context = priced
            entry.update({f"{kind}_price_per_mtok": base.get(kind) for kind in PRICE_KINDS.values()})
            entry["long_context_prices"] = long_context
        if family == "bedrock" and not embedding:  # embedding models run in the key's region: no profiles
            entry["profile_ids"] = {p: f"{p}.{model_id}" for p in BEDROCK_PROFILES if f"{p}.{model_id}" in model_map}
            entry["profile_prices"] = {p: found[0] for p, profiled in entry["profile_ids"].items()
                                       if (found := prices_for(family, profiled, today=today)) and priced
                                       and found[0] != priced[0]}
        entries.append(entry)
    return entries


def _base_id(family: str, model_id: str) -> str:
    """A Bedrock successor may be named under a profile: the base id."""
    if family == "bedrock" and model_id.split(".", 1)[0] in BEDROCK_PROFILES:
        return model_id.split(".", 1)[1]
    return model_id


def _display_name(family: str, model_id: str) -> str:
    """genai-prices' name for the model (a Claude model by Anthropic's name on every family), else its id."""
    found = _price_providers()[FAMILY_SOURCES[family][2]].find_model(model_id)
    if (found is None or not found.name) and "claude" in model_id:
        found = _price_providers()["anthropic"].find_model(model_id.removeprefix("anthropic."))
    return found.name if found is not None and found.name else model_id


def _first(values):
    return next((value for value in values if value), None)


def _first_date(values) -> date | None:
    found = _first(values)
    return date.fromisoformat(found) if found else None
