"""Routing metrics for one weak/strong pair, as RouteLLM defines them (pure numpy, no I/O).

A router gives every prompt a score (higher = harder). Sending the top-k scores to the strong model
and the rest to the weak one gives one point of the routing curve; k runs over every cut 0..n.

- PGR(k) = (q(k) - q_weak) / (q_strong - q_weak), where q(k) is the mean quality of the mixed routing
  and q_weak / q_strong the mean quality of always-weak / always-strong.
- APGR = area under PGR over share = k/n in [0, 1] (trapezoid over all n+1 cuts); random routing ≈ 0.5.
- CPT(t) = the smallest share k/n at which PGR >= t (1.0 if it never does before everything is strong).
- The oracle sends to strong exactly the prompts where strong gains over weak (weak fails, strong passes).

Ties in scores: a cut that falls inside a group of equal scores takes the *expected* quality over a random
choice of which tied prompts go to strong, i.e. the group's gain is spread evenly across it. So the metrics
depend only on the ordering the scores induce, never on input order, and a constant scorer is exactly
the random-routing diagonal.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]


class CurvePoint(NamedTuple):
    """One cut of the routing curve; a tuple, so it unpacks as (share_strong, quality, cost_ratio)."""

    share_strong: float
    quality: float
    cost_ratio: float
    """Cost of this routing as a share of always-strong."""


def _arrays(scores: ArrayLike, q_weak: ArrayLike, q_strong: ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray]:
    s = np.asarray(scores, dtype=np.float64).ravel()
    w = np.asarray(q_weak, dtype=np.float64).ravel()
    g = np.asarray(q_strong, dtype=np.float64).ravel()
    if not (s.shape == w.shape == g.shape):
        raise ValueError(f"scores, q_weak and q_strong must have one length, got {s.shape}, {w.shape}, {g.shape}")
    if s.size == 0:
        raise ValueError("no prompts to evaluate")
    if not np.all(np.isfinite(s)):
        raise ValueError("scores must be finite")
    return s, w, g


def cumulative_gain(scores: ArrayLike, q_weak: ArrayLike, q_strong: ArrayLike) -> FloatArray:
    """Total quality gained over always-weak when the top-k scores go to strong, for k = 0..n (ties averaged)."""
    s, w, g = _arrays(scores, q_weak, q_strong)
    order = np.argsort(-s, kind="stable")
    s_sorted = s[order]
    gain = (g - w)[order]
    # Replace each tie group's gains by the group mean: the expectation over random tie-breaking.
    starts = np.flatnonzero(np.r_[True, s_sorted[1:] != s_sorted[:-1]])
    sizes = np.diff(np.r_[starts, s.size])
    group_means = np.add.reduceat(gain, starts) / sizes
    spread = np.repeat(group_means, sizes)
    out: FloatArray = np.concatenate(([0.0], np.cumsum(spread)))
    return out


def pgr_curve(scores: ArrayLike, q_weak: ArrayLike, q_strong: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """(share, PGR) at every cut k = 0..n. Raises ValueError if strong is not better than weak on average."""
    s, w, g = _arrays(scores, q_weak, q_strong)
    total = float(np.sum(g - w))
    if total <= 0:
        raise ValueError("PGR is undefined: the strong model is not better than the weak one on these prompts")
    cum = cumulative_gain(s, w, g)
    share = np.arange(s.size + 1, dtype=np.float64) / s.size
    return share, cum / total


def routing_curve(
    scores: ArrayLike,
    q_weak: ArrayLike,
    q_strong: ArrayLike,
    cost_weak: float | ArrayLike = 1.0,
    cost_strong: float | ArrayLike = 5.0,
) -> list[CurvePoint]:
    """One point (share_strong, mean quality, cost / always-strong cost) per cut k = 0..n.

    Costs are per prompt: scalars, or arrays aligned with `scores` (ties average costs like quality).
    """
    s, w, g = _arrays(scores, q_weak, q_strong)
    n = s.size
    cw = np.broadcast_to(np.asarray(cost_weak, dtype=np.float64), (n,))
    cs = np.broadcast_to(np.asarray(cost_strong, dtype=np.float64), (n,))
    all_strong = float(np.sum(cs))
    if all_strong <= 0:
        raise ValueError("the strong model's total cost must be positive")
    quality = (float(np.sum(w)) + cumulative_gain(s, w, g)) / n
    # Cost moves like quality: sending prompt i to strong adds cs[i] - cw[i].
    cost = (float(np.sum(cw)) + cumulative_gain(s, cw, cs)) / all_strong
    return [CurvePoint(k / n, float(quality[k]), float(cost[k])) for k in range(n + 1)]


def apgr(scores: ArrayLike, q_weak: ArrayLike, q_strong: ArrayLike) -> float:
    """Area under PGR over the share of strong calls in [0, 1] (trapezoid over all n+1 cuts)."""
    share, pgr = pgr_curve(scores, q_weak, q_strong)
    return float(np.sum((pgr[1:] + pgr[:-1]) * np.diff(share)) / 2.0)


def cpt(scores: ArrayLike, q_weak: ArrayLike, q_strong: ArrayLike, target: float) -> float:
    """Smallest share of strong calls at which PGR reaches `target` (e.g. 0.5 for CPT(50%))."""
    share, pgr = pgr_curve(scores, q_weak, q_strong)
    hit = np.flatnonzero(pgr >= target - 1e-12)
    return float(share[hit[0]]) if hit.size else 1.0


def oracle_scores(q_weak: ArrayLike, q_strong: ArrayLike) -> FloatArray:
    """Scores of the oracle router: the strong model's gain over the weak one on each prompt.

    With 0/1 quality this is 1 exactly where weak fails and strong passes, so those go to strong first.
    """
    w = np.asarray(q_weak, dtype=np.float64).ravel()
    g = np.asarray(q_strong, dtype=np.float64).ravel()
    if w.shape != g.shape:
        raise ValueError(f"q_weak and q_strong must have one length, got {w.shape}, {g.shape}")
    return g - w


def summary(scores: ArrayLike, q_weak: ArrayLike, q_strong: ArrayLike,
            targets: Sequence[float] = (0.5, 0.8)) -> dict[str, float]:
    """APGR and CPT at each target in one dict: {"apgr": .., "cpt50": .., "cpt80": ..}."""
    out = {"apgr": apgr(scores, q_weak, q_strong)}
    for t in targets:
        out[f"cpt{round(t * 100)}"] = cpt(scores, q_weak, q_strong, t)
    return out
