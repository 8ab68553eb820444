"""The catalog is data: aliases resolve, a user file overrides and adds, staleness is reported."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from tiered.catalog import Catalog
from tiered.cli import main
from tiered.errors import CatalogError, ConfigError


def test_aliases_resolve_to_todays_models() -> None:
    catalog = Catalog.load()
    assert catalog.resolve("haiku").id == "claude-haiku-4-5"
    assert catalog.resolve("sonnet").id == "claude-sonnet-4-6"
    assert catalog.resolve("opus").id == "claude-opus-4-7"
    assert catalog.resolve("claude-haiku-4-5-20251001").id == "claude-haiku-4-5"
    assert list(catalog.tiers) == ["haiku", "sonnet", "opus"]
    assert catalog.tier_rank("haiku") < catalog.tier_rank("sonnet") < catalog.tier_rank("opus")


def test_prices_match_the_published_table() -> None:
    opus = Catalog.load().resolve("opus").prices
    assert (opus.input, opus.output, opus.cache_write_5m, opus.cache_write_1h, opus.cache_read) == (
        Decimal("5.00"), Decimal("25.00"), Decimal("6.25"), Decimal("10.00"), Decimal("0.50"))


def test_unknown_model_names_the_known_ones() -> None:
    with pytest.raises(CatalogError, match="unknown model 'gpt-9'.*haiku"):
        Catalog.load().resolve("gpt-9")


def test_user_catalog_overrides_a_price_and_adds_a_model(tmp_path: Path) -> None:
    user = tmp_path / "catalog.toml"
    user.write_text(
        'prices_checked = 2026-11-25\n'
        '[tiers]\nsonnet = "claude-sonnet-5-5"\n'
        '[models."claude-haiku-4-5"]\ninput = "0.80"\n'
        '[models."claude-sonnet-5-5"]\nprovider = "anthropic"\ntier = "sonnet"\naliases = ["sonnet-next"]\n'
        'input = "3"\noutput = "15"\n'
        '[models."llama-3.1-8b"]\nprovider = "openai"\ntier = "cheap"\napi_base = "http://127.0.0.1:8000/v1"\n'
        'input = "0.2"\noutput = "0.2"\n'
    )
    catalog = Catalog.load(user)
    haiku = catalog.resolve("haiku")
    assert haiku.prices.input == Decimal("0.80")
    assert haiku.prices.output == Decimal("5.00")  # untouched fields survive the overlay
    assert catalog.resolve("sonnet").id == "claude-sonnet-5-5"
    assert catalog.resolve("sonnet-next").prices.cache_write_1h == Decimal(6)  # 2x input by default
    assert catalog.resolve("llama-3.1-8b").provider == "openai"
    assert catalog.prices_checked == dt.date(2026, 11, 25)


def test_unknown_key_in_user_catalog_is_named(tmp_path: Path) -> None:
    user = tmp_path / "catalog.toml"
    user.write_text('[models."claude-haiku-4-5"]\ninptu = "0.8"\n')
    with pytest.raises(ConfigError, match="inptu"):
        Catalog.load(user)


def test_staleness_after_90_days() -> None:
    catalog = Catalog.load()
    assert not catalog.stale(catalog.prices_checked + dt.timedelta(days=90))
    assert catalog.stale(catalog.prices_checked + dt.timedelta(days=91))


def test_models_command_lists_and_warns_when_stale(tmp_path: Path) -> None:
    runner = CliRunner()
    fresh = runner.invoke(main, ["models"])
    assert fresh.exit_code == 0, fresh.output
    assert "claude-opus-4-7" in fresh.output and "WARNING" not in fresh.output
    old = tmp_path / "old.toml"
    old.write_text("prices_checked = 2020-01-01\n")
    stale = runner.invoke(main, ["models", "--catalog", str(old)])
    assert stale.exit_code == 0
    assert "more than 90 days" in stale.output
