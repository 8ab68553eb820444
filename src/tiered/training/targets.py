"""What the scorer learns to predict for each prompt: targets that describe the item, not one model pair.

- "difficulty": the 2PL item difficulty b_i (hard for everyone is high).
- "gain": the expected gain of a stronger model over a weaker one on this item, P(strong right) - P(weak right)
  under the 2PL fit, averaged over every pair of the dataset's models whose ability gap is at least the
  `min_gap` quantile of all gaps. This is what routing can use: an item every model fails (or passes) has no
  gain, so it is not worth a strong call, however hard it is.
- "empirical_gain": the same average over the observed outcomes (no IRT smoothing).
- "blend": difficulty and gain (each standardised) averaged.

Specialist models (code-, maths- or retrieval-tuned) can be left out of the fit: their ability is not on the
same scale as a generalist's (a code model passes MBPP that bigger generalists fail), so they would make code
look easy. Each dataset's targets are standardised (zero mean, unit variance) before datasets are pooled, since their
scales (number of models, spread of abilities) differ.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from tiered.datasets import Dataset
from tiered.training.irt import fit_irt

FloatArray = NDArray[np.float64]
TARGETS: tuple[str, ...] = ("difficulty", "gain", "empirical_gain", "blend")


def outcome_matrix(dataset: Dataset, models: Sequence[str] | None = None) -> tuple[FloatArray, list[str]]:
    """(items x models) quality matrix with NaN where a model has no outcome; models that cover < half are dropped."""
    names = list(models) if models is not None else dataset.model_names
    y = np.full((len(dataset), len(names)), np.nan)
    for i, item in enumerate(dataset):
        for j, name in enumerate(names):
            o = item.outcomes.get(name)
            if o is not None:
                y[i, j] = o.quality
    keep = np.mean(~np.isnan(y), axis=0) >= 0.5
    return y[:, keep], [n for n, k in zip(names, keep, strict=True) if k]


def _pairs(ability: FloatArray, min_gap: float) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    weak, strong = np.nonzero(ability[None, :] - ability[:, None] > 0)
    gaps = ability[strong] - ability[weak]
    keep = gaps >= np.quantile(gaps, min_gap)
    return weak[keep], strong[keep]


def _standardise(x: FloatArray) -> FloatArray:
    sd = float(np.std(x))
    out: FloatArray = (x - np.mean(x)) / (sd if sd > 0 else 1.0)
    return out


def general_models(dataset: Dataset, exclude: str | None) -> list[str]:
    """The dataset's models whose name does not match the `exclude` regex (case-insensitive)."""
    if not exclude:
        return dataset.model_names
    pattern = re.compile(exclude, re.IGNORECASE)
    return [m for m in dataset.model_names if not pattern.search(m)]


def item_targets(dataset: Dataset, kind: str = "difficulty", *, min_gap: float = 0.5,
                 exclude_models: str | None = None) -> FloatArray:
    """One standardised target per item of `dataset` (see the module docstring for `kind`).

    `exclude_models` is a regex of model names left out of the fit (specialists, see `TrainConfig`).
    """
    if kind not in TARGETS:
        raise ValueError(f"unknown target {kind!r}; choose from {', '.join(TARGETS)}")
    models = general_models(dataset, exclude_models)
    if len(models) < 3:
        raise ValueError(f"dataset {dataset.name}: item targets need >= 3 models, have {models}")
    y, _ = outcome_matrix(dataset, models)
    if kind == "empirical_gain":
        ability = np.nanmean(y, axis=0)
        weak, strong = _pairs(ability, min_gap)
        gains = y[:, strong] - y[:, weak]
        return _standardise(np.nan_to_num(np.nanmean(gains, axis=1)))
    fit = fit_irt(y)
    if kind == "difficulty":
        return _standardise(fit.difficulty)
    weak, strong = _pairs(fit.ability, min_gap)
    p = fit.p_correct()
    gain = _standardise(np.mean(p[:, strong] - p[:, weak], axis=1))
    if kind == "gain":
        return gain
    return _standardise(gain + _standardise(fit.difficulty))
