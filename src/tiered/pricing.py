"""Exact cost of one response, from its usage and the catalog's prices.

    cost = input_tokens            x input
         + cache writes (5 min)    x cache_write_5m
         + cache writes (1 hour)   x cache_write_1h
         + cache_read_input_tokens x cache_read
         + output_tokens           x output          (all per million tokens)

and a batch request takes `batch_discount` off every line. `Decimal` all the way, so the figure is
exact; `to_micro_usd` rounds half-up to whole micro-dollars for storage and display.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from tiered.catalog import ModelInfo, Prices
from tiered.types import Usage

_MILLION = Decimal(1_000_000)
MICRO = Decimal("0.000001")


def cost_usd(
    prices: Prices | ModelInfo, usage: Usage, *, batch: bool = False, batch_discount: Decimal | None = None
) -> Decimal:
    """The exact USD cost of `usage` at `prices` (or a catalog entry's prices)."""
    discount = Decimal(0)
    if isinstance(prices, ModelInfo):
        discount = prices.batch_discount
        prices = prices.prices
    if batch_discount is not None:
        discount = batch_discount
    five = usage.cache_creation_5m_input_tokens
    hour = usage.cache_creation_1h_input_tokens
    # A cache write reported without its lifetime split is billed as a 5-minute write.
    unsplit = max(0, usage.cache_creation_input_tokens - five - hour)
    total = (
        usage.input_tokens * prices.input
        + (five + unsplit) * prices.cache_write_5m
        + hour * prices.cache_write_1h
        + usage.cache_read_input_tokens * prices.cache_read
        + usage.output_tokens * prices.output
    ) / _MILLION
    if batch:
        total *= 1 - discount
    return total


def to_micro_usd(amount: Decimal) -> int:
    """Whole micro-dollars, rounded half-up."""
    return int((amount / MICRO).to_integral_value(rounding=ROUND_HALF_UP))


def format_usd(amount: Decimal) -> str:
    """A plain decimal string with no exponent and no trailing zeros ("0.0123", "0")."""
    text = format(amount.normalize(), "f")
    return text if text != "-0" else "0"
