from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from tiered.errors import ConfigError
from tiered.evaluation.calibration import ece, reliability
from tiered.scoring.calibrator import NAMES, LogisticCalibrator, fit, load_calibrator, vector
from tiered.scoring.confidence import Calibrator, ConfidenceEstimator, Features
from tiered.types import Response, Usage


def _features(chars: int = 40, hedges: tuple[str, ...] = ()) -> Features:
    return Features(self_report=None, asked_report=False, report_valid=True, hedges=hedges, refused=False,
                    answer_chars=chars, truncated=False)


def _response(text: str) -> Response:
    return Response(id="r", model="m", content=({"type": "text", "text": text},), stop_reason="end_turn",
                    usage=Usage())


def test_fit_recovers_a_known_logistic_model() -> None:
    rng = np.random.default_rng(0)
    n = 20000
    x = np.zeros((n, len(NAMES)))
    hedges, difficulty = NAMES.index("hedges"), NAMES.index("difficulty")
    x[:, hedges] = rng.integers(0, 4, n)
    x[:, difficulty] = rng.normal(size=n)
    x[:, NAMES.index("has_difficulty")] = 1.0
    true_w = {"hedges": -0.8, "difficulty": -1.5}
    z = 1.0 + true_w["hedges"] * x[:, hedges] + true_w["difficulty"] * x[:, difficulty]
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(float)
    cal = fit(x.tolist(), y.tolist(), l2=1e-3)
    w = dict(zip(cal.names, cal.weights, strict=True))
    assert w["hedges"] == pytest.approx(-0.8, abs=0.08)
    assert w["difficulty"] == pytest.approx(-1.5, abs=0.1)
    assert cal.bias + w["has_difficulty"] == pytest.approx(1.0, abs=0.1)
    # fitted on its own data, the model is calibrated
    p = np.array([cal.from_vector(row) for row in x])
    assert ece(p, y) < 0.02


def test_json_round_trip_and_the_shipped_file(tmp_path: Path) -> None:
    cal = LogisticCalibrator(weights=tuple(0.1 * i for i in range(len(NAMES))), bias=-0.3, meta={"fitted_on": "t"})
    cal.save(tmp_path / "c.json")
    again = load_calibrator(tmp_path / "c.json")
    assert again == cal
    shipped = load_calibrator(None)
    assert isinstance(shipped, Calibrator)  # the policies' protocol
    assert 0.0 < shipped.probability(_features()) < 1.0
    with pytest.raises(ConfigError):
        LogisticCalibrator(weights=(1.0,), bias=0.0)
    with pytest.raises(ConfigError):
        load_calibrator(tmp_path / "missing.json")


def test_the_shipped_calibrator_reads_hedging_and_difficulty_as_doubt() -> None:
    estimator = ConfidenceEstimator(calibrator=load_calibrator(None))
    sure = estimator.read(_response("The answer is (B)."), asked_report=False).value
    unsure = estimator.read(_response("I think it might be B, but I'm not sure."), asked_report=False).value
    assert unsure < sure
    cal = load_calibrator(None)
    f = _features(chars=20)
    easy = cal.probability_of(f, "The answer is (B).", difficulty=-1.0)
    hard = cal.probability_of(f, "The answer is (B).", difficulty=2.0)
    assert hard < easy


def test_vector_marks_unknown_signals() -> None:
    f = _features(chars=0)
    unknown = dict(zip(NAMES, vector(f), strict=True))
    assert unknown["has_text"] == 0.0 and unknown["has_difficulty"] == 0.0
    known = dict(zip(NAMES, vector(f, "The answer is (C)", 0.5), strict=True))
    assert known["has_text"] == 1.0 and known["states_answer"] == 1.0
    assert known["difficulty"] == 0.5 and known["has_difficulty"] == 1.0
    assert known["log_chars"] == pytest.approx(math.log1p(0) / 8.0)


def test_ece_by_hand() -> None:
    # two bins used: 0.2 (4 samples, 1 good) and 0.9 (2 samples, both good)
    probs = [0.2, 0.2, 0.2, 0.2, 0.9, 0.9]
    labels = [1, 0, 0, 0, 1, 1]
    # |0.25 - 0.2| * 4/6 + |1.0 - 0.9| * 2/6
    assert ece(probs, labels) == pytest.approx(0.05 * 4 / 6 + 0.1 * 2 / 6)
    table = reliability(probs, labels)
    assert [b.count for b in table] == [0, 0, 4, 0, 0, 0, 0, 0, 0, 2]
    assert reliability([1.0], [1])[-1].count == 1  # 1.0 falls in the last bin


def test_shifted_to_moves_the_mean_prediction_to_a_known_accuracy() -> None:
    cal = load_calibrator(None)
    inputs = [vector(_features(chars=c), "The answer is (A).", d) for c in (5, 50, 500) for d in (-1.0, 0.0, 1.0)]
    shifted = cal.shifted_to(0.8, inputs)
    assert np.mean([shifted.from_vector(x) for x in inputs]) == pytest.approx(0.8, abs=1e-6)
    assert shifted.weights == cal.weights  # only the intercept moves: the ranking is unchanged
    with pytest.raises(ValueError, match="base rate"):
        cal.shifted_to(1.0, inputs)
