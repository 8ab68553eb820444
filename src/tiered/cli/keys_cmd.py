"""`tiered keys create | list | revoke | hash`: gateway keys as data, in the request log's database.

`create` makes a secret, stores only its SHA-256 with the key's name, team, budgets, rate and
allowlists in the key table (`tiered.telemetry.key_table`), and prints the secret once: it is not
kept anywhere, so it cannot be shown again. A gateway reads the table when its config says
`[gateway] key_store = true`. `--print-toml` prints a `[[gateway.keys]]` table instead of storing the
key, for keys kept in the config file. `hash` prints the SHA-256 of a secret read from stdin.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal

import click

from tiered.config import load_config
from tiered.errors import TieredError
from tiered.gateway.keys import GatewayKey, check_name, new_secret, parse_expiry, secret_hash
from tiered.telemetry.key_table import KeyTable
from tiered.telemetry.log_reader import log_location, open_log
from tiered.telemetry.sql_sink import SqlSink

_DB = click.option("--db", type=click.Path(dir_okay=False), default=None, help="SQLite log (default: $TIERED_DB).")
_CONFIG = click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False), default=None,
                       help="Use the log this config's [telemetry] writes (sqlite, else postgres).")


def _open(db: str | None, config_path: str | None) -> tuple[SqlSink, str]:
    cfg = load_config(config_path).telemetry if config_path else None
    sink = open_log(cfg, db)
    assert sink is not None
    return sink, log_location(cfg, db)


def _when(ts: float | None) -> str:
    return "-" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M")


@click.group()
def keys() -> None:
    """Create, list and revoke gateway keys (names, teams, budgets, rates, allowlists, expiry)."""


@keys.command()
@click.argument("name")
@click.option("--team", default=None, help="The team whose shared limits ([gateway.teams.NAME]) also apply.")
@click.option("--usd-per-day", type=float, default=None, help="Daily budget in USD (UTC day).")
@click.option("--usd-per-month", type=float, default=None, help="Monthly budget in USD (UTC month).")
@click.option("--rpm", "requests_per_minute", type=click.IntRange(min=1), default=None, help="Requests per minute.")
@click.option("--route", "routes", multiple=True, help="A route the key may use (repeat; default: all).")
@click.option("--model", "models", multiple=True, help="A model the key may request by name (repeat; default: all).")
@click.option("--expires", default=None, help="Expiry, ISO 8601 (2027-01-01 or 2027-01-01T12:00:00Z).")
@click.option("--admin", is_flag=True, help="May read /v1/tiered/stats and the dashboard.")
@click.option("--print-toml", is_flag=True, help="Print a [[gateway.keys]] table for the config instead of storing.")
@_DB
@_CONFIG
def create(name: str, team: str | None, usd_per_day: float | None, usd_per_month: float | None,
           requests_per_minute: int | None, routes: tuple[str, ...], models: tuple[str, ...], expires: str | None,
           admin: bool, print_toml: bool, db: str | None, config_path: str | None) -> None:
    """Create key NAME and print its secret, once."""
    secret = new_secret()
    try:
        key = GatewayKey(
            name=check_name(name), secret_sha256=secret_hash(secret),
            team=check_name(team, "team") if team else None,
            usd_per_day=None if usd_per_day is None else Decimal(str(usd_per_day)),
            usd_per_month=None if usd_per_month is None else Decimal(str(usd_per_month)),
            requests_per_minute=requests_per_minute, routes=routes or None, models=models or None,
            expires_at=parse_expiry(expires, "--expires"), admin=admin,
        )
        if print_toml:
            click.echo(_toml(key))
        else:
            sink, where = _open(db, config_path)
            with sink:
                KeyTable(sink).create(key)
            click.echo(f"created key {name!r} in {where}", err=True)
    except TieredError as e:
        raise click.ClickException(str(e)) from e
    click.echo("secret (shown once, store it now; tiered keeps only its SHA-256):", err=True)
    click.echo(secret)


def _toml(key: GatewayKey) -> str:
    lines = ["[[gateway.keys]]", f'name = "{key.name}"', f'secret_sha256 = "{key.secret_sha256}"']
    if key.team:
        lines.append(f'team = "{key.team}"')
    for field_name in ("usd_per_day", "usd_per_month"):
        value = getattr(key, field_name)
        if value is not None:
            lines.append(f"{field_name} = {value}")
    if key.requests_per_minute is not None:
        lines.append(f"requests_per_minute = {key.requests_per_minute}")
    if key.routes is not None:
        lines.append(f"routes = {json.dumps(list(key.routes))}")
    if key.models is not None:
        lines.append(f"models = {json.dumps(list(key.models))}")
    if key.expires_at is not None:
        lines.append(f'expires = "{datetime.fromtimestamp(key.expires_at, UTC).isoformat()}"')
    if key.admin:
        lines.append("admin = true")
    return "\n".join(lines)


@keys.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@_DB
@_CONFIG
def list_(as_json: bool, db: str | None, config_path: str | None) -> None:
    """The stored keys (never their secrets), with their status."""
    try:
        sink, where = _open(db, config_path)
        with sink:
            found = KeyTable(sink).list()
    except TieredError as e:
        raise click.ClickException(str(e)) from e
    now = time.time()
    if as_json:
        click.echo(json.dumps([k.to_json(now) for k in found], indent=2))
        return
    if not found:
        click.echo(f"no keys in {where}")
        return
    click.echo(f"{'name':<20} {'team':<12} {'status':<8} {'$/day':>8} {'$/month':>9} {'rpm':>6} {'expires':<16} "
               "routes / models")
    for k in found:
        j = k.to_json(now)
        day = "-" if k.usd_per_day is None else f"{k.usd_per_day}"
        month = "-" if k.usd_per_month is None else f"{k.usd_per_month}"
        allow = f"{','.join(k.routes or ['*'])} / {','.join(k.models or ['*'])}"
        click.echo(f"{k.name:<20} {k.team or '-':<12} {j['status']:<8} {day:>8} {month:>9} "
                   f"{k.requests_per_minute or '-':>6} {_when(k.expires_at):<16} {allow}{' admin' if k.admin else ''}")


@keys.command()
@click.argument("name")
@_DB
@_CONFIG
def revoke(name: str, db: str | None, config_path: str | None) -> None:
    """Revoke key NAME: gateways reading the table refuse it within seconds."""
    try:
        sink, where = _open(db, config_path)
        with sink:
            done = KeyTable(sink).revoke(name)
    except TieredError as e:
        raise click.ClickException(str(e)) from e
    if not done:
        raise click.ClickException(f"no active key {name!r} in {where}")
    click.echo(f"revoked key {name!r}")


@keys.command(name="hash")
def hash_() -> None:
    """Print the SHA-256 of a secret read from stdin (for secret_sha256 in [[gateway.keys]])."""
    secret = sys.stdin.readline().strip()
    if not secret:
        raise click.ClickException("no secret on stdin")
    click.echo(secret_hash(secret))
