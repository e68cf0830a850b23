"""The catalog as the gateway reads it: an in-process snapshot in front of one query.

`tier_model(family, tier)` answers the base model id serving the tier now (None: the provider's code default);
`catalog_model(family, id)` the model with its lifecycle; `model_limits(family, any id)` its context window and max
output tokens; `model_prices(family, any id)` its prices (byok.catalog.pricing prices a call with them; owner pages
price with a `catalog_read()`, the table read now);
`lifecycle_notices` which deprecated or retiring models
an owner's traffic uses, the one rule behind the lifecycle e-mail and the console's notices.
The snapshot is dropped whenever the "catalog" generation moves (core.invalidation): at once in the process that
wrote, and in every other process the next time it reads, since a read polls `generation_changed("catalog")` when
the last poll is older than POLL_INTERVAL. Fills are guarded like byok.gateway.auth's: a snapshot read before a
drop is never stored after it.
"""

import asyncio
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from core.invalidation import generation_changed, generation_checked_within, on_invalidate

TOPIC = "catalog"
POLL_INTERVAL = 0.25  # seconds: a catalog change reaches every process within this long (plus one read)
USAGE_LOOKBACK = timedelta(days=30)  # "a model their traffic uses": a call to it in this long


@dataclass(frozen=True)
class Prices:
    """USD per million tokens of each kind (None: the kind is priced as byok.catalog.pricing says)."""

    input: Decimal
    output: Decimal
    cache_write_5m: Decimal | None = None
    cache_write_1h: Decimal | None = None
    cache_read: Decimal | None = None
    long_context_above: int | None = None  # a prompt of more input tokens than this is priced at `long_context`
    long_context: "Prices | None" = None


@dataclass(frozen=True)
class ModelLimits:
    context_window: int | None  # tokens of prompt and answer together
    max_output_tokens: int | None


@dataclass(frozen=True)
class CatalogModel:
    """One catalog row as the snapshot keeps it."""

    pk: int
    family: str
    model_id: str
    display_name: str
    status: str
    tiers: tuple[str, ...]
    ids: frozenset[str]  # the base id, its per-profile ids and its aliases
    deprecated_on: date | None = None
    retires_on: date | None = None
    replacement_id: str | None = None  # the replacement's model_id (same family)
    limits: ModelLimits = ModelLimits(None, None)
    kind: str = "chat"  # or "embedding"

    @property
    def retired(self) -> bool:
        return self.status == "retired"

    def lifecycle(self) -> dict:
        """As GET /v1/models lists it (the providers API lists the same from the table)."""
        return {"status": self.status, "deprecated_on": self.deprecated_on and self.deprecated_on.isoformat(),
                "retires_on": self.retires_on and self.retires_on.isoformat(), "replacement": self.replacement_id}


@dataclass(frozen=True)
class Snapshot:
    tiers: dict[tuple[str, str], str] = field(default_factory=dict)  # (family, tier) -> base model id
    prices: dict[tuple[str, str], Prices] = field(default_factory=dict)  # (family, any id) -> prices
    models: dict[tuple[str, str], CatalogModel] = field(default_factory=dict)  # (family, base id) -> model
    by_id: dict[tuple[str, str], CatalogModel] = field(default_factory=dict)  # (family, any id) -> model


class _Cache:
    def __init__(self):
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self.epoch = 0

    def get(self) -> Snapshot | None:
        with self._lock:
            return self._snapshot

    def put(self, snapshot: Snapshot, epoch: int) -> None:
        with self._lock:
            if epoch == self.epoch:
                self._snapshot = snapshot

    def clear(self) -> None:
        with self._lock:
            self.epoch += 1
            self._snapshot = None


cache = _Cache()
on_invalidate(TOPIC, cache.clear)


def _load() -> Snapshot:
    from ..models import Model

    tiers, prices, models, by_id = {}, {}, {}, {}
    rows = list(Model.objects.all())
    model_ids = {row.pk: row.model_id for row in rows}
    for row in rows:
        if row.status != Model.Status.RETIRED:
            for tier in row.tiers:
                tiers[(row.family, tier)] = row.model_id
        base = _row_prices(row)
        if base is not None:
            for model_id in row.ids():
                prices[(row.family, model_id)] = base
            for profile, profile_id in row.profile_ids.items():
                if profile in row.profile_prices:
                    prices[(row.family, profile_id)] = _prices(row.profile_prices[profile], base)
        model = models[(row.family, row.model_id)] = CatalogModel(
            pk=row.pk, family=row.family, model_id=row.model_id, display_name=row.display_name, status=row.status,
            tiers=tuple(row.tiers), ids=frozenset(row.ids()), deprecated_on=row.deprecated_on,
            retires_on=row.retires_on, replacement_id=model_ids.get(row.replacement_id),
            limits=ModelLimits(row.context_window, row.max_output_tokens), kind=row.kind)
        by_id.update({(row.family, model_id): model for model_id in row.ids()})
    return Snapshot(tiers=tiers, prices=prices, models=models, by_id=by_id)


def _row_prices(row) -> Prices | None:
    if row.input_price_per_mtok is None or row.output_price_per_mtok is None:
        return None
    long_context = row.long_context_prices
    base = Prices(input=row.input_price_per_mtok, output=row.output_price_per_mtok,
                  cache_write_5m=row.cache_write_5m_price_per_mtok, cache_write_1h=row.cache_write_1h_price_per_mtok,
                  cache_read=row.cache_read_price_per_mtok)
    if long_context.get("above"):
        base = replace(base, long_context_above=int(long_context["above"]), long_context=_prices(long_context, base))
    return base


def _prices(listed: dict, base: Prices) -> Prices:
    """Prices given as {"input": "3.3", …} (the catalog's JSON fields), each kind not listed at `base`'s price."""
    def price(kind: str) -> Decimal | None:
        return Decimal(listed[kind]) if listed.get(kind) is not None else getattr(base, kind)

    return replace(base, input=price("input"), output=price("output"), cache_write_5m=price("cache_write_5m"),
                   cache_write_1h=price("cache_write_1h"), cache_read=price("cache_read"))


def catalog_snapshot() -> Snapshot:
    """The catalog now. In an event loop (the data plane) it never does I/O: the data plane's watcher polls the
    generation and `resolution_for` loads a missing snapshot in a thread first; here a missing one means the
    providers' code defaults."""
    if _in_event_loop():
        return cache.get() or Snapshot()
    if not generation_checked_within(TOPIC, POLL_INTERVAL):
        generation_changed(TOPIC)
    snapshot = cache.get()
    if snapshot is None:
        epoch = cache.epoch
        snapshot = _load()
        cache.put(snapshot, epoch)
    return snapshot


def catalog_read() -> Snapshot:
    """The catalog read from the table now, not this process's snapshot: one query, whenever this process last
    polled (owner pages and reports, whose query count must not depend on it)."""
    return _load()


def catalog_loaded() -> bool:
    return cache.get() is not None


def _in_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def tier_model(family: str, tier: str) -> str | None:
    """The base model id serving `tier` for the family now, or None (the provider's code default serves)."""
    return catalog_snapshot().tiers.get((family, tier))


def tier_models(provider) -> dict[str, str]:
    """Tier -> base model id for a provider: the catalog's, else the provider's code default."""
    snapshot = catalog_snapshot()
    return {tier: snapshot.tiers.get((provider.family, tier)) or default for tier, default in provider.models.items()}


def catalog_model(family: str, model_id: str) -> CatalogModel | None:
    """The catalog's model of the family with this base id, or None."""
    return catalog_snapshot().models.get((family, model_id))


def _by_any_id(table: dict, family: str, model: str):
    found = table.get((family, model))
    if found is None and "." in model:  # a Bedrock id under a profile prefix the catalog does not list
        found = table.get((family, model.split(".", 1)[1]))
    return found


def model_prices(family: str, model: str, *, catalog: Snapshot | None = None) -> Prices | None:
    """The prices of a model by any id a call names or reports (base, per-profile, alias), or None; in `catalog`
    when given (a `catalog_read`), else in this process's snapshot."""
    return _by_any_id((catalog or catalog_snapshot()).prices, family, model)


def model_limits(family: str, model: str) -> ModelLimits | None:
    """The context window and max output tokens of a model by any id (base, per-profile, alias), or None when the
    catalog does not know the model. Never does I/O in an event loop (see catalog_snapshot)."""
    found = _by_any_id(catalog_snapshot().by_id, family, model)
    return found.limits if found is not None else None


def catalog_by_family() -> dict[str, list[dict]]:
    """Every catalog model, by family, as the providers API lists them (read from the table, not the snapshot)."""
    from ..models import Model

    listing: dict[str, list[dict]] = {}
    for row in Model.objects.select_related("replacement").order_by("family", "status", "model_id"):
        listing.setdefault(row.family, []).append({
            "model_id": row.model_id, "display_name": row.display_name, "kind": row.kind, "tiers": row.tiers,
            "profile_ids": row.profile_ids, "aliases": row.aliases, "context_window": row.context_window,
            "max_output_tokens": row.max_output_tokens,
            "input_price_per_mtok": _text(row.input_price_per_mtok),
            "output_price_per_mtok": _text(row.output_price_per_mtok),
            "cache_write_5m_price_per_mtok": _text(row.cache_write_5m_price_per_mtok),
            "cache_write_1h_price_per_mtok": _text(row.cache_write_1h_price_per_mtok),
            "cache_read_price_per_mtok": _text(row.cache_read_price_per_mtok),
            "long_context_prices": row.long_context_prices, "profile_prices": row.profile_prices, "currency": "USD",
            "status": row.status, "deprecated_on": row.deprecated_on, "retires_on": row.retires_on,
            "replacement": row.replacement.model_id if row.replacement else None,
        })
    return listing


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


# --- Lifecycle notices -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LifecycleNotice:
    """A deprecated, retiring or recently retired model that calls in some workspaces used lately, and what those
    calls use next: what the console's notice and the owners' e-mail say."""

    model: CatalogModel
    replacement: CatalogModel | None  # the model named to replace it (None: none named, or retired itself)
    owner_ids: frozenset[int]  # the owners of the workspaces whose calls used it
    workspaces: tuple[str, ...]  # those workspaces' names
    tasks: frozenset[str]  # how those calls asked for it: a tier ("standard", "complex") or "model" (by its id)
    # (tier, the name of the model serving it once this one is retired). None: nothing replaces it, the tier would
    # still call it (it is the provider's code default).
    tier_moves: tuple[tuple[str, str | None], ...]

    @property
    def named_directly(self) -> bool:
        """Some calls named the model itself: retirement does not redirect them."""
        return "model" in self.tasks


def models_with_notice(catalog: Snapshot, *, today: date) -> list[CatalogModel]:
    """Deprecated models, models retiring within BYOK_MODEL_NOTICE_DAYS, and models retired within as many days
    (or on a day the catalog does not know)."""
    window = timedelta(days=settings.BYOK_MODEL_NOTICE_DAYS)

    def due(model: CatalogModel) -> bool:
        if model.retired:
            return model.retires_on is None or model.retires_on >= today - window
        return model.status == "deprecated" or (model.retires_on is not None and model.retires_on <= today + window)

    return sorted((m for m in catalog.models.values() if due(m)), key=lambda m: m.pk)


def lifecycle_notices(*, today: date | None = None, now: datetime | None = None,
                      workspace_ids: Iterable[int] | None = None,
                      catalog: Snapshot | None = None) -> list[LifecycleNotice]:
    """Every model of `models_with_notice` that calls used (any of its ids, under any profile prefix) in the last
    USAGE_LOOKBACK, in the given workspaces (None: all of them), one notice per model. Read from the table, not this
    process's snapshot (a daily task and owner pages, not the call path): one query, and one more for the usage
    when some model has a notice (none for the catalog when the caller read it already)."""
    from ..models import UsageRecord
    from ..providers.registry import PROVIDERS

    now = now or timezone.now()
    catalog = catalog or catalog_read()
    models = models_with_notice(catalog, today=today or timezone.localdate(now))
    if not models:
        return []
    by_id = {(m.family, model_id): m for m in models for model_id in m.ids}
    families = {m.family for m in models}
    rows = UsageRecord.objects.filter(created_at__gte=now - USAGE_LOOKBACK, provider__in=[
        p.id for p in PROVIDERS.values() if p.family in families])
    if workspace_ids is not None:
        rows = rows.filter(workspace_id__in=list(workspace_ids))
    used: dict[int, tuple[set, set, set]] = {}  # model pk -> owners, workspace names, tasks
    for owner_id, workspace, provider, model_id, task in (
            rows.values_list("owner_id", "workspace__name", "provider", "model", "task").order_by().distinct()):
        family = PROVIDERS[provider].family
        model = by_id.get((family, model_id)) or by_id.get((family, model_id.split(".", 1)[-1]))
        if model is not None:
            owners, workspaces, tasks = used.setdefault(model.pk, (set(), set(), set()))
            owners.add(owner_id)
            workspaces.add(workspace)
            tasks.add(task)
    return [_notice(catalog, model, *used[model.pk]) for model in models if model.pk in used]


def _notice(catalog: Snapshot, model: CatalogModel, owners: set, workspaces: set, tasks: set) -> LifecycleNotice:
    from ..providers.base import TIERS
    from ..providers.registry import platform_provider

    replacement = catalog.models.get((model.family, model.replacement_id)) if model.replacement_id else None
    if replacement is not None and replacement.retired:
        replacement = None  # retirement moves no tier to a retired model (services.models_retire_due)

    def serving(base: str | None) -> str | None:
        """A base id by its catalog name; None when it is the retiring model itself."""
        if base is None or base == model.model_id:
            return None
        found = catalog.models.get((model.family, base))
        return found.display_name if found else base

    defaults = platform_provider(model.family).models
    if model.retired:  # what the tiers its traffic used are served with now
        moves = [(tier, serving(catalog.tiers.get((model.family, tier)) or defaults.get(tier)))
                 for tier in TIERS if tier in tasks]
    else:  # what its tiers move to on its retirement day
        moves = [(tier, replacement.display_name if replacement else serving(defaults.get(tier)))
                 for tier in model.tiers]
    return LifecycleNotice(model=model, replacement=replacement, owner_ids=frozenset(owners),
                           workspaces=tuple(sorted(workspaces)), tasks=frozenset(tasks), tier_moves=tuple(moves))
