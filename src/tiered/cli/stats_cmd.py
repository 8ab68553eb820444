"""`tiered stats`: per-route figures from the request log (cost, latency, quality, escalation, mix).

Reads the log the routes write: `--db`, else the one a config's `[telemetry]` names (its SQLite
file, or its PostgreSQL schema when it logs only there), else `$TIERED_DB` or the per-user default.
Prints one row per route, or with `--json` a JSON list with one object per route. For a cascade route,
whether its escalations earn their cost (`tiered.telemetry.escalation_value`, from the quality labels).
The arithmetic lives in `tiered.telemetry.stats`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from tiered.catalog import Catalog
from tiered.config import Config, load_config
from tiered.errors import ConfigError, TieredError
from tiered.records import Record
from tiered.telemetry.escalation_value import escalation_by_route
from tiered.telemetry.escalation_value import text as escalation_text
from tiered.telemetry.spend import GROUPS, parse_since, spend_by, spend_table
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


def _drifts(result: list[RouteStats], learning: Any) -> dict[str, list[dict[str, Any]]]:
    """Per learning route with a declared target: each bound against what the route did (positive = past it)."""
    if learning is None or not learning.target.declared:
        return {}
    from tiered.online.calibration import drift

    return {s.route: [d.to_json() for d in drift(learning.target, tier_mix=s.tier_mix, cost_ratio=s.cost_ratio,
                                                 quality=s.quality)]
            for s in result if learning.learns(s.route)}


@click.command()
@click.option("--db", type=click.Path(dir_okay=False), default=None, help="SQLite log (default: $TIERED_DB).")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Read the log this config's [telemetry] writes (sqlite, else postgres).")
@click.option("--route", default=None, help="Only this route.")
@click.option("--baseline", default=None,
              help="Price the served answers' tokens on this model for the 'vs base' ratio (default: the top tier).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list, one object per route.")
@click.option("--by", type=click.Choice(GROUPS), default=None,
              help="Spend grouped by key, team, route, tier, model or (UTC) day instead of the per-route figures.")
@click.option("--since", default=None, help="Only requests since then: 7d, 24h, 30m, 2w or an ISO 8601 date.")
def stats(db: str | None, config_path: str | None, route: str | None, baseline: str | None, as_json: bool,
          by: str | None, since: str | None) -> None:
    """Per-route cost per request (and against always using the top tier), p50/p95 latency, quality,
    escalation, fallback, degraded and error rates, tier mix and bypass state; with --by, spend per key,
    team, route, tier, model or day."""
    learning = None
    try:
        start = parse_since(since)
    except TieredError as e:
        raise click.ClickException(str(e)) from e
    if by is not None:
        _spend(db, config_path, by, start, as_json)
        return
    try:
        config = None
        if config_path:
            from tiered.gateway.settings import load

            config, gateway = load(config_path)  # a gateway config's [gateway]/[state]/[learning] are allowed
            learning = gateway.learning
        catalog = config.catalog if config is not None else Catalog.load()
        base = catalog.resolve(baseline or list(catalog.tiers)[-1])
        records, where = _read(db, config, route)
    except TieredError as e:
        raise click.ClickException(str(e)) from e
    if start is not None:
        records = [r for r in records if r.created_at >= start]
    result = stats_by_route(records, baseline=priced_on(base))
    escalations = escalation_by_route(records)
    drifts = _drifts(result, learning)
    if as_json:
        rows = [{**s.to_json(), **({"escalations": escalations[s.route].to_json()} if s.route in escalations else {}),
                 **({"target_drift": drifts[s.route]} if s.route in drifts else {})} for s in result]
        click.echo(json.dumps(rows, indent=2))
    elif not result:
        click.echo(f"no requests logged in {where}")
    else:
        for line in table(result):
            click.echo(line)
        if escalations:
            click.echo("")
            for line in escalation_text(escalations):
                click.echo(line)
        for route, found in drifts.items():
            parts = []
            for d in found:
                bound = ">=" if d["measure"] == "quality" else "<="
                if d["actual"] is None:
                    parts.append(f"{d['measure']} {bound} {d['target']:g}: not measured (no labels)")
                else:
                    state = "off target" if d["over"] > 1e-9 else "on target"
                    parts.append(f"{d['measure']} {d['actual']:.3f} ({bound} {d['target']:g}: {state}, "
                                 f"drift {d['over']:+.3f})")
            click.echo(f"{route}: target drift: " + "; ".join(parts))
        click.echo(f"\n{sum(s.requests for s in result)} requests in {where}")


def _spend(db: str | None, config_path: str | None, by: str, since: float | None, as_json: bool) -> None:
    from tiered.telemetry.log_reader import log_location, open_log

    try:
        cfg = load_config(config_path).telemetry if config_path else None
        log = open_log(cfg, db, create=False)
        rows = []
        if log is not None:
            with log:
                rows = spend_by(log, by, since)
    except TieredError as e:
        raise click.ClickException(str(e)) from e
    if as_json:
        click.echo(json.dumps({"by": by, "since": since, "rows": [r.to_json() for r in rows]}, indent=2))
    elif not rows:
        click.echo(f"no requests logged in {log_location(cfg, db)}")
    else:
        for line in spend_table(by, rows):
            click.echo(line)
