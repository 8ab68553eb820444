"""The cache-aware tier choice: pure, on data (Request.warm), never below the scored tier."""

from __future__ import annotations

from decimal import Decimal

from tiered.catalog import Catalog
from tiered.policies.cache_aware import CacheAware
from tiered.prompt_cache import PromptShape, expected_cost
from tiered.types import Request

LADDER = ("haiku", "sonnet", "opus")
PREFIX = "x" * 80_000  # 20,000 tokens at 4 characters a token


def turn(warm: dict[str, int] | None = None, *, marked: bool = True) -> Request:
    block = {"type": "text", "text": PREFIX}
    if marked:
        block["cache_control"] = {"type": "ephemeral"}
    return Request(messages=({"role": "user", "content": [block]},), max_tokens=500, warm=warm or {},
                   conversation_id="c1")


def test_stays_on_the_warm_tier_and_says_what_switching_costs(catalog: Catalog) -> None:
    choice = CacheAware(catalog, horizon_turns=1).choose("haiku", LADDER, turn({"claude-sonnet-4-6": 20_000}))
    assert choice.tier == "sonnet"
    # sonnet: 20,000 read at $0.30/M + 500 out at $15/M = $0.0135; haiku: 20,000 written at $1.25/M + 500 at $5/M
    assert choice.saving_usd == Decimal("0.0275") - Decimal("0.0135")
    assert choice.note == "stay on sonnet: cache warm, switching to haiku costs $0.014 more"


def test_moves_down_when_the_cheaper_tier_is_warm_too(catalog: Catalog) -> None:
    choice = CacheAware(catalog).choose("haiku", LADDER, turn({"claude-sonnet-4-6": 20_000,
                                                               "claude-haiku-4-5": 19_000}))
    assert choice.tier == "haiku" and choice.saving_usd == 0
    assert choice.note.startswith("move to haiku: $") and "than staying on sonnet with its cache warm" in choice.note


def test_a_longer_horizon_pays_a_rewrite_back(catalog: Catalog) -> None:
    warm_opus = turn({"claude-opus-4-7": 20_000})
    assert CacheAware(catalog, horizon_turns=1).choose("sonnet", LADDER, warm_opus).tier == "opus"
    assert CacheAware(catalog, horizon_turns=4).choose("sonnet", LADDER, warm_opus).tier == "opus"
    # over 10 turns, sonnet's cheaper reads and output repay its one cold write ($0.075)
    longer = CacheAware(catalog, horizon_turns=10).choose("sonnet", LADDER, warm_opus)
    assert longer.tier == "sonnet" and "than staying on opus with its cache warm" in longer.note


def test_never_below_the_floor_and_untouched_without_warmth_or_breakpoints(catalog: Catalog) -> None:
    aware = CacheAware(catalog)
    assert aware.choose("opus", LADDER, turn({"claude-haiku-4-5": 20_000})).tier == "opus"
    assert aware.choose("haiku", LADDER, turn()).note == ""
    unmarked = aware.choose("haiku", LADDER, turn({"claude-sonnet-4-6": 20_000}, marked=False))
    assert unmarked.tier == "haiku" and unmarked.note == ""


def test_expected_cost_splits_the_bill_as_the_api_does(catalog: Catalog) -> None:
    shape = PromptShape.of(turn())
    assert shape.total_tokens == 20_000 and shape.cacheable_tokens == 20_000
    cost = expected_cost(catalog.resolve("sonnet"), shape, 15_000, 100)
    assert cost.read == Decimal("0.0045") and cost.write == Decimal("0.01875")
    assert cost.plain == 0 and cost.output == Decimal("0.0015")
