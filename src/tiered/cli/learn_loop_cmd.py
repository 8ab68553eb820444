"""`tiered learn`: one turn of the loop for each learning route: train -> verify -> promote (`tiered.online.cycle`).

    tiered learn --config tiered.toml                 # every route [learning] names that has a router
    tiered learn --config tiered.toml --route default --json

`tiered serve` runs the same on a schedule when `[learning] interval` is set. A route's candidate is promoted
only when it beats the router the route runs now on the same held-out rows (`--force` overrides).
"""

from __future__ import annotations

import json

import click

from tiered.errors import TieredError


@click.command("learn")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False), required=True,
              help="The gateway config: [learning] (registry, target, routes), [telemetry] log, [state] redis.")
@click.option("--route", default=None, help="Only this route.")
@click.option("--db", default=None, help="The request log (default: the config's [telemetry] one).")
@click.option("--force", is_flag=True, help="Promote the candidate even when it is not better.")
@click.option("--json", "as_json", is_flag=True)
def learn(config_path: str, route: str | None, db: str | None, force: bool, as_json: bool) -> None:
    """Train a router per learning route on its labelled traffic, verify it, promote it if it is better."""
    from tiered.cli.router_cmd import _served_shares, loop_context
    from tiered.online.cycle import learn_cycle
    from tiered.online.settings import DeclaredTarget

    try:
        ctx = loop_context(config_path, None, None, db)
        learning = ctx.learning
        routes = [route] if route else [r for r in ctx.config.routes if learning is None or learning.learns(r)]
        outcomes = []
        for r in routes:
            try:
                tiers = ctx.route_tiers(r)
            except click.UsageError:
                if route:
                    raise
                continue  # a route without a router has nothing to learn
            with ctx.open_log() as log:
                outcome = learn_cycle(log, ctx.registry, r, tiers, learning.target if learning else DeclaredTarget(),
                                      ctx.config.catalog, configured=ctx.configured_scorer(r), force=force,
                                      served_shares=_served_shares(ctx, r))
            outcomes.append(outcome)
    except (TieredError, ValueError) as e:
        raise click.ClickException(str(e)) from e
    if as_json:
        click.echo(json.dumps([o.to_json() for o in outcomes], indent=2))
        return
    if not outcomes:
        click.echo("no learning route has a complexity router")
    for o in outcomes:
        click.echo(f"{o.route}: {o.reason} ({o.labels} labelled rows)")
