"""The cascade family for `tiered eval`: the library's `Cascade`, swept over its confidence thresholds.

Confidences are computed once: for every item and every tier but the top, the calibrator reads the
recorded answer (its text, and the prompt's difficulty score from the router) and the `Reading` is
stored by response id. `StoredConfidence` (a `ConfidenceEstimator`) serves them, so each threshold
setting replays the real `Cascade` without reading an answer twice.

Recorded answers carry no self-report (the benchmark did not ask for one), so the replayed cascade
runs with `self_report=False`: live, the same cascade would also have the model's own confidence.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tiered.errors import TieredError
from tiered.evaluation.policies import Context, Setting, policy_class
from tiered.scoring.calibrator import LogisticCalibrator, load_calibrator
from tiered.scoring.confidence import ConfidenceEstimator, Reading
from tiered.types import Request, Response

GRID = 12
"""Thresholds per cascade stage: quantiles of the stored confidences."""


@dataclass(frozen=True, slots=True)
class StoredConfidence(ConfidenceEstimator):
    """Serves readings stored by response id; an unknown response is read as usual."""

    readings: Mapping[str, Reading] = field(default_factory=dict)

    def read(self, response: Response, *, asked_report: bool, request: Request | None = None) -> Reading:
        stored = self.readings.get(response.id)
        if stored is not None:
            return stored
        return ConfidenceEstimator.read(self, response, asked_report=asked_report, request=request)

    def __repr__(self) -> str:
        return f"StoredConfidence({len(self.readings)} readings)"


def stored_readings(ctx: Context, calibrator: LogisticCalibrator, tiers: tuple[str, ...],
                    difficulty: np.ndarray | None) -> tuple[dict[str, Reading], dict[str, list[float]]]:
    """A calibrated reading of every recorded answer of `tiers` on the evaluated items, by response id;
    and the confidences of each tier's answers (for the threshold grid)."""
    plain = ConfidenceEstimator()
    out: dict[str, Reading] = {}
    by_tier: dict[str, list[float]] = {t: [] for t in tiers}
    for k, item in enumerate(ctx.items):
        d = None if difficulty is None else float(difficulty[k])
        for tier in tiers:
            answer = ctx.driver.answer(item, tier, ctx.tiers.tiers[tier])
            if answer is None:
                continue
            base = plain.read(answer.response, asked_report=False)
            p = calibrator.probability_of(base.features, answer.response.text, d)
            out[answer.response.id] = Reading(p, base.answer, base.reasoning, base.features)
            by_tier[tier].append(p)
    return out, by_tier


def _levels(values: list[float], grid: int = GRID) -> list[float]:
    """Thresholds at quantiles of the confidences, plus one above all (always escalate)."""
    if not values:
        return [0.0, 1.01]
    qs = np.quantile(np.asarray(values), np.linspace(0.0, 1.0, grid + 1)[1:-1])
    return sorted({0.0, *(round(float(q), 6) for q in qs), 1.01})


def stored_confidence(ctx: Context, calibrator: LogisticCalibrator | None = None
                      ) -> tuple[StoredConfidence, dict[str, list[float]]]:
    """Every lower tier's answers read once (with the router's difficulty when the build ships one)."""
    cal = calibrator or load_calibrator(None)
    difficulty: np.ndarray | None
    try:
        difficulty = ctx.scores_of(None)
    except (TieredError, OSError):  # no shipped router in this build: the answer alone
        difficulty = None
    readings, by_tier = stored_readings(ctx, cal, ctx.tiers.names[:-1], difficulty)
    return StoredConfidence(readings=readings), by_tier


def make_cascade(shape: tuple[str, ...], thresholds: Mapping[str, float], estimator: ConfidenceEstimator) -> Any:
    """The library's Cascade over `shape`, escalating from tier t when its confidence < thresholds[t]."""
    from tiered.policies.triggers import low_confidence

    triggers = {t: low_confidence(v) for t, v in thresholds.items()}
    return policy_class("Cascade")(shape, escalate_when=triggers, confidence=estimator, self_report=False)


def cascade_settings(ctx: Context, calibrator: LogisticCalibrator | None = None, *, grid: int = GRID,
                     shapes: list[tuple[str, ...]] | None = None) -> list[Setting]:
    """Every cascade shape (each lower tier straight to the top, and the full ladder) over a threshold grid."""
    estimator, by_tier = stored_confidence(ctx, calibrator)
    names = ctx.tiers.names
    settings: list[Setting] = []
    if shapes is None:
        shapes = [(t, names[-1]) for t in names[:-1]]
        if len(names) > 2:
            shapes.append(names)
    for shape in shapes:
        label = "cascade " + ">".join(shape)
        for combo in _product([_levels(by_tier[t], grid) for t in shape[:-1]]):
            thresholds = dict(zip(shape[:-1], combo, strict=True))
            params: dict[str, Any] = {"tiers": list(shape), "thresholds": thresholds}
            settings.append(Setting(label, params, make_cascade(shape, thresholds, estimator)))
    return settings


def _product(grids: list[list[float]]) -> list[tuple[float, ...]]:
    out: list[tuple[float, ...]] = [()]
    for g in grids:
        out = [(*prefix, v) for prefix in out for v in g]
    return out
