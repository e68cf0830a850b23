"""What a call cost: every token kind at the catalog's prices, in exact decimal arithmetic. The one pricing rule,
used wherever usage is written (the data plane's usage writer, the sync call path, seeds and tests)."""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from ..providers.registry import PROVIDERS
from .selectors import Prices, model_prices

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


def cost_at(prices: Prices, tokens: TokenCounts) -> Decimal:
    """USD, to 1e-8. A cache write without its own price costs the input price (1 h: the 5-minute price), a cache
    read without one the input price; above the long-context threshold every kind is at the long-context price."""
    if prices.long_context is not None and tokens.prompt > prices.long_context_above:
        prices = prices.long_context
    cache_write_5m = prices.cache_write_5m if prices.cache_write_5m is not None else prices.input
    cache_write_1h = prices.cache_write_1h if prices.cache_write_1h is not None else cache_write_5m
    cache_read = prices.cache_read if prices.cache_read is not None else prices.input
    total = (tokens.input * prices.input + tokens.output * prices.output + tokens.cache_write_5m * cache_write_5m
             + tokens.cache_write_1h * cache_write_1h + tokens.cache_read * cache_read)
    return (total / _MILLION).quantize(COST_QUANTUM, rounding=ROUND_HALF_UP)


def usage_cost(*, provider: str, model: str, tokens: TokenCounts) -> Decimal | None:
    """What a call of `provider` to `model` (any id it names or reports) cost at the catalog's prices, or None when
    the catalog has no price for the model or the call used no tokens."""
    spec = PROVIDERS.get(provider)
    prices = model_prices(spec.family, model) if spec is not None and tokens else None
    return cost_at(prices, tokens) if prices is not None else None
