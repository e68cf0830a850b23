"""What a call cost: every token kind at the catalog's prices, in exact decimal arithmetic. The one pricing rule,
used wherever usage is written (the data plane's usage writer, the sync call path, seeds and tests)."""

from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal

from ..providers.registry import PROVIDERS
from .selectors import Prices, Snapshot, model_prices

_MILLION = Decimal(1_000_000)
COST_QUANTUM = Decimal("1e-8")  # UsageRecord.estimated_cost's precision: a millionth of a cent


@dataclass(frozen=True)
class TokenCounts:
    """A call's tokens by kind, as usage records keep them. `input` excludes cache writes and reads; `output`
    includes `reasoning` (providers bill thinking as output; the catalog has no separate reasoning price)."""

    input: int = 0
    output: int = 0
    cache_write_5m: int = 0
    cache_write_1h: int = 0
    cache_read: int = 0
    reasoning: int = 0

    @property
    def prompt(self) -> int:
        """Every input token, cached or not: what decides a long-context price."""
        return self.input + self.cache_write_5m + self.cache_write_1h + self.cache_read

    def __bool__(self) -> bool:
        return bool(self.prompt or self.output)


def _at_length(prices: Prices, *, long_context: bool) -> Prices:
    return prices.long_context if long_context and prices.long_context is not None else prices


def _priced(prices: Prices, tokens: TokenCounts) -> Decimal:
    cache_write_5m = prices.cache_write_5m if prices.cache_write_5m is not None else prices.input
    cache_write_1h = prices.cache_write_1h if prices.cache_write_1h is not None else cache_write_5m
    cache_read = prices.cache_read if prices.cache_read is not None else prices.input
    total = (tokens.input * prices.input + tokens.output * prices.output + tokens.cache_write_5m * cache_write_5m
             + tokens.cache_write_1h * cache_write_1h + tokens.cache_read * cache_read)
    return (total / _MILLION).quantize(COST_QUANTUM, rounding=ROUND_HALF_UP)


def cost_at(prices: Prices, tokens: TokenCounts) -> Decimal:
    """USD, to 1e-8. A cache write without its own price costs the input price (1 h: the 5-minute price), a cache
    read without one the input price; above the long-context threshold every kind is at the long-context price."""
    long_context = prices.long_context is not None and tokens.prompt > prices.long_context_above
    return _priced(_at_length(prices, long_context=long_context), tokens)


def provider_model_prices(*, provider: str, model: str, catalog: Snapshot | None = None) -> Prices | None:
    """The catalog's prices of `model` (any id it names or reports) on `provider`, or None."""
    spec = PROVIDERS.get(provider)
    return model_prices(spec.family, model, catalog=catalog) if spec is not None else None


def usage_cost(*, provider: str, model: str, tokens: TokenCounts) -> Decimal | None:
    """What a call of `provider` to `model` (any id it names or reports) cost at the catalog's prices, or None when
    the catalog has no price for the model or the call used no tokens."""
    prices = provider_model_prices(provider=provider, model=model) if tokens else None
    return cost_at(prices, tokens) if prices is not None else None


def cache_saving(prices: Prices, tokens: TokenCounts, *, prompt_over: int = 0) -> Decimal | None:
    """What prompt caching saved on calls whose tokens add up to `tokens`: their cost had every cache write and
    read been billed as plain input, minus their cost as billed, both at `prices` (USD, to 1e-8; negative when the
    writes cost more than the reads saved). Every one of the calls had a prompt of more than `prompt_over` tokens
    and none of more than the next long-context threshold of the catalog, so they are all on the same side of the
    model's own (byok.selectors groups them so). None when the prices have no cache price: no saving claimed."""
    prices = _at_length(prices, long_context=prices.long_context is not None
                        and prompt_over >= prices.long_context_above)
    if prices.cache_write_5m is None and prices.cache_write_1h is None and prices.cache_read is None:
        return None
    as_plain_input = replace(tokens, input=tokens.prompt, cache_write_5m=0, cache_write_1h=0, cache_read=0)
    return _priced(prices, as_plain_input) - _priced(prices, tokens)
