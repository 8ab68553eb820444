"""One turn of the loop for a route: train on its labelled rows, verify against the current router, promote.

    train   `tiered.learning.learn` from the current router's prior, on the labelled rows outside the held-out
            share (a fixed hash of the trace id decides, so the same row is held out on every run), with
            every logged prompt of the route shaping its clusters;
    verify  `tiered.learning.verify` of the candidate and of the router the route runs now, on the same
            held-out rows (weak = the route's cheapest tier, strong = its top tier);
    promote only when the candidate's held-out APGR is higher (`force` overrides), at cuts that keep the
            route's declared target (`tiered.online.calibration`), through the registry (and so to every
            replica).

`tiered learn` runs it once; `tiered serve` with `[learning] interval` runs it on a schedule. `compare` is
also what `tiered router promote` uses to refuse a router that is not better than the current one.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tiered.catalog import Catalog
from tiered.learning.examples import Example
from tiered.learning.verify import Verification, verify
from tiered.online.calibration import calibrate
from tiered.online.install import router_from_bytes
from tiered.online.registry import RouterRegistry
from tiered.online.settings import DeclaredTarget
from tiered.scoring.base import Scorer

HELDOUT_SHARE = 0.25
MIN_HELDOUT = 10


def held_out(trace_id: str | None, share: float = HELDOUT_SHARE) -> bool:
    """Whether a labelled row is kept for verification: a fixed function of its trace id."""
    digest = hashlib.sha256((trace_id or "").encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < share


@dataclass(frozen=True, slots=True)
class Comparison:
    candidate: Verification
    current: Verification
    rows: int

    @property
    def better(self) -> bool:
        c, cur = self.candidate.apgr, self.current.apgr
        return c is not None and (cur is None or c > cur)

    def to_json(self) -> dict[str, Any]:
        return {"rows": self.rows, "candidate": self.candidate.to_json(), "current": self.current.to_json(),
                "better": self.better}


def compare(candidate: Scorer, current: Scorer, rows: Sequence[Example], weak: str, strong: str) -> Comparison:
    """Both routers verified on the same rows."""
    return Comparison(verify(candidate, rows, weak=weak, strong=strong),
                      verify(current, rows, weak=weak, strong=strong), len(rows))


def current_router(registry: RouterRegistry | None, route: str, configured: Scorer | None) -> tuple[Scorer, str]:
    """The router the route runs now (its promoted version, else the configured one, else the shipped one)."""
    if registry is not None:
        version = registry.current(route)
        if version is not None:
            return router_from_bytes(version.file.read_bytes()), version.id
    if configured is not None:
        return configured, "configured"
    from tiered.scoring.learned import LearnedScorer

    return LearnedScorer.default(), "shipped"


@dataclass(frozen=True, slots=True)
class Outcome:
    route: str
    promoted: bool
    reason: str
    version: str | None = None
    comparison: Comparison | None = None
    labels: int = 0
    calibration: Mapping[str, Any] | None = field(default=None)

    def to_json(self) -> dict[str, Any]:
        return {"route": self.route, "promoted": self.promoted, "reason": self.reason, "version": self.version,
                "labels": self.labels, "comparison": None if self.comparison is None else self.comparison.to_json(),
                "calibration": None if self.calibration is None else dict(self.calibration)}


def learn_cycle(store: Any, registry: RouterRegistry, route: str, tiers: Sequence[str], target: DeclaredTarget,
                catalog: Catalog, *, configured: Scorer | None = None, force: bool = False,
                served_shares: Mapping[str, float] | None = None) -> Outcome:
    """Train -> verify -> promote for `route` on the log in `store` (an open SQL sink); see the module docstring."""
    from tiered.learning.learn import learn

    weak, strong = tiers[0], tiers[-1]
    examples = store.examples(route)
    prompts = store.prompts(route)
    labelled = [e for e in examples if e.gain(weak, strong) is not None]
    heldout = [e for e in labelled if held_out(e.trace_id) and e.has(weak, strong)]
    fit_rows = [e for e in labelled if not held_out(e.trace_id)]
    if not fit_rows:
        return Outcome(route, False, f"no labelled rows to learn from ({weak} -> {strong})", labels=0)
    if len(heldout) < MIN_HELDOUT and not force:
        return Outcome(route, False, f"{len(heldout)} held-out rows know both {weak} and {strong}; "
                       f"{MIN_HELDOUT} are needed to verify (more shadow comparisons, or --force)",
                       labels=len(fit_rows))
    current, current_id = current_router(registry, route, configured)
    candidate = learn(current, fit_rows, prompts, weak, strong, route=route)  # type: ignore[arg-type]
    comparison = compare(candidate, current, heldout, weak, strong)
    candidate = candidate.with_metadata(heldout=comparison.candidate.to_json())
    if not comparison.better and not force:
        c, cur = comparison.candidate.apgr, comparison.current.apgr
        return Outcome(route, False, f"not better than {current_id} on {len(heldout)} held-out rows "
                       f"(APGR {_fmt(c)} vs {_fmt(cur)}); kept {current_id}", comparison=comparison,
                       labels=len(fit_rows))
    cal = calibrate(candidate, tiers, target, prompts=prompts, labelled=labelled, catalog=catalog,
                    served_shares=served_shares)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "router.json.gz"
        candidate.save(path)
        version = registry.add(route, path, verification=comparison.to_json())
    registry.promote(route, version.id, cuts=cal.fit.thresholds.cuts, verification=comparison.to_json())
    why = "forced" if not comparison.better else (
        f"APGR {_fmt(comparison.candidate.apgr)} > {_fmt(comparison.current.apgr)} of {current_id} "
        f"on {len(heldout)} held-out rows")
    return Outcome(route, True, f"promoted {version.id}: {why}", version.id, comparison, len(fit_rows),
                   cal.to_json())


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"
