"""Judging a confidence calibrator on recorded answers: rows, expected calibration error, reliability bins.

A row is one (prompt, model) pair with a recorded response: the calibrator's input vector, and the
label "the answer was good" (quality >= 0.5). `split_rows` holds models or tasks out, so the figure
reported is on answers the calibrator was not fitted on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from tiered.datasets import Dataset
from tiered.evaluation.replay import response_text
from tiered.scoring.base import Scorer
from tiered.scoring.calibrator import NAMES, LogisticCalibrator, vector
from tiered.scoring.confidence import ConfidenceEstimator
from tiered.types import Request, Response, Usage


@dataclass(frozen=True, slots=True)
class Row:
    item_id: str
    task: str
    model: str
    x: tuple[float, ...]
    label: float


@dataclass(frozen=True, slots=True)
class Bin:
    lo: float
    hi: float
    count: int
    mean_confidence: float
    accuracy: float


def rows(dataset: Dataset, models: Sequence[str] | None = None, scorer: Scorer | None = None,
         difficulty: Callable[[str], float] | None = None) -> list[Row]:
    """A row for every recorded response of `models` (default: every model that has responses).

    The difficulty column comes from `scorer` (scored once per prompt) or a `difficulty(item_id)` lookup.
    """
    estimator = ConfidenceEstimator()
    out: list[Row] = []
    for item in dataset:
        d: float | None = None
        if difficulty is not None:
            d = difficulty(item.id)
        elif scorer is not None:
            d = float(scorer.score(Request.user(item.prompt, task=item.task or None)))
        for model, o in item.outcomes.items():
            if (models is not None and model not in models) or o.response is None:
                continue
            text = response_text(o.response)
            features = estimator.read(_response(text), asked_report=False).features
            out.append(Row(item.id, item.task, model, tuple(vector(features, text, d)), float(o.quality >= 0.5)))
    return out


def _response(text: str) -> Response:
    return Response(id="", model="", content=({"type": "text", "text": text},), stop_reason="end_turn",
                    usage=Usage())


_TEXT = (NAMES.index("has_text"), NAMES.index("states_answer"), NAMES.index("distinct_words"))
_DIFFICULTY = (NAMES.index("difficulty"), NAMES.index("has_difficulty"))


def with_masked_copies(data: Sequence[Row]) -> list[Row]:
    """`data`, plus copies with the text signals hidden and (when present) the difficulty hidden.

    A caller of `probability(features)` has neither; fitted on such copies too, the indicator columns
    learn the offset, so the model stays calibrated for callers that know less.
    """
    out = list(data)
    for r in data:
        out.append(Row(r.item_id, r.task, r.model, _zero(r.x, _TEXT), r.label))
        if r.x[_DIFFICULTY[1]]:
            out.append(Row(r.item_id, r.task, r.model, _zero(r.x, _DIFFICULTY), r.label))
            out.append(Row(r.item_id, r.task, r.model, _zero(r.x, _TEXT + _DIFFICULTY), r.label))
    return out


def _zero(x: tuple[float, ...], idx: tuple[int, ...]) -> tuple[float, ...]:
    return tuple(0.0 if k in idx else v for k, v in enumerate(x))


def split_rows(all_rows: Iterable[Row], held_out: Callable[[Row], bool]) -> tuple[list[Row], list[Row]]:
    fit_on: list[Row] = []
    test_on: list[Row] = []
    for r in all_rows:
        (test_on if held_out(r) else fit_on).append(r)
    return fit_on, test_on


def predict(calibrator: LogisticCalibrator, data: Sequence[Row]) -> np.ndarray:
    return np.array([calibrator.from_vector(r.x) for r in data], dtype=np.float64)


def reliability(probs: Sequence[float] | np.ndarray, labels: Sequence[float] | np.ndarray,
                bins: int = 10) -> list[Bin]:
    """Equal-width bins over [0, 1]; the last bin includes 1.0. Empty bins are kept with count 0."""
    p = np.asarray(probs, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    if p.shape != y.shape:
        raise ValueError("probs and labels must have one length")
    idx = np.minimum((p * bins).astype(int), bins - 1)
    out = []
    for b in range(bins):
        mask = idx == b
        n = int(mask.sum())
        out.append(Bin(b / bins, (b + 1) / bins, n,
                       float(p[mask].mean()) if n else 0.0, float(y[mask].mean()) if n else 0.0))
    return out


def ece(probs: Sequence[float] | np.ndarray, labels: Sequence[float] | np.ndarray, bins: int = 10) -> float:
    """Expected calibration error: sum over bins of (share of samples) x |accuracy - mean confidence|."""
    table = reliability(probs, labels, bins)
    n = sum(b.count for b in table)
    if n == 0:
        raise ValueError("no samples")
    return float(sum(b.count / n * abs(b.accuracy - b.mean_confidence) for b in table))


def router_digest() -> str:
    """The first 16 hex digits of the shipped router file's SHA-256 (the calibrator's difficulty scale)."""
    import hashlib
    from importlib import resources

    data = resources.files("tiered.data").joinpath("router/default.json.gz").read_bytes()
    return hashlib.sha256(data).hexdigest()[:16]


def brier(probs: Sequence[float] | np.ndarray, labels: Sequence[float] | np.ndarray) -> float:
    p = np.asarray(probs, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    return float(np.mean((p - y) ** 2))
