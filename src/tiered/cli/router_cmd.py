"""`tiered router list | promote | rollback`: the versions of each route's router, and which one runs.

    tiered router list --config tiered.toml
    tiered router promote router.json.gz --route default --config tiered.toml     # refused unless better
    tiered router promote v0003 --route default --config tiered.toml --force
    tiered router rollback --route default --config tiered.toml

The registry is `[learning] registry` of the config (or `--registry DIR`); with `[state] redis` (or `--redis`) a
promotion is published there and every gateway replica installs it within a second, without a restart.
Promotion verifies the candidate and the current router on the same labelled rows of the request log (rows
logged after the candidate's training window when there are enough, else the fixed held-out share
`tiered learn` never fits on) and refuses a candidate that is not better, unless `--force`. Its cuts are
fitted on the log to keep the route's declared target (`[learning] target`), unless `--cuts` gives them.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from tiered.errors import TieredError


@dataclass
class LoopContext:
    """What the loop's commands read from a config: the routes, the log, the registry, the target."""

    config: Any
    learning: Any
    registry: Any
    log_spec: str | None
    schema: str

    def open_log(self) -> Any:
        from tiered.learning.store import open_log

        if self.log_spec is None:
            raise click.UsageError("no request log: give --db, or a --config whose [telemetry] has sqlite or postgres")
        return open_log(self.log_spec, schema=self.schema)

    def route_tiers(self, route: str) -> tuple[str, ...]:
        """The tiers of the route's complexity router(s), cheapest first."""
        from tiered.online.install import routers_in
        from tiered.policy_registry import BuildContext

        if route not in self.config.routes:
            raise click.UsageError(f"no route named {route!r}; routes: {', '.join(self.config.routes)}")
        policy = BuildContext(self.config.catalog, self.config.policies).policy(self.config.routes[route])
        routers = routers_in(policy)
        if not routers:
            raise click.UsageError(f"route {route!r} has no complexity router to learn for")
        return tuple(routers[0].thresholds.tiers)

    def configured_scorer(self, route: str) -> Any:
        from tiered.online.install import routers_in
        from tiered.policy_registry import BuildContext

        policy = BuildContext(self.config.catalog, self.config.policies).policy(self.config.routes[route])
        routers = routers_in(policy)
        scorer = getattr(routers[0].scorer, "scorer", None) if routers else None
        return scorer if callable(getattr(scorer, "score", None)) else None


def loop_context(config_path: str | None, registry_dir: str | None, redis_url: str | None,
                 db: str | None, *, need_registry: bool = True) -> LoopContext:
    from tiered.gateway.settings import load
    from tiered.online.registry import RouterRegistry

    config, settings = load(config_path)
    learning = settings.learning
    root = registry_dir or (learning.registry if learning is not None else None)
    if root is None and need_registry:
        raise click.UsageError("no router registry: give --registry DIR, or a --config with [learning] registry")
    url = redis_url or settings.redis_url
    redis = None
    if url:
        import redis as redis_lib

        redis = redis_lib.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)
    spec, schema = db, "tiered"
    t = config.telemetry
    if spec is None and config_path is not None:
        if "sqlite" in t.sinks:
            from tiered.telemetry.sqlite import default_db_path

            spec = t.sqlite_path or str(default_db_path())
        elif "postgres" in t.sinks:
            from tiered.telemetry.configured import postgres_dsn

            spec, schema = postgres_dsn(t), t.postgres_schema
    elif spec is not None and spec.startswith(("postgres://", "postgresql://")):
        schema = t.postgres_schema
    registry = None if root is None else RouterRegistry(root, redis=redis)
    return LoopContext(config, learning, registry, spec, schema)


def _when(t: float | None) -> str:
    return "-" if t is None else dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%d %H:%M")


_CONFIG = click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False), default=None,
                       help="The gateway config: [learning] registry and target, [state] redis, [telemetry] log.")
_REGISTRY = click.option("--registry", "registry_dir", default=None, help="The registry directory (overrides "
                         "[learning] registry).")
_REDIS = click.option("--redis", "redis_url", default=None, help="Publish to this Redis (overrides [state] redis).")


@click.group("router")
def router() -> None:
    """Router versions per route: list them, promote one (verified first), roll back."""


@router.command("list")
@_CONFIG
@_REGISTRY
@click.option("--route", default=None, help="Only this route.")
@click.option("--json", "as_json", is_flag=True)
def list_(config_path: str | None, registry_dir: str | None, route: str | None, as_json: bool) -> None:
    """Each route's router versions, their metadata and held-out figures; * marks the one running."""
    try:
        ctx = loop_context(config_path, registry_dir, None, None)
        routes = [route] if route else ctx.registry.routes()
        out = []
        for r in routes:
            current = ctx.registry.current(r)
            out.append({"route": r, "current": None if current is None else current.id,
                        "history": ctx.registry.history(r),
                        "versions": [v.to_json() for v in ctx.registry.versions(r)]})
    except TieredError as e:
        raise click.ClickException(str(e)) from e
    if as_json:
        click.echo(json.dumps(out, indent=2))
        return
    if not out:
        click.echo(f"no router versions in {ctx.registry.root}")
    for entry in out:
        click.echo(f"route {entry['route']}: running {entry['current'] or 'its configured router'}")
        for v in entry["versions"]:
            m = v["metadata"]
            held = m.get("heldout") or {}
            apgr = held.get("apgr")
            ci = held.get("apgr_ci")
            figures = "held-out APGR n/a" if apgr is None else f"held-out APGR {apgr:.3f}" + (
                f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "") + f" on {held.get('n')} rows"
            mark = "*" if v["id"] == entry["current"] else " "
            cuts = "configured cuts" if v["cuts"] is None else "cuts " + ", ".join(f"{c:.4g}" for c in v["cuts"])
            click.echo(f" {mark} {v['id']}  added {_when(v['added_at'])}  promoted {_when(v['promoted_at'])}  "
                       f"{m.get('labels', '?')} labels  {m.get('weak', '?')}->{m.get('strong', '?')}  {figures}  "
                       f"{cuts}")


def _rows(examples: Sequence[Any], metadata: dict[str, Any], weak: str, strong: str) -> tuple[list[Any], str]:
    """The rows to compare on: after the candidate's window when there are enough, else the held-out share."""
    from tiered.online.cycle import MIN_HELDOUT, held_out

    both = [e for e in examples if e.has(weak, strong)]
    window = metadata.get("window")
    if window:
        after = [e for e in both if e.created_at is not None and e.created_at > float(window[1])]
        if len(after) >= MIN_HELDOUT:
            return after, f"{len(after)} rows logged after its training window"
    rows = [e for e in both if held_out(e.trace_id)]
    return rows, f"{len(rows)} held-out rows (the share `tiered learn` never fits on)"


@router.command("promote")
@click.argument("candidate")
@click.option("--route", required=True, help="The route whose router to replace.")
@_CONFIG
@_REGISTRY
@_REDIS
@click.option("--db", default=None, help="The request log to verify on (a SQLite path or a postgresql:// DSN).")
@click.option("--cuts", default=None, help="Cuts to run it at, comma-separated (default: fitted to the target).")
@click.option("--force", is_flag=True, help="Promote even when it is not better on the same rows.")
@click.option("--json", "as_json", is_flag=True)
def promote(candidate: str, route: str, config_path: str | None, registry_dir: str | None, redis_url: str | None,
            db: str | None, cuts: str | None, force: bool, as_json: bool) -> None:
    """Promote CANDIDATE (a router file, or a version id of the registry) on ROUTE, if it is better."""
    from tiered.online.calibration import calibrate
    from tiered.online.cycle import compare, current_router
    from tiered.online.install import router_from_bytes

    try:
        ctx = loop_context(config_path, registry_dir, redis_url, db)
        tiers = ctx.route_tiers(route)
        weak, strong = tiers[0], tiers[-1]
        path = Path(candidate)
        version = None if path.exists() else ctx.registry.get(route, candidate)
        data = (path if version is None else version.file).read_bytes()
        new = router_from_bytes(data)
        metadata = dict(getattr(new, "metadata", {}) or {})
        current, current_id = current_router(ctx.registry, route, ctx.configured_scorer(route))
        with ctx.open_log() as log:
            examples = log.examples(route)
            prompts = log.prompts(route)
        rows, basis = _rows(examples, metadata, weak, strong)
        comparison = compare(new, current, rows, weak, strong)
        report: dict[str, Any] = {"route": route, "candidate": candidate, "current": current_id, "basis": basis,
                                  "comparison": comparison.to_json(), "promoted": False}
        if not comparison.better and not force:
            if as_json:
                click.echo(json.dumps(report, indent=2))
            c, cur = comparison.candidate.apgr, comparison.current.apgr
            raise click.ClickException(
                f"not promoted: {candidate} is not better than {current_id} on the same {basis} (APGR "
                f"{'n/a' if c is None else f'{c:.3f}'} vs {'n/a' if cur is None else f'{cur:.3f}'}); --force "
                "promotes it anyway")
        if cuts is not None:
            chosen: tuple[float, ...] | None = tuple(float(c) for c in cuts.split(","))
        else:
            target = ctx.learning.target if ctx.learning is not None else None
            from tiered.online.settings import DeclaredTarget

            cal = calibrate(new, tiers, target or DeclaredTarget(), prompts=prompts, labelled=examples,
                            catalog=ctx.config.catalog, served_shares=_served_shares(ctx, route))
            chosen = tuple(cal.fit.thresholds.cuts)
            report["calibration"] = cal.to_json()
        if version is None:
            version = ctx.registry.add(route, path, verification=comparison.to_json())
        promoted = ctx.registry.promote(route, version.id, cuts=chosen, verification=comparison.to_json())
    except (TieredError, ValueError, OSError) as e:
        raise click.ClickException(str(e)) from e
    report.update(promoted=True, version=promoted.id, cuts=list(promoted.cuts or ()))
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    new_apgr, old_apgr = comparison.candidate.apgr, comparison.current.apgr
    click.echo(f"promoted {promoted.id} on route {route} (was {current_id}); verified on {basis}: APGR "
               f"{'n/a' if new_apgr is None else f'{new_apgr:.3f}'} vs "
               f"{'n/a' if old_apgr is None else f'{old_apgr:.3f}'}" + (" (forced)" if not comparison.better else ""))
    click.echo(f"cuts {', '.join(f'{x:.4g}' for x in promoted.cuts or ())} for tiers {', '.join(tiers)}")


def _served_shares(ctx: LoopContext, route: str) -> dict[str, float]:
    """The share of the route's logged requests each tier served (what calibration keeps with no target)."""
    from collections import Counter

    with ctx.open_log() as log:
        records = log.records(route)
    tiers = Counter(r.tier for r in records if r.tier)
    total = sum(tiers.values())
    return {t: n / total for t, n in tiers.items()} if total else {}


@router.command("rollback")
@click.option("--route", required=True)
@_CONFIG
@_REGISTRY
@_REDIS
def rollback(route: str, config_path: str | None, registry_dir: str | None, redis_url: str | None) -> None:
    """Run the version promoted before the current one again (or the configured router)."""
    try:
        ctx = loop_context(config_path, registry_dir, redis_url, None)
        version = ctx.registry.rollback(route)
    except TieredError as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"route {route} now runs {version.id if version else 'its configured router'}")
