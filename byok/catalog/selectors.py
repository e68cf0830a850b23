"""The catalog as the gateway reads it: an in-process snapshot in front of one query.

`tier_model(family, tier)` answers the base model id serving the tier now (None: the provider's code default).
The snapshot is dropped whenever the "catalog" generation moves (core.invalidation): at once in the process that
wrote, and in every other process the next time it reads, since a read polls `generation_changed("catalog")` when
the last poll is older than POLL_INTERVAL. Fills are guarded like byok.gateway.auth's: a snapshot read before a
drop is never stored after it.
"""

import asyncio
import threading
from dataclasses import dataclass, field
from decimal import Decimal

from core.invalidation import generation_changed, generation_checked_within, on_invalidate

TOPIC = "catalog"
POLL_INTERVAL = 0.25  # seconds: a catalog change reaches every process within this long (plus one read)
_MILLION = Decimal(1_000_000)


@dataclass(frozen=True)
class Snapshot:
    tiers: dict[tuple[str, str], str] = field(default_factory=dict)  # (family, tier) -> base model id
    prices: dict[tuple[str, str], tuple[Decimal, Decimal]] = field(default_factory=dict)  # (family, any id) -> prices


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

    tiers, prices = {}, {}
    for row in Model.objects.all():
        if row.status != Model.Status.RETIRED:
            for tier in row.tiers:
                tiers[(row.family, tier)] = row.model_id
        if row.input_price_per_mtok is not None and row.output_price_per_mtok is not None:
            for model_id in row.ids():
                prices[(row.family, model_id)] = (row.input_price_per_mtok, row.output_price_per_mtok)
    return Snapshot(tiers=tiers, prices=prices)


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


def _price(family: str, model: str) -> tuple[Decimal, Decimal] | None:
    prices = catalog_snapshot().prices
    found = prices.get((family, model))
    if found is None and "." in model:  # a Bedrock id under a profile prefix the catalog does not list
        found = prices.get((family, model.split(".", 1)[1]))
    return found


def estimated_cost(*, provider: str, model: str, input_tokens: int, output_tokens: int) -> Decimal | None:
    """What a call cost at the catalog's prices (USD), or None when the catalog has no price for the model."""
    from ..providers.registry import PROVIDERS

    spec = PROVIDERS.get(provider)
    price = _price(spec.family, model) if spec else None
    if price is None:
        return None
    return (Decimal(input_tokens) * price[0] + Decimal(output_tokens) * price[1]) / _MILLION


def catalog_by_family() -> dict[str, list[dict]]:
    """Every catalog model, by family, as the providers API lists them (read from the table, not the snapshot)."""
    from ..models import Model

    listing: dict[str, list[dict]] = {}
    for row in Model.objects.select_related("replacement").order_by("family", "status", "model_id"):
        listing.setdefault(row.family, []).append({
            "model_id": row.model_id, "display_name": row.display_name, "tiers": row.tiers,
            "profile_ids": row.profile_ids, "aliases": row.aliases, "context_window": row.context_window,
            "input_price_per_mtok": _text(row.input_price_per_mtok),
            "output_price_per_mtok": _text(row.output_price_per_mtok), "currency": "USD",
            "status": row.status, "deprecated_on": row.deprecated_on, "retires_on": row.retires_on,
            "replacement": row.replacement.model_id if row.replacement else None,
        })
    return listing


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)
