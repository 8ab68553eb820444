from __future__ import annotations

import numpy as np
import pytest

from tiered.evaluation.metrics import apgr, cpt, cumulative_gain, oracle_scores, pgr_curve, routing_curve, summary


def _pair(seed: int, n: int = 400) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    q_weak = (rng.random(n) < 0.45).astype(float)
    q_strong = np.maximum(q_weak, (rng.random(n) < 0.7).astype(float))
    q_strong[rng.random(n) < 0.05] = 0.0  # a few prompts only the weak model gets right
    return q_weak, q_strong


def test_hand_computed_tiny_example() -> None:
    # 4 prompts; weak passes only #0, strong passes #0 and #2 and #3. Gains: 0, 0, 1, 1 (total 2).
    q_weak = [1, 0, 0, 0]
    q_strong = [1, 0, 1, 1]
    scores = [0.1, 0.2, 0.9, 0.5]  # order by score: #2 (gain 1), #3 (gain 1), #1 (0), #0 (0)
    share, pgr = pgr_curve(scores, q_weak, q_strong)
    assert share.tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert pgr.tolist() == [0.0, 0.5, 1.0, 1.0, 1.0]
    # trapezoid: 0.25 * ((0+.5)/2 + (.5+1)/2 + 1 + 1) = 0.25 * 3 = 0.75
    assert apgr(scores, q_weak, q_strong) == pytest.approx(0.75)
    assert cpt(scores, q_weak, q_strong, 0.5) == 0.25
    assert cpt(scores, q_weak, q_strong, 0.8) == 0.5
    curve = routing_curve(scores, q_weak, q_strong, cost_weak=1, cost_strong=5)
    share0, quality0, cost0 = curve[0]
    assert (share0, quality0, cost0) == (0.0, 0.25, pytest.approx(4 / 20))
    assert curve[2].quality == pytest.approx(0.75)
    assert curve[2].cost_ratio == pytest.approx((2 * 1 + 2 * 5) / 20)
    assert curve[-1].cost_ratio == pytest.approx(1.0)
    assert curve[-1].quality == pytest.approx(0.75)


def test_ties_are_averaged_so_a_constant_scorer_is_the_diagonal() -> None:
    q_weak, q_strong = _pair(0)
    const = np.zeros(q_weak.size)
    share, pgr = pgr_curve(const, q_weak, q_strong)
    assert np.allclose(pgr, share)
    assert apgr(const, q_weak, q_strong) == pytest.approx(0.5)
    # a tie group of two with gains 1 and 0: the first cut inside it gets half the gain
    assert cumulative_gain([1, 1], [0, 0], [1, 0]).tolist() == [0.0, 0.5, 1.0]


def test_input_order_does_not_matter() -> None:
    q_weak, q_strong = _pair(1)
    scores = np.round(np.random.default_rng(1).random(q_weak.size), 1)  # many ties
    perm = np.random.default_rng(2).permutation(q_weak.size)
    assert apgr(scores, q_weak, q_strong) == pytest.approx(apgr(scores[perm], q_weak[perm], q_strong[perm]))


def test_random_router_averages_one_half() -> None:
    values = []
    for seed in range(40):
        q_weak, q_strong = _pair(seed)
        values.append(apgr(np.random.default_rng(1000 + seed).random(q_weak.size), q_weak, q_strong))
    assert np.mean(values) == pytest.approx(0.5, abs=0.02)


def test_oracle_reaches_full_gain_at_the_share_weak_fails_strong_passes() -> None:
    q_weak, q_strong = _pair(3)
    q_strong = np.maximum(q_weak, q_strong)  # no prompt that only the weak model gets right
    oracle = oracle_scores(q_weak, q_strong)
    frac = float(np.mean((q_weak == 0) & (q_strong == 1)))
    _, pgr = pgr_curve(oracle, q_weak, q_strong)
    k = round(frac * q_weak.size)
    assert pgr[k] == pytest.approx(1.0)
    assert np.all(pgr[:k] < 1.0)
    assert cpt(oracle, q_weak, q_strong, 1.0) == pytest.approx(frac)


def test_oracle_peaks_above_one_when_weak_wins_some_prompts() -> None:
    q_weak, q_strong = _pair(4)
    wins, losses = np.sum(q_strong > q_weak), np.sum(q_weak > q_strong)
    assert losses > 0
    _, pgr = pgr_curve(oracle_scores(q_weak, q_strong), q_weak, q_strong)
    # the oracle sends every strong win first and every weak win last, so PGR peaks at wins / (wins - losses)
    assert pgr.max() == pytest.approx(wins / (wins - losses))
    assert int(np.argmax(pgr)) == wins


def test_perfect_and_inverted_routers() -> None:
    # No prompt where weak beats strong: perfect = oracle, inverted = oracle reversed.
    q_weak = np.array([0, 0, 0, 1, 1, 0, 1, 0, 0, 1], dtype=float)
    q_strong = np.array([1, 1, 0, 1, 1, 1, 1, 0, 1, 1], dtype=float)
    perfect = oracle_scores(q_weak, q_strong)
    n, m = q_weak.size, int(perfect.sum())  # m = 4 gain prompts out of 10
    # perfect: PGR rises 1/m per step to 1 at share m/n, then stays: area = 1 - m/(2n)
    assert apgr(perfect, q_weak, q_strong) == pytest.approx(1 - m / (2 * n))
    assert cpt(perfect, q_weak, q_strong, 0.5) == pytest.approx(0.2)
    # inverted: PGR stays 0 until the last m prompts: area = m/(2n)
    assert apgr(-perfect, q_weak, q_strong) == pytest.approx(m / (2 * n))
    assert cpt(-perfect, q_weak, q_strong, 0.5) == pytest.approx(0.8)
    assert summary(perfect, q_weak, q_strong) == {
        "apgr": pytest.approx(0.8), "cpt50": pytest.approx(0.2), "cpt80": pytest.approx(0.4)}


def test_pgr_undefined_when_strong_is_not_better() -> None:
    with pytest.raises(ValueError, match="not better"):
        apgr([0.1, 0.2], [1, 1], [1, 0])
    with pytest.raises(ValueError, match="one length"):
        apgr([0.1], [1, 0], [1, 1])
