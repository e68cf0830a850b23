"""Money as the owner console writes it in sentences."""

from decimal import ROUND_HALF_UP, Decimal

from django import template

register = template.Library()


@register.filter
def usd(value: Decimal | None, places: int = 2) -> str:
    """$0.12 (to `places` decimals, rounded half up like floatformat); a negative amount as −$0.01; None, an
    amount nothing claims (no catalog price to compute it from), as —."""
    if value is None:
        return "—"
    amount = Decimal(value).quantize(Decimal(1).scaleb(-int(places)), rounding=ROUND_HALF_UP)
    return f"−${-amount}" if amount < 0 else f"${abs(amount)}"
