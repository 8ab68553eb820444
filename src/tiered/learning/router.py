"""A router learned from traffic: the shipped (prior) scorer, adjusted by what the labels taught. Pure Python.

The score of a prompt is the predicted gain of the strong tier over the weak one:

    bias + b_prior * z + b_prior2 * z² + b_length * l
         + Σ_groups (offset[key] + slope[key] * z)

where z is the prior scorer's score and l the prompt's log length, both standardised over the traffic the
router was fitted on, and a group is the request's declared task or the prompt's cluster (the nearest of a few
centroids over the prompt's words, fitted on every logged prompt, labelled or not). A key the router never saw
adds nothing. With no labels the coefficients are the prior's (b_prior > 0, the rest 0), so the ranking is the
prior's own.

File (JSON, gzip'd for a .gz name): `{"format": "tiered-adapted-router", "version": 1, "prior": <the prior's
learned-scorer JSON>, "standardise": {...}, "coef": {...}, "groups": [{"by": "task"|"cluster", "offset": {..},
"slope": {..}}], "clusters": {"view": "w", "postings": {token: [[k, w], ...]}} | null, "metadata": {...}}`.
`metadata` says where the router comes from and how it did on rows it was not fitted on (see METADATA_KEYS).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from tiered.errors import ConfigError
from tiered.scoring.features import DENSE_NAMES, extract
from tiered.scoring.learned import LearnedScorer, read_json, write_json
from tiered.types import Request

FORMAT = "tiered-adapted-router"
VERSION = 1
GROUP_KINDS: tuple[str, ...] = ("task", "cluster")
METADATA_KEYS: tuple[str, ...] = ("prior", "route", "window", "labels", "heldout", "created_at", "weak", "strong")
"""prior: name/hash of the prior; route: str|None; window: [t0, t1] of the labels' times (None if unknown);
labels: examples fitted on; heldout: {"n", "apgr", "apgr_ci": [lo, hi], "cost_ratio_at_target"} (see
tiered.learning.verify) or None; created_at: unix time; weak / strong: the outcome names the gain is between."""
_LOG_CHARS = DENSE_NAMES.index("log_chars")


@dataclass(frozen=True, slots=True)
class Clusters:
    """Nearest-centroid assignment over a prompt's word set: argmax_k Σ_{t in words} postings[t][k]."""

    postings: Mapping[bytes, tuple[tuple[int, float], ...]]
    view: str = "w"
    _size: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        size = 1 + max((k for hits in self.postings.values() for k, _ in hits), default=-1)
        object.__setattr__(self, "_size", size)

    def assign(self, tokens: frozenset[Any]) -> int | None:
        postings = self.postings
        common = postings.keys() & tokens  # a C-speed intersection: only the words some centroid holds
        if not common:
            return None
        totals = [0.0] * self._size
        for t in common:
            for k, w in postings[t]:
                totals[k] += w
        best = max(totals)
        return totals.index(best) if best > 0 else None

    def to_json(self) -> dict[str, Any]:
        return {"view": self.view, "postings": {t.decode("utf-8"): [[k, w] for k, w in hits]
                                                for t, hits in sorted(self.postings.items())}}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Clusters:
        return cls(postings={t.encode("utf-8"): tuple((int(k), float(w)) for k, w in hits)
                             for t, hits in raw["postings"].items()}, view=str(raw.get("view", "w")))


@dataclass(frozen=True, slots=True)
class Group:
    """Per-key adjustments for one grouping of the traffic (its declared task, or its cluster)."""

    by: str
    offset: Mapping[str, float]
    slope: Mapping[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"by": self.by, "offset": dict(sorted(self.offset.items())), "slope": dict(sorted(self.slope.items()))}


@dataclass(frozen=True, slots=True)
class AdaptedRouter:
    """Scores a request by the strong tier's predicted gain; higher = send it to the stronger tier."""

    prior: LearnedScorer
    standardise: Mapping[str, float]
    """prior_mean, prior_sd, length_mean, length_sd: over the traffic the router was fitted on."""
    coef: Mapping[str, float]
    """bias, prior, prior2, length."""
    groups: tuple[Group, ...] = ()
    clusters: Clusters | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    _views: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for g in self.groups:
            if g.by not in GROUP_KINDS:
                raise ConfigError(f"adapted router: unknown group {g.by!r}")
        views = set(self.prior.views)
        if self.clusters is not None:
            views.add(self.clusters.view)
        object.__setattr__(self, "_views", tuple(sorted(views)))

    def __repr__(self) -> str:
        m = self.metadata
        return (f"AdaptedRouter({m.get('labels', '?')} labels, {m.get('weak')} -> {m.get('strong')}, "
                f"groups={[g.by for g in self.groups]})")

    def score(self, request: Request) -> float:
        return self.score_text(request.prompt_text, request.task)

    def score_text(self, text: str, task: str | None = None) -> float:
        f = extract(text, self._views)
        cluster: str | None = None
        if self.clusters is not None and self.groups:
            k = self.clusters.assign(f.view(self.clusters.view))
            cluster = None if k is None else str(k)
        return self.score_parts(self.prior.score_features(f), f.dense[_LOG_CHARS], task, cluster)

    def score_parts(self, prior_score: float, log_chars: float, task: str | None, cluster: str | None) -> float:
        """The score from its parts: the prior's score, the log length, the declared task and the cluster."""
        st = self.standardise
        z = (prior_score - st["prior_mean"]) / st["prior_sd"]
        length = (log_chars - st["length_mean"]) / st["length_sd"]
        c = self.coef
        total = c["bias"] + c["prior"] * z + c["prior2"] * z * z + c["length"] * length
        for g in self.groups:
            key = task if g.by == "task" else cluster
            if key is not None:
                total += g.offset.get(key, 0.0) + g.slope.get(key, 0.0) * z
        return total

    def with_metadata(self, **updates: Any) -> AdaptedRouter:
        unknown = set(updates) - set(METADATA_KEYS)
        if unknown:
            raise ValueError(f"unknown router metadata: {sorted(unknown)}")
        return replace(self, metadata={**self.metadata, **updates})

    # -- files ---------------------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT, "version": VERSION, "prior": self.prior.to_json(),
            "standardise": dict(self.standardise), "coef": dict(self.coef),
            "groups": [g.to_json() for g in self.groups],
            "clusters": None if self.clusters is None else self.clusters.to_json(),
            "metadata": dict(self.metadata),
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> AdaptedRouter:
        if raw.get("format") != FORMAT:
            raise ConfigError(f"not a tiered adapted-router file (format={raw.get('format')!r})")
        if raw.get("version") != VERSION:
            raise ConfigError(f"adapted-router file version {raw.get('version')!r}; this tiered reads {VERSION}")
        try:
            return cls(
                prior=LearnedScorer.from_json(raw["prior"]),
                standardise={k: float(raw["standardise"][k])
                             for k in ("prior_mean", "prior_sd", "length_mean", "length_sd")},
                coef={k: float(raw["coef"].get(k, 0.0)) for k in ("bias", "prior", "prior2", "length")},
                groups=tuple(Group(by=str(g["by"]), offset={str(k): float(v) for k, v in g["offset"].items()},
                                   slope={str(k): float(v) for k, v in (g.get("slope") or {}).items()})
                             for g in raw.get("groups") or ()),
                clusters=None if raw.get("clusters") is None else Clusters.from_json(raw["clusters"]),
                metadata=dict(raw.get("metadata") or {}),
            )
        except (KeyError, TypeError, AttributeError, ValueError) as e:
            raise ConfigError(f"adapted-router file is malformed: {e!r}") from e

    def save(self, path: str | os.PathLike[str]) -> None:
        write_json(path, self.to_json())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> AdaptedRouter:
        return cls.from_json(read_json(path))


Router = LearnedScorer | AdaptedRouter


def load_router_file(path: str | os.PathLike[str]) -> Router:
    """A router file of either kind: `tiered train DATASET` output or a router learned from traffic."""
    raw = read_json(path)
    if raw.get("format") == FORMAT:
        return AdaptedRouter.from_json(raw)
    return LearnedScorer.from_json(raw)


def read_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A router file's metadata (see METADATA_KEYS); for a `tiered train DATASET` file, its `meta`, marked so."""
    raw = read_json(path)
    if raw.get("format") == FORMAT:
        return dict(raw.get("metadata") or {})
    return {"prior": None, "trained_on": dict(raw.get("meta") or {}).get("datasets"), "labels": 0}


def prior_name(prior: LearnedScorer) -> str:
    """A short, stable name for a prior: where it was trained, and a hash of its weights."""
    digest = hashlib.sha256(json.dumps(prior.to_json(), sort_keys=True).encode("utf-8")).hexdigest()[:12]
    trained = prior.meta.get("datasets")
    where = "+".join(str(d) for d in trained) if isinstance(trained, list) else "unknown"
    return f"{where}@{digest}"
