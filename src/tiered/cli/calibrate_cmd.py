"""`tiered calibrate`: fit a router's thresholds to a cost, quality or share target, and write them.

From a dataset (`--tiers`), every setting is judged on recorded quality and cost, and the chosen one
is checked by replaying the real `ComplexityRouter`. From the request log (`--log`), only the stored
complexity scores are known, so only `--max-share` targets apply.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import click
import numpy as np

from tiered.errors import TieredError


def _log_scores(path: str, route: str | None) -> np.ndarray:
    """The `complexity` scores that routers stored in the request log's decisions."""
    if not Path(path).exists():
        raise click.ClickException(f"no request log at {path}")
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        sql = "SELECT decision_scores FROM requests" + (" WHERE route = ?" if route else "")
        rows = con.execute(sql, (route,) if route else ()).fetchall()
    finally:
        con.close()
    scores = []
    for (raw,) in rows:
        value = (json.loads(raw or "{}") or {}).get("complexity")
        if isinstance(value, int | float):
            scores.append(float(value))
    if not scores:
        where = f" for route {route!r}" if route else ""
        raise click.ClickException(f"the log {path} has no complexity scores{where}")
    return np.array(scores)


def _dataset_table(spec: str, tiers_spec: str, router: str | None, pricing: str, split: str | None) -> Any:
    from tiered.catalog import Catalog
    from tiered.datasets import load_dataset
    from tiered.evaluation.calibrate import StoredScores
    from tiered.evaluation.replay import ReplayDriver, TierMap
    from tiered.evaluation.scorers import resolve_scorer
    from tiered.evaluation.suite import pricing_for
    from tiered.evaluation.sweep import score_all

    tiers = TierMap.parse(tiers_spec)
    dataset = load_dataset(spec).split(split).with_models(tiers.models)
    if len(dataset) == 0:
        raise click.ClickException(f"no item has outcomes for every model of {dict(tiers.tiers)}")
    driver = ReplayDriver(dataset, tiers, pricing_for(pricing, dataset), catalog=Catalog.load())
    scores = score_all(resolve_scorer(router), driver, dataset.items)
    quality = np.array([[i.outcomes[m].quality for m in tiers.models] for i in dataset])
    cost = np.array([[float(a.cost) if (a := driver.answer(i, t, m)) else 0.0 for t, m in tiers.tiers.items()]
                     for i in dataset])
    return tiers, driver, dataset, scores, StoredScores(scores, quality, cost)


@click.command("calibrate")
@click.argument("dataset", required=False)
@click.option("--tiers", "tiers_spec", help="TIER=MODEL,... (cheapest first) to read DATASET as a tiered workload.")
@click.option("--log", "log_path", help="Calibrate on the request log's stored scores instead: a SQLite file, "
              "or 'default' for tiered's own log ($TIERED_DB or the per-user data directory).")
@click.option("--from-log", "from_log", default=None, metavar="DB_OR_URL",
              help="Re-fit the route's cuts for the router it runs on its logged traffic, keeping its declared "
                   "target ([learning] target of --config); 'default' reads the config's [telemetry] log.")
@click.option("--route", help="With --config: the router to fit and write, a route or a [policies.X] router "
              "(default: the router the default route uses). Log rows are filtered by it when it is a route.")
@click.option("--log-tiers", default="haiku,sonnet,opus", show_default=True,
              help="With --log: the tiers, cheapest first.")
@click.option("--router", default=None, help="Scorer for DATASET (default: the shipped router; with --config, the "
              "scorer of the router written to, and no other).")
@click.option("--max-cost-ratio", type=float, help="Cost at most this share of always-the-top-tier.")
@click.option("--min-quality", type=float, help="Quality at least this fraction of always-the-top-tier's.")
@click.option("--max-share", "max_share", multiple=True, help="TIER=F: the tier serves at most F of requests.")
@click.option("--pricing", type=click.Choice(["claude", "dataset"]), default="claude", show_default=True)
@click.option("--split", type=click.Choice(["train", "test", "all"]), default=None)
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="Write the cuts into this TOML config.")
@click.option("--json", "as_json", is_flag=True)
def calibrate(dataset: str | None, tiers_spec: str | None, log_path: str | None, from_log: str | None,
              route: str | None, log_tiers: str, router: str | None, max_cost_ratio: float | None,
              min_quality: float | None, max_share: tuple[str, ...], pricing: str, split: str | None,
              config_path: str | None, as_json: bool) -> None:
    """Fit router thresholds to a target on DATASET (with --tiers) or on the request log (--log)."""
    from tiered.evaluation.calibrate import StoredScores, Target, fit_thresholds

    if sum(x is not None for x in (dataset, log_path, from_log)) != 1:
        raise click.UsageError("give a DATASET (with --tiers), --log PATH or --from-log LOG")
    shares: dict[str, float] = {}
    for part in max_share:
        tier, sep, value = part.partition("=")
        try:
            shares[tier.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise click.BadParameter(f"expected TIER=FRACTION, got {part!r}", param_hint="--max-share")
    if from_log is not None:
        from tiered.cli.calibrate_log import calibrate_from_log

        try:
            calibrate_from_log(from_log, route, config_path, max_cost_ratio, min_quality, shares, as_json)
        except (TieredError, ValueError) as e:
            raise click.ClickException(str(e)) from e
        return
    try:
        target = Target(max_cost_ratio=max_cost_ratio, min_quality=min_quality, max_share=shares)
        verified: dict[str, Any] | None = None
        router_table = None
        if config_path:
            router_table, router, route = _config_router(config_path, route, router, from_log=log_path is not None)
        if log_path is not None:
            if log_path == "default":
                from tiered.telemetry.sqlite import default_db_path

                log_path = str(default_db_path())
            names = tuple(t.strip() for t in log_tiers.split(",") if t.strip())
            fit = fit_thresholds(StoredScores(_log_scores(log_path, route)), names, target)
        else:
            if not tiers_spec:
                raise click.UsageError("a DATASET needs --tiers TIER=MODEL,...")
            assert dataset is not None
            tiers, driver, data, scores, table = _dataset_table(dataset, tiers_spec, router, pricing, split)
            fit = fit_thresholds(table, tiers.names, target)
            verified = _verify(driver, data, scores, fit.thresholds)
        if config_path:
            from tiered.config_edit import update_config_file

            assert router_table is not None
            update_config_file(config_path, router_table, fit.thresholds.tiers, fit.thresholds.cuts)
    except (TieredError, ValueError) as e:
        raise click.ClickException(str(e)) from e
    out = {"tiers": list(fit.thresholds.tiers), "cuts": list(fit.thresholds.cuts), "met": fit.met,
           "share": dict(fit.share), "quality": fit.quality, "cost_ratio": fit.cost_ratio,
           "top_quality": fit.top_quality, "replay": verified, "config": config_path, "table": router_table}
    if as_json:
        click.echo(json.dumps(out))
    else:
        click.echo(f"thresholds = {{ tiers = {json.dumps(out['tiers'])}, cuts = {json.dumps(out['cuts'])} }}")
        mix = ", ".join(f"{t} {v:.1%}" for t, v in fit.share.items())
        click.echo(f"# share: {mix}" + (f"; quality {fit.quality:.3f} (top {fit.top_quality:.3f}), cost ratio "
                                         f"{fit.cost_ratio:.3f}" if fit.quality is not None else ""))
        if verified:
            click.echo(f"# replayed through ComplexityRouter: quality {verified['quality']:.3f}, cost ratio "
                       f"{verified['cost_ratio']:.3f}")
        if config_path:
            click.echo(f"# written to {config_path} ({router_table}.thresholds; fitted on its scorer, "
                       f"{router or 'the shipped learned router'})")
    if not fit.met:
        raise click.ClickException("the target cannot be met on this data; the closest setting is shown above")


def _config_router(path: str, route: str | None, router: str | None, *, from_log: bool
                   ) -> tuple[str, str | None, str | None]:
    """(the router's table, the scorer to fit on, the route to filter log rows by) for `--config`.

    Cuts only mean something on the scale of the scorer that will compare against them, so the fit
    uses the config router's own scorer, and a different `--router` is refused.
    """
    from tiered.config import load_config
    from tiered.config_routers import find_router

    config = load_config(path)
    found = find_router(config, route)
    spec = found.spec
    log_route = route if route in config.routes else None
    if from_log:
        return found.table, router, log_route
    if spec.scorer == "llm":
        raise click.ClickException(f"{found.table} scores with the llm scorer, which cannot score a dataset "
                                   "offline; calibrate it on the request log (--log) instead")
    own = "heuristic" if spec.scorer == "heuristic" else spec.scorer_path
    if router is not None and router not in ("default" if own is None else own,) and not (
            own is not None and Path(router).exists() and Path(own).exists()
            and Path(router).resolve() == Path(own).resolve()):
        theirs = f"the {spec.scorer} scorer" + (f" ({own})" if spec.scorer == "learned" and own else "")
        raise click.ClickException(f"--router {router}: {found.table} scores with {theirs}; cuts fitted on "
                                   "another scorer's scale would send requests to the wrong tiers. Drop --router "
                                   "(the router's own scorer is used) or change the config's scorer first")
    return found.table, own, log_route


def _verify(driver: Any, data: Any, scores: np.ndarray, thresholds: Any) -> dict[str, Any]:
    """Replay the real router at the fitted thresholds: the fit's figures, checked end to end."""
    from tiered.evaluation.policies import policy_class
    from tiered.evaluation.sweep import precomputed, run_items, summarize

    router = policy_class("ComplexityRouter")(precomputed(driver, data.items, scores), thresholds)
    top = run_items(driver, policy_class("Direct")(driver.tiers.names[-1]), data.items)
    top_cost = sum(r.cost_usd for r in top)
    point = summarize("router", run_items(driver, router, data.items), top_cost, driver.tiers.names)
    return {"quality": point.quality, "cost_ratio": point.cost_ratio, "tier_mix": dict(point.tier_mix)}
