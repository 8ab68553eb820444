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
from tiered.types import Response

GRID = 12
"""Thresholds per cascade stage: quantiles of the stored confidences."""


@dataclass(frozen=True, slots=True)
class StoredConfidence(ConfidenceEstimator):
    """Serves readings stored by response id; an unknown response is read as usual."""

    readings: Mapping[str, Reading] = field(default_factory=dict)

    def read(self, response: Response, *, asked_report: bool) -> Reading:
        stored = self.readings.get(response.id)
        if stored is not None:
            return stored
        return ConfidenceEstimator.read(self, response, asked_report=asked_report)

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


def _levels(values: list[float]) -> list[float]:
    """Thresholds at quantiles of the confidences, plus one above all (always escalate)."""
    if not values:
        return [0.0, 1.01]
    qs = np.quantile(np.asarray(values), np.linspace(0.0, 1.0, GRID + 1)[1:-1])
    return sorted({0.0, *(round(float(q), 6) for q in qs), 1.01})


def cascade_settings(ctx: Context, calibrator: LogisticCalibrator | None = None) -> list[Setting]:
    cascade = policy_class("Cascade")
    from tiered.policies.triggers import low_confidence

    cal = calibrator or load_calibrator(None)
    names = ctx.tiers.names
    lower = names[:-1]
    difficulty: np.ndarray | None
    try:
        difficulty = ctx.scores_of(None)
    except (TieredError, OSError):  # no shipped router in this build: the answer alone
        difficulty = None
    readings, by_tier = stored_readings(ctx, cal, lower, difficulty)
    estimator = StoredConfidence(readings=readings)
    settings: list[Setting] = []
    shapes: list[tuple[str, ...]] = [(t, names[-1]) for t in lower]
    if len(names) > 2:
        shapes.append(names)
    for shape in shapes:
        label = "cascade " + ">".join(shape)
        grids = [_levels(by_tier[t]) for t in shape[:-1]]
        for combo in _product(grids):
            triggers = {t: low_confidence(v) for t, v in zip(shape[:-1], combo, strict=True)}
            params: dict[str, Any] = {"tiers": list(shape), "thresholds": dict(zip(shape[:-1], combo, strict=True))}
            policy = cascade(shape, escalate_when=triggers, confidence=estimator, self_report=False)
            settings.append(Setting(label, params, policy))
    return settings


def _product(grids: list[list[float]]) -> list[tuple[float, ...]]:
    out: list[tuple[float, ...]] = [()]
    for g in grids:
        out = [(*prefix, v) for prefix in out for v in g]
    return out
