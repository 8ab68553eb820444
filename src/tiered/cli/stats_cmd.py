"""`tiered stats`: per-route figures from the request log (cost, latency, quality, escalation, mix).

Reads the log the routes write: `--db`, else the one a config's `[telemetry]` names (its SQLite
file, or its PostgreSQL schema when it logs only there), else `$TIERED_DB` or the per-user default.
Prints one row per route, or with `--json` a JSON list with one object per route. The arithmetic
lives in `tiered.telemetry.stats`.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from tiered.catalog import Catalog
from tiered.config import Config, load_config
from tiered.errors import ConfigError, TieredError
from tiered.records import Record
from tiered.telemetry.sqlite import SqliteSink, default_db_path
from tiered.telemetry.stats import RouteStats, priced_on, stats_by_route


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def table(stats: list[RouteStats]) -> list[str]:
    """The rows, in columns as wide as their longest value (a route such as `model/claude-haiku-4-5`)."""
    qualities = [f"{s.quality:.2f} ({s.labelled})" if s.quality is not None else "-" for s in stats]
    rw = max([16, *(len(s.route) for s in stats)])
    qw = max([8, *(len(q) for q in qualities)])
    header = (f"{'route':<{rw}} {'requests':>8} {'$/request':>11} {'vs base':>8} {'p50 ms':>8} {'p95 ms':>8} "
              f"{'quality':>{qw}} {'escal.':>6} {'fallbk':>6} {'degr.':>6}  tier mix")
    lines = [header, "-" * (len(header) + 24)]
    for s, quality in zip(stats, qualities, strict=True):
        mix = ", ".join(f"{t} {_pct(v)}" for t, v in sorted(s.tier_mix.items(), key=lambda kv: -kv[1]))
        ratio = f"{s.cost_ratio:.2f}x" if s.cost_ratio is not None else "-"
        lines.append(f"{s.route:<{rw}} {s.requests:>8} {float(s.cost_per_request_usd):>11.6f} {ratio:>8} "
                     f"{s.p50_ms:>8.0f} {s.p95_ms:>8.0f} {quality:>{qw}} {_pct(s.escalation_rate):>6} "
                     f"{_pct(s.fallback_rate):>6} {_pct(s.degraded_rate):>6}  {mix}")
        if s.bypass:
            lines.append(f"{'':<{rw}} bypassed: {s.bypass}")
    return lines


def _read(db: str | None, config: Config | None, route: str | None) -> tuple[list[Record], str]:
    """The records to summarise, and where they came from (for the footer)."""
    if db is None and config is not None:
        telemetry = config.telemetry
        if "sqlite" not in telemetry.sinks and "postgres" in telemetry.sinks:
            from tiered.telemetry.configured import postgres_dsn
            from tiered.telemetry.postgres import PostgresSink

            with PostgresSink(postgres_dsn(telemetry), schema=telemetry.postgres_schema) as pg:
                return pg.records(route), f"postgres schema {telemetry.postgres_schema}"
        if "sqlite" not in telemetry.sinks:
            raise ConfigError("telemetry.sinks: stats read sqlite or postgres; a jsonl log is write-only")
        db = telemetry.sqlite_path
    path = Path(db) if db else default_db_path()
    if not path.exists():
        return [], str(path)  # reading stats creates no database
    with SqliteSink(path) as sink:
        return sink.records(route), str(path)


@click.command()
@click.option("--db", type=click.Path(dir_okay=False), default=None, help="SQLite log (default: $TIERED_DB).")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Read the log this config's [telemetry] writes (sqlite, else postgres).")
@click.option("--route", default=None, help="Only this route.")
@click.option("--baseline", default=None,
              help="Price the served answers' tokens on this model for the 'vs base' ratio (default: the top tier).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list, one object per route.")
def stats(db: str | None, config_path: str | None, route: str | None, baseline: str | None, as_json: bool) -> None:
    """Per-route cost per request (and against always using the top tier), p50/p95 latency, quality,
    escalation, fallback, degraded and error rates, tier mix and bypass state."""
    try:
        config = load_config(config_path) if config_path else None
        catalog = config.catalog if config is not None else Catalog.load()
        base = catalog.resolve(baseline or list(catalog.tiers)[-1])
        records, where = _read(db, config, route)
    except TieredError as e:
        raise click.ClickException(str(e)) from e
    result = stats_by_route(records, baseline=priced_on(base))
    if as_json:
        click.echo(json.dumps([s.to_json() for s in result], indent=2))
    elif not result:
        click.echo(f"no requests logged in {where}")
    else:
        for line in table(result):
            click.echo(line)
        click.echo(f"\n{sum(s.requests for s in result)} requests in {where}")
