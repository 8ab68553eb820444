"""Fit a router on labelled traffic, starting from the shipped router as a prior (numpy only; no sklearn).

The model predicts the strong tier's gain over the weak one on a prompt (`Example.gain`) as a linear mixed model:

    gain ≈ bias + b_prior * z + b_prior2 * z² + b_length * l + u_task[task] + u_cluster[cluster] (+ slopes on z)

z is the prior's score and l the log length, standardised over every prompt of the traffic (labelled or not);
clusters are fitted on every prompt too (spherical k-means over the prompts' word sets, tf-idf weighted). It is
a Bayesian ridge centred on the prior: b_prior's prior mean is positive (`LearnConfig.prior_slope`), every other
coefficient's is 0, so with no labels the router ranks exactly as the prior does, and each label moves it by
its weight against the prior's. How far the groups may move (their prior spread) is chosen per fit by the
marginal likelihood of the labels (empirical Bayes), so a grouping that explains nothing stays near zero: with
few labels the router stays at the prior, with many the traffic dominates.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import product
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tiered.learning.examples import Example
from tiered.learning.router import AdaptedRouter, Clusters, Group, Router, prior_name
from tiered.scoring.features import DENSE_NAMES, PromptFeatures, extract
from tiered.scoring.learned import LearnedScorer

FloatArray = NDArray[np.float64]
_LOG_CHARS = DENSE_NAMES.index("log_chars")


@dataclass(frozen=True, slots=True)
class LearnConfig:
    use_tasks: bool = True
    """Use the task a request declares; False = clusters of the prompts alone (`--no-task`)."""
    clusters: int | None = None
    """Number of prompt clusters (None: from the number of prompts; 0: none)."""
    prior_slope: float = 0.06
    """Prior mean of b_prior, in gain per standard deviation of the prior's score."""
    prior_slope_sd: float = 0.04
    fixed_sd: float = 0.03
    """Prior spread of b_length."""
    prior2_sd: float = 0.0
    """Prior spread of b_prior2 (a curvature in the prior's score: kept small, noise in it reorders everything)."""
    group_sds: tuple[float, ...] = (0.0, 0.02, 0.04, 0.08, 0.16)
    """The candidate spreads of group offsets; the marginal likelihood picks one per grouping."""
    evidence: float = 2.0
    """Nats of marginal likelihood a component (length, a grouping) must add to be used at all."""
    slope_ratio: float = 0.0
    """Group slopes on z get a spread of this times their group's offset spread (0 = no slopes)."""
    cluster_view: str = "q"
    """The prompt's words clusters are computed over: "w" (the whole text) or "q" (its final question part, which
    the prior reads anyway, so it costs nothing more at inference)."""
    cluster_vocab: int = 3000
    cluster_terms: int = 200
    """Words kept per centroid in the file (the assignment's cost at inference)."""
    kmeans_iterations: int = 15
    seed: int = 0


DEFAULT_CONFIG = LearnConfig()


def _base(prior: Router) -> LearnedScorer:
    return prior.prior if isinstance(prior, AdaptedRouter) else prior


@dataclass(frozen=True, slots=True)
class Traffic:
    """What learning needs of every prompt of the traffic, computed once: features, prior scores, clusters.

    `prepare` builds it; `learn` builds one itself when not given one (an offline learning curve fits many
    routers on one traffic and passes it in, so the work is not repeated).
    """

    prior: LearnedScorer
    features: dict[str, PromptFeatures]
    scores: dict[str, float]
    standardise: dict[str, float]
    clusters: Clusters | None
    cluster_of: dict[str, str | None]

    def parts(self, example: Example) -> tuple[float, float, str | None, str | None]:
        """(prior score, log length, task, cluster) of a prompt of this traffic, for `AdaptedRouter.score_parts`."""
        f = self.features[example.prompt]
        return self.scores[example.prompt], f.dense[_LOG_CHARS], example.task, self.cluster_of[example.prompt]


def prepare(prior: Router, prompts: Iterable[str | Example], config: LearnConfig = DEFAULT_CONFIG) -> Traffic:
    """Features, prior scores, standardisation and clusters of every prompt (labelled or not)."""
    base = _base(prior)
    texts = list(dict.fromkeys(p.prompt if isinstance(p, Example) else p for p in prompts))
    n_clusters = _n_clusters(len(texts), config)
    views = set(base.views) | ({config.cluster_view} if n_clusters else set())
    feats = {t: extract(t, views) for t in texts}
    scores = {t: base.score_features(feats[t]) for t in texts}
    s_all = np.array(list(scores.values())) if texts else np.zeros(1)
    l_all = np.array([f.dense[_LOG_CHARS] for f in feats.values()]) if texts else np.zeros(1)
    standardise = {"prior_mean": float(s_all.mean()), "prior_sd": _sd(s_all),
                   "length_mean": float(l_all.mean()), "length_sd": _sd(l_all)}
    clusters = _kmeans(texts, feats, n_clusters, config) if n_clusters else None
    cluster_of: dict[str, str | None] = {}
    for t in texts:
        k = clusters.assign(feats[t].view(clusters.view)) if clusters is not None else None
        cluster_of[t] = None if k is None else str(k)
    return Traffic(base, feats, scores, standardise, clusters, cluster_of)


def learn(prior: Router, examples: Sequence[Example], unlabelled_prompts: Iterable[str | Example] = (),
          weak: str = "", strong: str = "", *, config: LearnConfig = DEFAULT_CONFIG,
          route: str | None = None, traffic: Traffic | None = None) -> AdaptedRouter:
    """Fit a router for the `weak` -> `strong` pair on `examples` (those that know the weak outcome), from `prior`.

    `unlabelled_prompts` (all logged prompts; labelled ones may be among them) shape the clusters and the
    standardisation. A prior that is itself a learned router contributes its base scorer: learning always
    starts again from the shipped knowledge, never compounds its own fits. `traffic` (from `prepare`, over a
    set of prompts that includes the examples') replaces `unlabelled_prompts` and saves recomputing them.
    """
    if not weak or not strong:
        raise ValueError("learn: name the weak and the strong outcome")
    base = _base(prior)
    labelled = [e for e in examples if e.gain(weak, strong) is not None]
    if traffic is None or traffic.prior is not base or any(e.prompt not in traffic.features for e in labelled):
        traffic = prepare(base, [*(e.prompt for e in labelled), *unlabelled_prompts], config)
    fitted = _fit(labelled, traffic, weak, strong, config)
    times = [e.created_at for e in labelled if e.created_at is not None]
    metadata: dict[str, Any] = {
        "prior": prior_name(base), "route": route, "window": [min(times), max(times)] if times else None,
        "labels": len(labelled), "heldout": None, "created_at": time.time(), "weak": weak, "strong": strong,
    }
    return AdaptedRouter(prior=base, standardise=traffic.standardise, coef=fitted.coef, groups=fitted.groups,
                         clusters=traffic.clusters if any(g.by == "cluster" for g in fitted.groups) else None,
                         metadata=metadata)


def _sd(x: FloatArray) -> float:
    sd = float(np.std(x))
    return sd if sd > 1e-12 else 1.0


def _n_clusters(n_prompts: int, config: LearnConfig) -> int:
    if config.clusters is not None:
        return config.clusters if n_prompts >= 2 * config.clusters else 0
    if n_prompts < 50:
        return 0
    return int(min(16, max(4, round(math.sqrt(n_prompts / 8)))))


# -- clusters ----------------------------------------------------------------------------------------------

def _words(f: PromptFeatures, view: str) -> frozenset[bytes]:
    if view == "w":
        return f.words
    if view == "q":
        return f.final_words
    raise ValueError(f"clusters are over word views (w or q), not {view!r}")


def _kmeans(texts: Sequence[str], feats: dict[str, PromptFeatures], k: int, config: LearnConfig) -> Clusters | None:
    """Spherical k-means over tf-idf weighted word sets; centroids kept sparse (their top words) for inference."""
    n = len(texts)
    df: Counter[bytes] = Counter()
    for t in texts:
        df.update(_words(feats[t], config.cluster_view))
    common = [w for w, c in df.items() if 3 <= c <= 0.5 * n]
    common.sort(key=lambda w: (-df[w], w))
    vocab = {w: i for i, w in enumerate(common[:config.cluster_vocab])}
    if len(vocab) < k:
        return None
    idf = np.array([math.log(n / df[w]) for w in vocab], dtype=np.float32)
    x = np.zeros((n, len(vocab)), dtype=np.float32)
    for r, t in enumerate(texts):
        cols = [vocab[w] for w in _words(feats[t], config.cluster_view) if w in vocab]
        if cols:
            x[r, cols] = idf[cols]
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    x /= norms
    rng = np.random.default_rng(config.seed)
    centroids = _kmeans_pp(x, k, rng)
    for _ in range(config.kmeans_iterations):
        assign = np.argmax(x @ centroids.T, axis=1)
        for j in range(k):
            members = x[assign == j]
            c = members.sum(axis=0) if len(members) else x[rng.integers(0, n)]
            cn = float(np.linalg.norm(c))
            centroids[j] = c / cn if cn > 0 else c
    words = list(vocab)
    postings: dict[bytes, list[tuple[int, float]]] = {}
    for j in range(k):
        top = np.argsort(-centroids[j], kind="stable")[:config.cluster_terms]
        for i in top:
            w = float(centroids[j, i]) * float(idf[i])
            if w > 0:
                postings.setdefault(words[i], []).append((j, round(w, 6)))
    return Clusters(postings={t: tuple(h) for t, h in postings.items()}, view=config.cluster_view)


def _kmeans_pp(x: NDArray[np.float32], k: int, rng: np.random.Generator) -> NDArray[np.float32]:
    n = x.shape[0]
    chosen = [int(rng.integers(0, n))]
    best = 1.0 - x @ x[chosen[0]]
    for _ in range(1, k):
        p = np.clip(best, 0, None).astype(np.float64)
        total = float(p.sum())
        nxt = int(rng.choice(n, p=p / total)) if total > 0 else int(rng.integers(0, n))
        chosen.append(nxt)
        best = np.minimum(best, 1.0 - x @ x[nxt])
    return x[chosen].copy()


# -- the fit -----------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _Fit:
    coef: dict[str, float]
    groups: tuple[Group, ...] = field(default_factory=tuple)


def _fit(labelled: Sequence[Example], traffic: Traffic, weak: str, strong: str, config: LearnConfig) -> _Fit:
    prior_coef = {"bias": 0.0, "prior": config.prior_slope, "prior2": 0.0, "length": 0.0}
    if not labelled:
        return _Fit(prior_coef)
    st = traffic.standardise
    y = np.array([e.gain(weak, strong) for e in labelled], dtype=np.float64)
    z = np.array([(traffic.scores[e.prompt] - st["prior_mean"]) / st["prior_sd"] for e in labelled])
    length = np.array([(traffic.features[e.prompt].dense[_LOG_CHARS] - st["length_mean"]) / st["length_sd"]
                       for e in labelled])
    fixed = np.column_stack([np.ones(len(y)), z, z * z - 1.0, length])
    fixed_mean = np.array([float(np.mean(y)), config.prior_slope, 0.0, 0.0])
    fixed_sd = np.array([1.0, config.prior_slope_sd, max(config.prior2_sd, 1e-6), config.fixed_sd])
    blocks: list[tuple[str, list[str], FloatArray]] = []
    if config.use_tasks:
        keys = [e.task or "" for e in labelled]
        blocks.append(("task", keys, z))
    if traffic.clusters is not None:
        blocks.append(("cluster", [traffic.cluster_of[e.prompt] or "" for e in labelled], z))
    designs = []
    for kind, keys, zz in blocks:
        levels = sorted({key for key in keys if key})
        index = {key: i for i, key in enumerate(levels)}
        d = np.zeros((len(y), len(levels)))
        ds = np.zeros((len(y), len(levels)))
        for r, key in enumerate(keys):
            if key:
                d[r, index[key]] = 1.0
                ds[r, index[key]] = zz[r]
        designs.append((kind, levels, d, ds))
    sigma2 = max(float(np.var(y)), 1e-3)
    # Each optional component (the length term, each grouping) is switched on only when the labels' marginal
    # likelihood gains more than `evidence` nats by it: a group effect that noise could produce stays at zero.
    best: tuple[float, float, tuple[float, ...]] | None = None
    length_grid = (0.0, config.fixed_sd) if config.fixed_sd > 0 else (0.0,)
    for length_sd in length_grid:
        fsd = fixed_sd.copy()
        fsd[3] = max(length_sd, 1e-6)
        for sds in product(*([config.group_sds] * len(designs))):
            x, mean, var = _assemble(fixed, fixed_mean, fsd, designs, sds, config.slope_ratio)
            on = (length_sd > 0) + sum(1 for v in sds if v > 0)
            ll = _log_marginal(y, x, mean, var, sigma2) - config.evidence * on
            if best is None or ll > best[0] + 1e-9:
                best = (ll, length_sd, sds)
    assert best is not None
    _, length_sd, sds = best
    fixed_sd[3] = max(length_sd, 1e-6)
    x, mean, var = _assemble(fixed, fixed_mean, fixed_sd, designs, sds, config.slope_ratio)
    beta = _posterior_mean(y, x, mean, var, sigma2)
    coef = {"bias": float(beta[0]), "prior": float(beta[1]), "prior2": float(beta[2]), "length": float(beta[3])}
    coef["bias"] -= coef["prior2"]  # the design used z² - 1 (centred); the router scores z²
    groups = []
    offset = 4
    for (kind, levels, _d, _ds), _sd_g in zip(designs, sds, strict=True):
        m = len(levels)
        off = {lv: round(float(beta[offset + i]), 6) for i, lv in enumerate(levels)}
        offset += m
        slope: dict[str, float] = {}
        if config.slope_ratio > 0:
            slope = {lv: round(float(beta[offset + i]), 6) for i, lv in enumerate(levels)}
            offset += m
        if any(off.values()) or any(slope.values()):  # a grouping the evidence left at zero costs nothing to score
            groups.append(Group(by=kind, offset=off, slope=slope))
    return _Fit({k: round(v, 8) for k, v in coef.items()}, tuple(groups))


def _assemble(fixed: FloatArray, fixed_mean: FloatArray, fixed_sd: FloatArray,
              designs: Sequence[tuple[str, list[str], FloatArray, FloatArray]], sds: Sequence[float],
              slope_ratio: float) -> tuple[FloatArray, FloatArray, FloatArray]:
    cols = [fixed]
    means = [fixed_mean]
    variances = [fixed_sd ** 2]
    for (_kind, levels, d, ds), sd in zip(designs, sds, strict=True):
        cols.append(d)
        means.append(np.zeros(len(levels)))
        variances.append(np.full(len(levels), max(sd, 1e-6) ** 2))
        if slope_ratio > 0:
            cols.append(ds)
            means.append(np.zeros(len(levels)))
            variances.append(np.full(len(levels), max(sd * slope_ratio, 1e-6) ** 2))
    return np.hstack(cols), np.concatenate(means), np.concatenate(variances)


def _log_marginal(y: FloatArray, x: FloatArray, mean: FloatArray, var: FloatArray, sigma2: float) -> float:
    """log N(y; x mean, sigma2 I + x diag(var) x') through the p x p form (Woodbury, matrix determinant lemma)."""
    r = y - x @ mean
    a = np.diag(1.0 / var) + (x.T @ x) / sigma2
    chol = np.linalg.cholesky(a)
    xr = x.T @ r / sigma2
    sol = np.linalg.solve(chol, xr)
    quad = float(r @ r) / sigma2 - float(sol @ sol)
    logdet = 2.0 * float(np.sum(np.log(np.diag(chol)))) + float(np.sum(np.log(var))) + len(y) * math.log(sigma2)
    return -0.5 * (quad + logdet)


def _posterior_mean(y: FloatArray, x: FloatArray, mean: FloatArray, var: FloatArray, sigma2: float) -> FloatArray:
    a = np.diag(sigma2 / var) + x.T @ x
    beta: FloatArray = mean + np.linalg.solve(a, x.T @ (y - x @ mean))
    return beta
