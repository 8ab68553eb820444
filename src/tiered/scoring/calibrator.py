"""The cascade's confidence calibrator: P(the cheap tier's answer is good enough), from the answer itself.

A logistic regression over a few signals of the answer (hedging phrases, refusal, length, truncation,
a self-reported confidence when the model gave one, whether it states a final answer, how repetitive
it is) and, when known, the prompt's difficulty score (the router's score). It implements the
`Calibrator` protocol of `tiered.scoring.confidence` (`probability(features)`), and reads more when
given the answer text and the difficulty (`probability_of`). Inference is a dot product (no numpy);
fitting is Newton's method with an L2 penalty in numpy. The model is a small JSON file:

    {"kind": "logistic", "names": [...], "weights": [...], "bias": b, "meta": {...}}

A signal that is unknown (no text, no difficulty) has an indicator column, so the same model serves
callers that have less to give. The shipped file (`scripts/build_calibrator.py`) is fitted on mmlu_pro's
recorded chain-of-thought answers, which carry no self-report: its self-report weights are zero, so it
ignores a model's own confidence until refitted on answers that have one (a request log with quality
labels). Its difficulty column is on the shipped router's scale: refit it when the router changes.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from tiered.errors import ConfigError
from tiered.scoring.confidence import Features

NAMES: tuple[str, ...] = (
    "self_report", "has_self_report", "hedges", "refused", "log_chars", "truncated",
    "has_text", "states_answer", "distinct_words", "difficulty", "has_difficulty",
)
_ANSWER_RE = re.compile(r"(answer is|answer:|final answer)\s*\(?[A-Za-z0-9]", re.IGNORECASE)
_WORD_RE = re.compile(r"[a-z0-9]+")
DEFAULT_NAME = "calibrator.json"


def vector(features: Features, text: str | None = None, difficulty: float | None = None) -> list[float]:
    """The model's input, in the order of NAMES."""
    states = distinct = 0.0
    if text is not None:
        stripped = text.strip()
        states = float(bool(_ANSWER_RE.search(stripped[-300:])) or 0 < len(stripped) <= 3)
        words = _WORD_RE.findall(stripped.lower())
        distinct = len(set(words)) / len(words) if len(words) >= 20 else 1.0
    return [
        features.self_report if features.self_report is not None else 0.0,
        float(features.self_report is not None),
        float(min(len(features.hedges), 3)),
        float(features.refused),
        math.log1p(features.answer_chars) / 8.0,
        float(features.truncated),
        float(text is not None),
        states,
        distinct,
        float(difficulty) if difficulty is not None else 0.0,
        float(difficulty is not None),
    ]


@dataclass(frozen=True, slots=True)
class LogisticCalibrator:
    weights: tuple[float, ...]
    bias: float
    names: tuple[str, ...] = NAMES
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.weights) != len(self.names):
            raise ConfigError(f"calibrator: {len(self.names)} names but {len(self.weights)} weights")
        if tuple(self.names) != NAMES:
            raise ConfigError(f"calibrator: features {list(self.names)} are not this version's {list(NAMES)}")

    def probability(self, features: Features) -> float:
        """P(good | features): the `Calibrator` protocol, with the text and difficulty unknown."""
        return self.probability_of(features)

    def probability_of(self, features: Features, text: str | None = None, difficulty: float | None = None) -> float:
        return self.from_vector(vector(features, text, difficulty))

    def from_vector(self, x: Sequence[float]) -> float:
        z = self.bias + sum(w * v for w, v in zip(self.weights, x, strict=True))
        return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))

    def shifted_to(self, base_rate: float, inputs: Sequence[Sequence[float]]) -> LogisticCalibrator:
        """This model with its bias moved so that its mean prediction over `inputs` is `base_rate`.

        A prior-shift correction: fitted on one model's answers, the calibrator ranks another model's
        answers well but carries the first one's accuracy. One number about the new model (its accuracy,
        from a small labelled sample or the quality labels in the request log) moves the intercept.
        """
        if not 0.0 < base_rate < 1.0 or not inputs:
            raise ValueError("shifted_to: need a base rate in (0, 1) and some inputs")
        zs = [self.bias + sum(w * v for w, v in zip(self.weights, x, strict=True)) for x in inputs]

        def mean_p(shift: float) -> float:
            return sum(1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z + shift)))) for z in zs) / len(zs)

        lo, hi = -20.0, 20.0
        for _ in range(60):
            mid = (lo + hi) / 2.0
            lo, hi = (mid, hi) if mean_p(mid) < base_rate else (lo, mid)
        meta = {**self.meta, "shifted_to_base_rate": base_rate}
        return LogisticCalibrator(self.weights, self.bias + (lo + hi) / 2.0, self.names, meta)

    def to_json(self) -> dict[str, Any]:
        return {"kind": "logistic", "names": list(self.names), "weights": list(self.weights),
                "bias": self.bias, "meta": dict(self.meta)}

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), indent=1) + "\n", "utf-8")

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LogisticCalibrator:
        if data.get("kind") != "logistic":
            raise ConfigError(f"calibrator: unknown kind {data.get('kind')!r}")
        try:
            return cls(weights=tuple(float(w) for w in data["weights"]), bias=float(data["bias"]),
                       names=tuple(data["names"]), meta=dict(data.get("meta") or {}))
        except (KeyError, TypeError, ValueError) as e:
            raise ConfigError(f"calibrator: malformed file ({e})") from e

    def __repr__(self) -> str:
        return f"LogisticCalibrator({self.meta.get('fitted_on', 'custom')!r})"


def load_calibrator(path: str | Path | None = None) -> LogisticCalibrator:
    """A calibrator file, or the one shipped in the package (None)."""
    if path is None:
        text = resources.files("tiered.data").joinpath(DEFAULT_NAME).read_text("utf-8")
    else:
        try:
            text = Path(path).read_text("utf-8")
        except OSError as e:
            raise ConfigError(f"cannot read calibrator {path}: {e}") from e
    return LogisticCalibrator.from_json(json.loads(text))


def fit(x: Sequence[Sequence[float]], y: Sequence[float], *, l2: float = 1.0, iters: int = 50,
        meta: Mapping[str, Any] | None = None) -> LogisticCalibrator:
    """Fit by Newton's method on the L2-penalised log-loss (the bias is not penalised)."""
    import numpy as np

    xa = np.asarray(x, dtype=np.float64)
    ya = np.asarray(y, dtype=np.float64)
    if xa.ndim != 2 or xa.shape[1] != len(NAMES) or xa.shape[0] != ya.shape[0] or xa.shape[0] == 0:
        raise ValueError(f"fit: need an (n, {len(NAMES)}) matrix and n labels, got {xa.shape} and {ya.shape}")
    design = np.hstack([xa, np.ones((xa.shape[0], 1))])
    penalty = np.full(design.shape[1], l2)
    penalty[-1] = 0.0
    w = np.zeros(design.shape[1])
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-np.clip(design @ w, -30, 30)))
        grad = design.T @ (p - ya) + penalty * w
        hess = (design * (p * (1 - p))[:, None]).T @ design + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hess, grad)
        w -= step
        if float(np.max(np.abs(step))) < 1e-8:
            break
    return LogisticCalibrator(weights=tuple(float(v) for v in w[:-1]), bias=float(w[-1]), meta=dict(meta or {}))
