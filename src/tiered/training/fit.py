"""Fit a `LearnedScorer`: item targets from outcome datasets, text features, a ridge regression (+ trees).

Dense features are standardised (the scaling is folded back into the exported weights); each token view
contributes binary features scaled by 1/sqrt(number of the prompt's tokens in that view), exactly as
`LearnedScorer.score_text` computes them. Tokens seen in fewer than `min_df` training prompts are dropped, and
after the fit each view keeps only its `max_tokens` largest weights, which bounds the file size.

Two optional additions to the ridge part: a length prior (an ensemble with the untrained length rule) and a few
boosted depth-3 trees over the dense features, scaled against the linear part's spread on the training set.
`RECIPE` at the bottom is the shipped configuration and the one `tiered train` uses by default.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tiered.datasets import Dataset
from tiered.scoring.features import DENSE_NAMES, VIEWS, PromptFeatures, Token, extract
from tiered.scoring.learned import LearnedScorer
from tiered.scoring.trees import Tree
from tiered.training.targets import item_targets

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class TrainConfig:
    target: str = "gain"
    """See tiered.training.targets: gain, difficulty, empirical_gain or blend."""
    min_gap: float = 0.5
    """Model pairs whose ability gap is below this quantile of all gaps do not count toward "gain"."""
    exclude_models: str | None = None
    """Regex of model names left out of the item-response fit (specialists; see tiered.training.targets)."""
    alpha: float = 3.0
    """Ridge penalty."""
    dense_scale: float = 1.0
    """Multiplies the standardised dense features (a larger value = less shrinkage on them than on tokens)."""
    views: tuple[str, ...] = VIEWS
    min_df: int = 3
    max_tokens: int = 20000
    """Per view, after the fit."""
    length_prior: float = 0.0
    """Adds this many standard deviations of the fitted score per standard deviation of log length: an ensemble
    with the untrained length rule, a hedge for sets where length is what separates easy from hard."""
    trees: int = 0
    """Boosted depth-3 regression trees over the dense features, added to the linear part (0 = none)."""
    tree_weight: float = 0.5
    """The trees' spread as a share of the linear part's spread on the training set."""
    balance: bool = True
    """Weigh every dataset equally, whatever its number of prompts."""
    decimals: int = 5


@dataclass(frozen=True, slots=True)
class TrainingSet:
    features: list[PromptFeatures]
    targets: FloatArray
    weights: FloatArray
    sources: list[str]


def training_set(datasets: Sequence[Dataset], config: TrainConfig) -> TrainingSet:
    feats: list[PromptFeatures] = []
    targets: list[FloatArray] = []
    weights: list[FloatArray] = []
    sources: list[str] = []
    for ds in datasets:
        t = item_targets(ds, config.target, min_gap=config.min_gap, exclude_models=config.exclude_models)
        feats.extend(extract(item.prompt, config.views) for item in ds)
        targets.append(t)
        weights.append(np.full(len(ds), 1.0 / len(ds) if config.balance else 1.0))
        sources.extend([ds.name] * len(ds))
    w = np.concatenate(weights)
    return TrainingSet(feats, np.concatenate(targets), w * (len(w) / w.sum()), sources)


def _vocab(feats: Sequence[PromptFeatures], view: str, min_df: int) -> dict[Token, int]:
    df: Counter[Token] = Counter()
    for f in feats:
        df.update(f.view(view))
    kept = sorted(t for t, c in df.items() if c >= min_df)
    return {t: i for i, t in enumerate(kept)}


def fit(data: TrainingSet, config: TrainConfig, meta: dict[str, Any] | None = None) -> LearnedScorer:
    from scipy import sparse
    from sklearn.linear_model import Ridge

    dense = np.array([f.dense for f in data.features], dtype=np.float64)
    mean = dense.mean(axis=0)
    sd = dense.std(axis=0)
    sd[sd == 0] = 1.0
    blocks: list[Any] = [sparse.csr_matrix((dense - mean) / sd * config.dense_scale)]
    vocabs = {v: _vocab(data.features, v, config.min_df) for v in config.views}
    for view, vocab in vocabs.items():
        rows: list[int] = []
        cols: list[int] = []
        vals: list[float] = []
        for r, f in enumerate(data.features):
            tokens = f.view(view)
            if not tokens:
                continue
            scale = 1.0 / math.sqrt(len(tokens))
            for t in tokens:
                c = vocab.get(t)
                if c is not None:
                    rows.append(r)
                    cols.append(c)
                    vals.append(scale)
        blocks.append(sparse.csr_matrix((vals, (rows, cols)), shape=(len(data.features), max(1, len(vocab)))))
    x = sparse.hstack(blocks, format="csr")
    model = Ridge(alpha=config.alpha)
    model.fit(x, data.targets, sample_weight=data.weights)
    coef = np.asarray(model.coef_, dtype=np.float64)
    n_dense = len(DENSE_NAMES)
    dense_w = coef[:n_dense] * config.dense_scale / sd
    linear = np.asarray(model.predict(x), dtype=np.float64)
    if config.length_prior:
        k = DENSE_NAMES.index("log_chars")
        step = config.length_prior * float(np.std(linear)) / float(sd[k])
        dense_w[k] += step
        linear = linear + step * (dense[:, k] - mean[k])
    bias = float(model.intercept_) - float(np.sum(dense_w * mean))
    trees: tuple[Tree, ...] = ()
    if config.trees:
        bias, trees = _boost(dense, data, config, float(np.std(linear)), bias)
    views: dict[str, dict[Token, float]] = {}
    offset = n_dense
    for view, vocab in vocabs.items():
        w = coef[offset:offset + max(1, len(vocab))]
        offset += max(1, len(vocab))
        order = np.argsort(-np.abs(w[:len(vocab)]), kind="stable")[:config.max_tokens]
        names = list(vocab)
        views[view] = {names[i]: round(float(w[i]), config.decimals) for i in order if w[i] != 0.0}
    info = {"config": asdict(config), "train_prompts": len(data.features),
            "sources": dict(Counter(data.sources)), **(meta or {})}
    return LearnedScorer(
        bias=round(bias, 8),
        dense=tuple(round(float(v), 8) for v in dense_w),
        views=views,
        trees=trees,
        meta=info,
    )


def _boost(dense: FloatArray, data: TrainingSet, config: TrainConfig, linear_sd: float,
           bias: float) -> tuple[float, tuple[Tree, ...]]:
    """Gradient-boosted trees on the dense features, scaled to `tree_weight` of the linear part's spread."""
    from sklearn.ensemble import GradientBoostingRegressor

    lr = 0.1
    model = GradientBoostingRegressor(n_estimators=config.trees, max_depth=3, learning_rate=lr,
                                      min_samples_leaf=50, random_state=0)
    model.fit(dense, data.targets, sample_weight=data.weights)
    spread = float(np.std(model.predict(dense)))
    scale = config.tree_weight * linear_sd / spread if spread > 0 else 0.0
    init = float(np.ravel(model.init_.constant_)[0])
    trees = []
    for (estimator,) in model.estimators_:
        t = estimator.tree_
        leaf = t.children_left < 0
        trees.append(Tree(
            feature=tuple(-1 if is_leaf else int(f) for f, is_leaf in zip(t.feature, leaf, strict=True)),
            threshold=tuple(0.0 if is_leaf else float(v) for v, is_leaf in zip(t.threshold, leaf, strict=True)),
            left=tuple(int(v) for v in t.children_left),
            right=tuple(int(v) for v in t.children_right),
            value=tuple(round(float(v) * lr * scale, config.decimals + 2) if is_leaf else 0.0
                        for v, is_leaf in zip(t.value.ravel(), leaf, strict=True)),
        ))
    return bias + init * scale, tuple(trees)


def train(datasets: Sequence[Dataset], config: TrainConfig | None = None,
          meta: dict[str, Any] | None = None) -> LearnedScorer:
    """Fit a scorer on every prompt of `datasets` (targets from each dataset's own models)."""
    cfg = config or TrainConfig()
    return fit(training_set(datasets, cfg), cfg, meta)


SPECIALISTS = r"code|coder|math|chatqa"
"""Code-, maths- and retrieval-QA-tuned models, by name."""

RECIPE = TrainConfig(target="difficulty", exclude_models=SPECIALISTS, views=("q", "qb"), alpha=10.0,
                     dense_scale=0.3, length_prior=0.25, trees=50, tree_weight=0.5, max_tokens=8000)
"""The shipped recipe, chosen by leave-one-source-out APGR (bench/router_generalisation.py)."""
