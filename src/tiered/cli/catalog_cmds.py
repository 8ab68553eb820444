"""`tiered models` and `tiered cost`: the catalog and exact cost from the command line."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import click

from tiered.catalog import Catalog
from tiered.errors import TieredError
from tiered.pricing import cost_usd, format_usd
from tiered.types import Usage

_catalog_option = click.option(
    "--catalog", "catalog_path", type=click.Path(exists=True, dir_okay=False), default=None,
    help="A user catalog TOML that adds or overrides models (default: $TIERED_CATALOG).",
)


@click.command()
@_catalog_option
@click.option("--json", "as_json", is_flag=True, help="Print the catalog as JSON.")
def models(catalog_path: str | None, as_json: bool) -> None:
    """List the model catalog: ids, aliases, tiers, limits and prices per million tokens."""
    try:
        catalog = Catalog.load(catalog_path)
    except TieredError as e:
        raise click.ClickException(str(e)) from e
    age = (dt.date.today() - catalog.prices_checked).days
    if as_json:
        click.echo(json.dumps({
            "prices_checked": catalog.prices_checked.isoformat(),
            "stale": catalog.stale(),
            "tiers": dict(catalog.tiers),
            "models": [
                {"id": m.id, "provider": m.provider, "tier": m.tier, "aliases": list(m.aliases),
                 "context_window": m.context_window, "max_output": m.max_output,
                 "prices_usd_per_mtok": {k: str(getattr(m.prices, k)) for k in
                                         ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read")}
                 if m.priced else None,
                 "batch_discount": str(m.batch_discount),
                 "thinking": _listed(m.thinking), "efforts": _listed(m.efforts), "tools": _listed(m.tools)}
                for m in catalog.models.values()
            ],
        }, indent=2))
        return
    header = f"{'model':<24} {'tier':<8} {'aliases':<30} {'ctx':>8} {'max out':>8} {'input':>7} {'output':>7} " \
             f"{'cw 5m':>7} {'cw 1h':>7} {'read':>6}"
    click.echo(header)
    click.echo("-" * len(header))
    for m in catalog.models.values():
        p = m.prices
        prices = (f"{p.input:>7} {p.output:>7} {p.cache_write_5m:>7} {p.cache_write_1h:>7} {p.cache_read:>6}"
                  if m.priced else f"{'unknown':>7} {'':>7} {'':>7} {'':>7} {'':>6}")
        click.echo((f"{m.id:<24} {m.tier:<8} {_fit(', '.join(m.aliases), 30):<30} {m.context_window:>8} "
                    f"{m.max_output:>8} {prices}").rstrip())
    click.echo("\nPrices in USD per million tokens; batch requests take the batch discount off. 'unknown': the "
               "catalog's source gives no price (served as asked, cost reported as unknown).")
    click.echo(f"Tiers: {', '.join(f'{t} -> {m}' for t, m in catalog.tiers.items())}")
    sources = ", ".join(catalog.sources)
    click.echo(f"Prices checked {catalog.prices_checked.isoformat()} ({age} days ago); sources: {sources}")
    if catalog.stale():
        click.echo(f"WARNING: prices were checked more than 90 days ago ({age} days); re-check them and update "
                   "the catalog (TIERED_CATALOG lets you override without a release).", err=True)


@click.command()
@click.argument("model")
@click.option("--usage", "usage_json", required=True, help="The usage object as the API returns it (JSON).")
@click.option("--batch", is_flag=True, help="Price as a Message Batches request (batch discount).")
@_catalog_option
def cost(model: str, usage_json: str, batch: bool, catalog_path: str | None) -> None:
    """Print the exact USD cost of USAGE on MODEL; the last line is the plain decimal amount."""
    try:
        catalog = Catalog.load(catalog_path)
        info = catalog.resolve(model)
    except TieredError as e:
        raise click.ClickException(str(e)) from e
    try:
        raw = json.loads(usage_json)
    except ValueError as e:
        raise click.BadParameter(f"not JSON: {e}", param_hint="--usage") from e
    if not isinstance(raw, dict):
        raise click.BadParameter("must be a JSON object", param_hint="--usage")
    bad = _bad_count(raw)
    if bad is not None:
        raise click.BadParameter(bad, param_hint="--usage")
    try:
        usage = Usage.from_api(raw)
    except (TypeError, ValueError) as e:
        raise click.BadParameter(f"bad token count: {e}", param_hint="--usage") from e
    if not info.priced:
        raise click.ClickException(f"{info.id}: the catalog has no price for this model (its source, read "
                                   f"{catalog.prices_checked.isoformat()}, gives none), so its cost is unknown; "
                                   "add input and output prices in a user catalog (--catalog or $TIERED_CATALOG)")
    amount = cost_usd(info, usage, batch=batch)
    click.echo(f"# {info.id}{' (batch)' if batch else ''}: {usage.input_tokens} in, {usage.output_tokens} out, "
               f"{usage.cache_creation_5m_input_tokens} cache-write 5m, {usage.cache_creation_1h_input_tokens} "
               f"cache-write 1h, {usage.cache_read_input_tokens} cache-read")
    click.echo(format_usd(amount))


_COUNTS = ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
_SPLIT = ("ephemeral_5m_input_tokens", "ephemeral_1h_input_tokens")


def _bad_count(raw: dict[str, Any]) -> str | None:
    """Why a usage object's token counts cannot be priced (each must be a whole number >= 0), or None."""
    split = raw.get("cache_creation")
    if split is not None and not isinstance(split, dict):
        return "cache_creation: must be an object"
    fields = [(k, raw[k]) for k in _COUNTS if k in raw]
    fields += [(f"cache_creation.{k}", split[k]) for k in _SPLIT if isinstance(split, dict) and k in split]
    for key, value in fields:
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            return f"{key}: a token count is a whole number, not {json.dumps(value)}"
        if value < 0:
            return f"{key}: a token count cannot be negative ({value})"
    return None


def _fit(text: str, width: int) -> str:
    """`text` cut to `width` characters, with an ellipsis when something was cut."""
    return text if len(text) <= width else text[: width - 1] + "…"


def _listed(values: tuple[str, ...] | None) -> list[str] | None:
    return None if values is None else list(values)
