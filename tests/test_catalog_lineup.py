"""The catalog's current line-up, dated ids, unpriced models and capabilities (issue 8, items 5 and 6), and what
`tiered cost` / `tiered models` say about them (item 11)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from tiered.catalog import Catalog
from tiered.cli import main
from tiered.errors import ConfigError


@pytest.mark.parametrize(("name", "model_id", "prices"), [
    ("claude-sonnet-4-5", "claude-sonnet-4-5", ("3.00", "15.00", "3.75", "6.00", "0.30")),
    ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5", ("3.00", "15.00", "3.75", "6.00", "0.30")),
    ("claude-opus-4-5-20251101", "claude-opus-4-5", ("5.00", "25.00", "6.25", "10.00", "0.50")),
    ("claude-opus-4-6", "claude-opus-4-6", ("5.00", "25.00", "6.25", "10.00", "0.50")),
    ("claude-opus-4-1-20250805", "claude-opus-4-1", ("15.00", "75.00", "18.75", "30.00", "1.50")),
])
def test_older_models_and_their_dated_ids(name: str, model_id: str, prices: tuple[str, ...]) -> None:
    info = Catalog.load().resolve(name)
    p = info.prices
    assert info.id == model_id and info.priced
    assert (p.input, p.output, p.cache_write_5m, p.cache_write_1h, p.cache_read) == tuple(map(Decimal, prices))


def test_the_5_5_line_up_is_listed_without_a_guessed_price() -> None:
    catalog = Catalog.load()
    for model_id, tier in (("claude-opus-5-5", "opus"), ("claude-sonnet-5-5", "sonnet"),
                           ("claude-haiku-5-5", "haiku")):
        info = catalog.resolve(model_id)
        assert info.id == model_id and info.tier == tier and not info.priced


def test_capabilities_are_data() -> None:
    catalog = Catalog.load()
    assert catalog.resolve("opus").thinking == ("adaptive",)
    assert catalog.resolve("sonnet").thinking == ("enabled", "adaptive")
    assert catalog.resolve("haiku").thinking == ("enabled",)
    assert catalog.resolve("opus").efforts == ("low", "medium", "high", "xhigh", "max")
    assert catalog.resolve("haiku").efforts == ()
    assert "web_search" in (catalog.resolve("haiku").tools or ())


def test_a_user_model_without_capabilities_is_not_checked_and_bad_values_are_named(tmp_path: Path) -> None:
    user = tmp_path / "c.toml"
    user.write_text('[models."local"]\ninput = "1"\noutput = "2"\n')
    local = Catalog.load(user).resolve("local")
    assert local.thinking is None and local.efforts is None and local.tools is None
    user.write_text('[models."local"]\ninput = "1"\noutput = "2"\nefforts = ["extreme"]\n')
    with pytest.raises(ConfigError, match="models.local.efforts: unknown value 'extreme'"):
        Catalog.load(user)


def test_cost_of_a_current_model_and_of_an_unpriced_one() -> None:
    runner = CliRunner()
    ok = runner.invoke(main, ["cost", "claude-sonnet-4-5", "--usage", '{"input_tokens": 1000000}'])
    assert ok.exit_code == 0 and ok.output.splitlines()[-1] == "3"
    unpriced = runner.invoke(main, ["cost", "claude-opus-5-5", "--usage", '{"input_tokens": 5}'])
    assert unpriced.exit_code == 1 and "no price" in unpriced.output and "unknown" in unpriced.output


def test_the_unknown_model_error_lists_each_name_once() -> None:
    out = CliRunner().invoke(main, ["cost", "nope", "--usage", "{}"]).output
    names = out.split("known: ", 1)[1].strip().split(", ")
    assert len(names) == len(set(names)) and "haiku" in names


@pytest.mark.parametrize(("usage", "problem"), [
    ('{"input_tokens": -5}', "cannot be negative"),
    ('{"input_tokens": 1.5}', "whole number, not 1.5"),
    ('{"output_tokens": true}', "whole number, not true"),
    ('{"cache_creation": {"ephemeral_1h_input_tokens": -1}}', "cannot be negative"),
    ('{"cache_read_input_tokens": "7"}', "whole number"),
])
def test_cost_refuses_token_counts_that_are_not_whole_and_non_negative(usage: str, problem: str) -> None:
    result = CliRunner().invoke(main, ["cost", "haiku", "--usage", usage])
    assert result.exit_code == 2 and problem in result.output


def test_models_marks_cut_aliases_and_unknown_prices() -> None:
    out = CliRunner().invoke(main, ["models"]).output
    haiku = next(line for line in out.splitlines() if line.startswith("claude-haiku-4-5 "))
    assert "claude-haiku-4-5-20251…" in haiku  # cut, and it shows
    opus55 = next(line for line in out.splitlines() if line.startswith("claude-opus-5-5 "))
    assert "unknown" in opus55
