"""`tiered calibrate --from-log LOG --route R --config F`: re-fit a route's cuts on its logged traffic, keeping the
route's declared target (`[learning] target`, or the --max-* / --min-quality options given).

The router is the one the route runs now: its promoted version (the new cuts are stored with it in the registry
and published to every replica), else the configured one (the cuts are written into the config file). The fit
is `tiered.online.calibration.calibrate`: a quality or cost target on the labelled rows that know every tier's
outcome, a share target on every logged prompt.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import click


def calibrate_from_log(log: str, route: str | None, config_path: str | None, max_cost_ratio: float | None,
                       min_quality: float | None, shares: Mapping[str, float], as_json: bool) -> None:
    from tiered.cli.router_cmd import _served_shares, loop_context
    from tiered.online.calibration import calibrate
    from tiered.online.cycle import current_router
    from tiered.online.settings import DeclaredTarget

    if config_path is None:
        raise click.UsageError("--from-log needs --config (the route, its declared target, the registry)")
    ctx = loop_context(config_path, None, None, None if log == "default" else log, need_registry=False)
    route = route or ctx.config.default_route
    tiers = ctx.route_tiers(route)
    declared = ctx.learning.target if ctx.learning is not None else DeclaredTarget()
    if max_cost_ratio is not None or min_quality is not None or shares:
        declared = DeclaredTarget(max_cost_ratio, min_quality, dict(shares))
    router, running = current_router(ctx.registry, route, ctx.configured_scorer(route))
    with ctx.open_log() as sink:
        prompts, labelled = sink.prompts(route), sink.examples(route)
    cal = calibrate(router, tiers, declared, prompts=prompts, labelled=labelled, catalog=ctx.config.catalog,
                    served_shares=_served_shares(ctx, route))
    cuts = tuple(cal.fit.thresholds.cuts)
    if ctx.registry is not None and running.startswith("v"):
        ctx.registry.set_cuts(route, running, cuts)
        where = f"router {running} in {ctx.registry.root}" + (" (published)" if ctx.registry.redis else "")
    else:
        from tiered.config_edit import update_config_file
        from tiered.config_routers import find_router

        table = find_router(ctx.config, route).table  # the route's own router, or the named one it runs
        update_config_file(config_path, table, tiers, cuts)
        where = f"{config_path} ({table}.thresholds)"
    out = {**cal.to_json(), "route": route, "router": running, "target": declared.to_json(), "written": where}
    if as_json:
        click.echo(json.dumps(out))
    else:
        mix = ", ".join(f"{t} {v:.1%}" for t, v in cal.fit.share.items())
        click.echo(f"route {route} ({running} router): cuts {', '.join(f'{c:.4g}' for c in cuts)} for "
                   f"{', '.join(tiers)}; target {declared.describe()}; on {cal.basis}: {mix}"
                   + (f", quality {cal.fit.quality:.3f}, cost ratio {cal.fit.cost_ratio:.3f}"
                      if cal.fit.quality is not None and cal.fit.cost_ratio is not None else ""))
        click.echo(f"# written to {where}")
    if not cal.fit.met:
        raise click.ClickException("the target cannot be met on this log; the closest setting is shown above")
