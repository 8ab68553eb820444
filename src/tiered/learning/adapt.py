"""The learning curve offline: a dataset treated as traffic, its labels revealed K at a time.

For each K and each repeat, the labels of K random prompts are revealed (as a shadow judge would reveal them),
`learn` fits a router from the prior on them (every prompt of the dataset, labelled or not, is the traffic), and
`verify` measures it on the other prompts. The prior itself is measured on the same held-out prompts, so the
two figures compare like for like. `tiered eval --adapt` prints this; bench/learning_curve.py runs it per fold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from tiered.learning.examples import Example
from tiered.learning.learn import DEFAULT_CONFIG, LearnConfig, learn, prepare
from tiered.learning.router import Router
from tiered.learning.verify import verify


def learning_curve(prior: Router, examples: Sequence[Example], weak: str, strong: str, ks: Sequence[int], *,
                   repeats: int = 5, use_tasks: bool = True, config: LearnConfig = DEFAULT_CONFIG,
                   cost_weak: float = 1.0, cost_strong: float = 5.0, seed: int = 0) -> list[dict[str, Any]]:
    """One row per K: {"k", "apgr", "apgr_sd", "cpt50", "cost_ratio_at_95", "prior_apgr", "repeats", "n_test"},
    means (and the sd of APGR) over `repeats` random draws of the K labelled prompts."""
    rows = [e for e in examples if e.has(weak, strong)]
    if not rows:
        raise ValueError(f"no example has outcomes for both {weak!r} and {strong!r}")
    bad = [k for k in ks if k < 0 or k >= len(rows)]
    if bad:
        raise ValueError(f"--adapt: K must be in [0, {len(rows) - 1}] for these {len(rows)} prompts, got {bad}")
    cfg = replace(config, use_tasks=use_tasks)
    traffic = prepare(prior, rows, cfg)
    out = []
    for k in ks:
        runs: list[tuple[float, float, float, float]] = []
        for r in range(repeats):
            order = np.random.default_rng([seed, r]).permutation(len(rows))
            labelled = [rows[i] for i in order[:k]]
            held_out = [rows[i] for i in order[k:]]
            router = learn(prior, labelled, weak=weak, strong=strong, config=cfg, traffic=traffic)
            scores = [router.score_parts(*traffic.parts(e)) for e in held_out]
            v = verify(router, held_out, scores=scores, resamples=0, cost_weak=cost_weak, cost_strong=cost_strong)
            base = verify(traffic.prior, held_out, weak=weak, strong=strong, resamples=0,
                          scores=[traffic.scores[e.prompt] for e in held_out])
            if v.apgr is None or base.apgr is None:
                continue
            runs.append((v.apgr, v.cpt50 or 1.0, v.cost_ratio_at_target or 1.0, base.apgr))
        if not runs:
            raise ValueError(f"--adapt {k}: the strong model gains nothing on the held-out prompts")
        arr = np.array(runs)
        out.append({"k": k, "apgr": float(arr[:, 0].mean()), "apgr_sd": float(arr[:, 0].std()),
                    "cpt50": float(arr[:, 1].mean()), "cost_ratio_at_95": float(arr[:, 2].mean()),
                    "prior_apgr": float(arr[:, 3].mean()), "repeats": len(runs), "n_test": len(rows) - k})
    return out


def parse_ks(spec: str) -> list[int]:
    """"100,300,1000" -> [100, 300, 1000]."""
    try:
        ks = [int(p) for p in spec.split(",") if p.strip()]
    except ValueError as e:
        raise ValueError(f"--adapt: expected K,K,... (integers), got {spec!r}") from e
    if not ks:
        raise ValueError("--adapt: no K given")
    return ks
