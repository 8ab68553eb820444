"""Exact cost, worked out by hand from the packaged catalog's prices (USD per million tokens).

    model              input  cw 5m  cw 1h  read  output
    claude-haiku-4-5    1.00   1.25   2.00  0.10    5.00
    claude-sonnet-4-6   3.00   3.75   6.00  0.30   15.00
    claude-opus-4-7     5.00   6.25  10.00  0.50   25.00
    claude-opus-4-1    15.00  18.75  30.00  1.50   75.00
    batch: 50 % off every line

Each case states its arithmetic in "micro-units": tokens x price, summed, then / 1,000,000.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from click.testing import CliRunner

from tiered.catalog import Catalog
from tiered.cli import main
from tiered.pricing import cost_usd, format_usd, to_micro_usd
from tiered.types import Usage


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load()


def test_haiku_plain(catalog: Catalog) -> None:
    # 1,000 in x 1.00 = 1,000; 500 out x 5.00 = 2,500; total 3,500 / 1e6 = 0.0035
    usage = Usage(input_tokens=1000, output_tokens=500)
    assert cost_usd(catalog.resolve("haiku"), usage) == Decimal("0.0035")


def test_sonnet_plain(catalog: Catalog) -> None:
    # 2,000 in x 3.00 = 6,000; 300 out x 15.00 = 4,500; total 10,500 / 1e6 = 0.0105
    usage = Usage(input_tokens=2000, output_tokens=300)
    assert cost_usd(catalog.resolve("sonnet"), usage) == Decimal("0.0105")


def test_zero_usage_costs_nothing(catalog: Catalog) -> None:
    # every line is 0 tokens x price = 0
    amount = cost_usd(catalog.resolve("opus"), Usage())
    assert amount == Decimal(0)
    assert format_usd(amount) == "0"


def test_both_cache_lifetimes_from_api_usage(catalog: Catalog) -> None:
    # Sonnet: 100 in x 3.00 = 300; 1,000 5m writes x 3.75 = 3,750; 2,000 1h writes x 6.00 = 12,000;
    # 4,000 reads x 0.30 = 1,200; 50 out x 15.00 = 750; total 18,000 / 1e6 = 0.018
    usage = Usage.from_api({
        "input_tokens": 100, "output_tokens": 50, "cache_creation_input_tokens": 3000, "cache_read_input_tokens": 4000,
        "cache_creation": {"ephemeral_5m_input_tokens": 1000, "ephemeral_1h_input_tokens": 2000},
    })
    assert cost_usd(catalog.resolve("claude-sonnet-4-6"), usage) == Decimal("0.018")


def test_cache_write_without_lifetime_split_is_a_5m_write(catalog: Catalog) -> None:
    # Haiku: 10 in x 1.00 = 10; 2,000 unsplit writes billed as 5m x 1.25 = 2,500; 20 out x 5.00 = 100;
    # total 2,610 / 1e6 = 0.00261 (the same whether the usage came from the API or was built directly)
    haiku = catalog.resolve("haiku")
    from_api = Usage.from_api({"input_tokens": 10, "output_tokens": 20, "cache_creation_input_tokens": 2000})
    direct = Usage(input_tokens=10, output_tokens=20, cache_creation_input_tokens=2000)
    assert cost_usd(haiku, from_api) == Decimal("0.00261")
    assert cost_usd(haiku, direct) == Decimal("0.00261")


def test_batch_halves_input_and_output(catalog: Catalog) -> None:
    # Haiku: 10,000 in x 1.00 = 10,000; 2,000 out x 5.00 = 10,000; 20,000 / 1e6 = 0.02; batch x 0.5 = 0.01
    usage = Usage(input_tokens=10_000, output_tokens=2_000)
    assert cost_usd(catalog.resolve("haiku"), usage, batch=True) == Decimal("0.01")


def test_batch_with_cache_reads(catalog: Catalog) -> None:
    # Opus 4.7: 1,000 in x 5.00 = 5,000; 10,000 reads x 0.50 = 5,000; 1,000 out x 25.00 = 25,000;
    # 35,000 / 1e6 = 0.035; batch x 0.5 = 0.0175
    usage = Usage(input_tokens=1_000, output_tokens=1_000, cache_read_input_tokens=10_000)
    assert cost_usd(catalog.resolve("opus"), usage, batch=True) == Decimal("0.0175")


def test_large_opus_request(catalog: Catalog) -> None:
    # Opus 4.7: 150,000 in x 5.00 = 750,000; 32,000 out x 25.00 = 800,000; 1,550,000 / 1e6 = 1.55
    usage = Usage(input_tokens=150_000, output_tokens=32_000)
    assert cost_usd(catalog.resolve("claude-opus-4-7"), usage) == Decimal("1.55")


def test_large_old_opus_with_hour_cache(catalog: Catalog) -> None:
    # Opus 4.1: 50,000 in x 15.00 = 750,000; 100,000 1h writes x 30.00 = 3,000,000;
    # 40,000 reads x 1.50 = 60,000; 20,000 out x 75.00 = 1,500,000; total 5,310,000 / 1e6 = 5.31
    usage = Usage(input_tokens=50_000, output_tokens=20_000, cache_creation_input_tokens=100_000,
                  cache_creation_1h_input_tokens=100_000, cache_read_input_tokens=40_000)
    assert cost_usd(catalog.resolve("claude-opus-4-1"), usage) == Decimal("5.31")


def test_one_output_token_is_exact(catalog: Catalog) -> None:
    # Sonnet: 1 out x 15.00 = 15 / 1e6 = 0.000015, exactly (no float rounding)
    assert cost_usd(catalog.resolve("sonnet"), Usage(output_tokens=1)) == Decimal("0.000015")


def test_explicit_batch_discount_overrides_the_catalog(catalog: Catalog) -> None:
    # Haiku: 1,000,000 in x 1.00 = 1,000,000 / 1e6 = 1.00; with a 25 % discount x 0.75 = 0.75
    usage = Usage(input_tokens=1_000_000)
    assert cost_usd(catalog.resolve("haiku"), usage, batch=True, batch_discount=Decimal("0.25")) == Decimal("0.75")


def test_micro_usd_rounds_half_up() -> None:
    # 0.0000005 USD = 0.5 micro-dollars -> 1; 0.0000004999 -> 0.4999 -> 0; 0.0105 -> 10,500
    assert to_micro_usd(Decimal("0.0000005")) == 1
    assert to_micro_usd(Decimal("0.0000004999")) == 0
    assert to_micro_usd(Decimal("0.0105")) == 10_500


def test_cli_cost_last_line_is_the_exact_amount() -> None:
    # the both-lifetimes Sonnet case above: 18,000 / 1e6 = 0.018
    usage = ('{"input_tokens": 100, "output_tokens": 50, "cache_creation_input_tokens": 3000, '
             '"cache_read_input_tokens": 4000, "cache_creation": {"ephemeral_5m_input_tokens": 1000, '
             '"ephemeral_1h_input_tokens": 2000}}')
    result = CliRunner().invoke(main, ["cost", "sonnet", "--usage", usage])
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1] == "0.018"


def test_cli_cost_batch() -> None:
    # Opus 4.7 batch: 150,000 in x 5.00 = 750,000; 32,000 out x 25.00 = 800,000; 1.55 x 0.5 = 0.775
    result = CliRunner().invoke(main, ["cost", "opus", "--batch", "--usage",
                                       '{"input_tokens": 150000, "output_tokens": 32000}'])
    assert result.exit_code == 0, result.output
    assert Decimal(result.output.strip().splitlines()[-1]) == Decimal("0.775")
