"""The three-tier evaluation: every policy, replayed over a dataset, as cost/quality points.

`plan` builds the settings (policy objects with their parameters) without running anything; `evaluate`
runs them through one `ReplayDriver` and returns an `Evaluation` (data only: rendering is the CLI's and
`report.py`'s). The policies are the library's own objects (`tiered.policies`); evaluation adds only the
oracle (which reads recorded quality) and wrappers that serve stored scores and confidences, so a sweep
of thresholds never re-scores a prompt.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tiered.catalog import Catalog
from tiered.datasets import Dataset, Item
from tiered.errors import TieredError
from tiered.evaluation import pareto
from tiered.evaluation.mix import VsMix, vs_mix
from tiered.evaluation.pareto import Point
from tiered.evaluation.policies import BUILDERS, Context, Setting
from tiered.evaluation.replay import ClaudePricing, DatasetPricing, Pricing, ReplayDriver, TierMap
from tiered.evaluation.sweep import Progress, run_items, summarize

CEILINGS = frozenset({"oracle"})
DEFAULT_POLICIES = ("always", "random", "oracle", "taskmap", "router", "router-heuristic", "taskmap+router",
                    "router-per-task", "cascade")


@dataclass(frozen=True, slots=True)
class Curve:
    name: str
    points: tuple[Point, ...]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "points": [p.to_json() for p in self.points]}


@dataclass(frozen=True, slots=True)
class Evaluation:
    dataset: str
    split: str | None
    n: int
    dropped: int
    tiers: TierMap
    pricing: str
    always: Mapping[str, Point]
    curves: tuple[Curve, ...]
    skipped: Mapping[str, str] = field(default_factory=dict)
    """Policies that could not be built here, and why."""

    @property
    def points(self) -> list[Point]:
        return [p for c in self.curves for p in c.points]

    @property
    def frontier(self) -> list[Point]:
        """The Pareto frontier of the real policies: the oracle (a ceiling that reads the answers) is left out."""
        return pareto.frontier(p for p in self.points if p.policy not in CEILINGS)

    def vs_mix(self) -> list[VsMix]:
        """Each policy (but the always-tiers and the oracle) against the random mix of its own tiers."""
        return [vs_mix(c.name, c.points, self.always, self.tiers.names) for c in self.curves
                if c.points and c.name not in CEILINGS and not c.name.startswith("always-")]

    @property
    def top(self) -> Point:
        return self.always[self.tiers.names[-1]]

    def to_json(self) -> dict[str, Any]:
        top = self.top
        target = 0.95 * top.quality
        best = pareto.cheapest_reaching(self.frontier, target)
        return {
            "dataset": self.dataset, "split": self.split, "n": self.n, "dropped": self.dropped,
            "tiers": dict(self.tiers.tiers), "pricing": self.pricing,
            "always": {t: {"quality": p.quality, "cost_usd": p.cost_usd, "cost_ratio": p.cost_ratio,
                           "latency_p50_ms": p.latency_p50_ms, "latency_p95_ms": p.latency_p95_ms}
                       for t, p in self.always.items()},
            "policies": [c.to_json() for c in self.curves],
            "frontier": [p.to_json() for p in self.frontier],
            "at_95_of_top": None if best is None else {**best.to_json(), "target_quality": target},
            "skipped": dict(self.skipped),
            "vs_mix": [v.to_json() for v in self.vs_mix()],
        }


def pricing_for(name: str, dataset: Dataset) -> Pricing:
    if name == "claude":
        return ClaudePricing(Catalog.load())
    if name == "dataset":
        return DatasetPricing(dataset)
    raise ValueError(f"unknown pricing {name!r} (claude or dataset)")


def plan(ctx: Context, policies: Sequence[str],
         progress: Progress | None = None) -> tuple[list[Setting], dict[str, str]]:
    """The settings to run for the named policies; names that cannot be built here are returned with why.

    `progress(1)` is called as each policy is prepared (scoring every item, fitting): the slow part
    before any replay."""
    settings: list[Setting] = []
    skipped: dict[str, str] = {}
    for name in policies:
        builder = BUILDERS.get(name)
        if builder is None:
            raise ValueError(f"unknown policy {name!r}; known: {', '.join(BUILDERS)}")
        try:
            settings.extend(builder(ctx))
        except (ImportError, LookupError, ValueError, TieredError, OSError) as e:
            skipped[name] = str(e)
        if progress is not None:
            progress(1)
    return settings, skipped


def evaluate(dataset: Dataset, tiers: TierMap, *, pricing: str = "claude", split: str | None = None,
             policies: Sequence[str] = DEFAULT_POLICIES, steps: int = 20,
             train: Sequence[Item] | None = None, progress_factory: Callable[[int], Progress] | None = None,
             scorers: Mapping[str, Any] | None = None) -> Evaluation:
    """Replay every named policy over `dataset` (its `split`) with `tiers` playing the tiers.

    `train` (default: the dataset's train split, else the evaluated items) is what fitted policies
    (the task map, the cascade's calibrator when fitted) learn from. `progress_factory(total)` returns
    a callback advanced once per item replayed; it is first called with the number of policies to
    prepare (`total` = that number, advanced as each is ready), then with the number of replays.
    """
    part = dataset.split(split)
    kept = part.with_models(tiers.models)
    if len(kept) == 0:
        raise ValueError(f"no item of {dataset.name} has outcomes for every model of {dict(tiers.tiers)}")
    catalog = Catalog.load()
    driver = ReplayDriver(kept, tiers, pricing_for(pricing, kept), catalog=catalog)
    if train is None:
        fit_items = dataset.split("train").with_models(tiers.models).items if split == "test" else ()
        train = fit_items or kept.items
    ctx = Context(driver=driver, items=kept.items, train=tuple(train), tiers=tiers, steps=steps,
                  scorers=dict(scorers or {}))
    always_settings, _ = plan(ctx, ["always"])
    rest = [p for p in policies if p != "always"]
    settings, skipped = plan(ctx, rest, progress_factory(len(rest)) if progress_factory and rest else None)
    total = (len(always_settings) + len(settings)) * len(kept.items)
    progress = progress_factory(total) if progress_factory is not None else None
    always_runs = {s.params["tier"]: run_items(driver, s.policy, kept.items, progress) for s in always_settings}
    top_cost = sum(r.cost_usd for r in always_runs[tiers.names[-1]])
    always = {t: summarize(f"always-{t}", runs, top_cost, tiers.names, {"tier": t}) for t, runs in always_runs.items()}
    curves: dict[str, list[Point]] = {}
    if "always" in policies:
        for p in always.values():
            curves.setdefault(p.policy, []).append(p)
    for s in settings:
        point = summarize(s.name, run_items(driver, s.policy, kept.items, progress), top_cost, tiers.names, s.params)
        curves.setdefault(s.name, []).append(point)
    return Evaluation(
        dataset=dataset.name, split=split, n=len(kept), dropped=len(part) - len(kept), tiers=tiers, pricing=pricing,
        always=always,
        curves=tuple(Curve(name, tuple(sorted(ps, key=lambda p: p.cost_ratio))) for name, ps in curves.items()),
        skipped=skipped,
    )
