"""The learned local scorer: a linear model plus a few small trees over prompt-text features, in pure Python.

`tiered train` fits it (see `tiered.training`) to predict, from the text alone, how hard a prompt is: the item
difficulty that item response theory estimates from many models' outcomes on it. That is a property of the
item, not of one model pair, so it transfers to pairs and datasets the scorer was not trained on. The score is

    bias + Σ dense_w[k] * dense[k] + Σ_view (Σ_{t in view} w_view[t]) / sqrt(|view|) + Σ_trees tree(dense)

where the trees are small boosted regression trees over the dense features (`tiered.scoring.trees`) and the
dense features' standardisation is folded into `dense_w` at training time. A model file is JSON (or gzip'd
JSON): `{"format": "tiered-learned-scorer", "version": 1, "bias": .., "dense": {name: w},
"views": {view: {token: w}}, "trees": [...], "meta": {...}}`. Inference needs no numpy, scipy or sklearn.

`load_router(None)` is the default that ships in the package (`tiered/data/router/default.json.gz`).
"""

from __future__ import annotations

import gzip
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from tiered.errors import ConfigError
from tiered.scoring.base import Scorer
from tiered.scoring.features import DENSE_NAMES, VIEWS, PromptFeatures, extract
from tiered.scoring.trees import Tree, TreeTuple, sum_trees
from tiered.types import Request

FORMAT = "tiered-learned-scorer"
VERSION = 1
DEFAULT_RESOURCE = "router/default.json.gz"


@dataclass(frozen=True, slots=True)
class LearnedScorer:
    """Scores a request's prompt text; higher = a cheaper tier is more likely to fall short."""

    bias: float
    dense: tuple[float, ...]
    """One weight per name in DENSE_NAMES (features that a model file lacks weigh 0)."""
    views: Mapping[str, Mapping[Any, float]]
    """view name -> token weights; tokens are bytes, bigrams ("qb") pairs of bytes."""
    trees: tuple[Tree, ...] = ()
    """Boosted regression trees over the dense features, added to the linear score."""
    meta: Mapping[str, Any] = field(default_factory=dict)
    _tree_tuples: tuple[TreeTuple, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_tree_tuples", tuple(t.as_tuple() for t in self.trees))

    def __repr__(self) -> str:
        # Short on purpose: a policy's repr goes into every request record, and the weights are ~16k entries.
        tokens = sum(len(w) for w in self.views.values())
        trained_on = self.meta.get("datasets", "?")
        return f"LearnedScorer({tokens} token weights, {len(self.trees)} trees, trained on {trained_on})"

    def score(self, request: Request) -> float:
        return self.score_text(request.prompt_text)

    def score_text(self, text: str) -> float:
        return self.score_features(extract(text, self.views.keys()))

    def score_features(self, f: PromptFeatures) -> float:
        """The score from features `extract` computed (with at least this scorer's views)."""
        total = self.bias
        dense = f.dense
        for w, x in zip(self.dense, dense, strict=True):
            total += w * x
        if self._tree_tuples:
            total += sum_trees(self._tree_tuples, dense)
        for name, weights in self.views.items():
            tokens = f.view(name)
            if tokens:
                get = weights.get
                # fsum: exact, so the score does not depend on the set's order (salted per process)
                total += math.fsum([get(t, 0.0) for t in tokens]) / math.sqrt(len(tokens))
        return total

    # -- files ---------------------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "bias": self.bias,
            "dense": dict(zip(DENSE_NAMES, self.dense, strict=True)),
            "views": {v: dict(sorted((_key_text(t), w) for t, w in ws.items())) for v, ws in self.views.items()},
            "trees": [t.to_json(DENSE_NAMES) for t in self.trees],
            "meta": dict(self.meta),
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> LearnedScorer:
        if raw.get("format") != FORMAT:
            raise ConfigError(f"not a tiered learned-scorer file (format={raw.get('format')!r})")
        if raw.get("version") != VERSION:
            raise ConfigError(f"learned-scorer file version {raw.get('version')!r}; this tiered reads {VERSION}")
        dense_raw = raw.get("dense") or {}
        unknown = set(dense_raw) - set(DENSE_NAMES)
        if unknown:
            raise ConfigError(f"learned-scorer file has unknown dense features: {sorted(unknown)}")
        views_raw = raw.get("views") or {}
        bad_views = set(views_raw) - set(VIEWS)
        if bad_views:
            raise ConfigError(f"learned-scorer file has unknown token views: {sorted(bad_views)}")
        return cls(
            bias=float(raw.get("bias", 0.0)),
            dense=tuple(float(dense_raw.get(n, 0.0)) for n in DENSE_NAMES),
            views={v: {_key(v, t): float(w) for t, w in ws.items()} for v, ws in views_raw.items()},
            trees=tuple(Tree.from_json(t, DENSE_NAMES) for t in raw.get("trees") or ()),
            meta=dict(raw.get("meta") or {}),
        )

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write JSON, gzip'd when the name ends in .gz (compact, deterministic: sorted tokens, fixed rounding)."""
        write_json(path, self.to_json())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> LearnedScorer:
        return cls.from_json(read_json(path))

    @classmethod
    def default(cls) -> LearnedScorer:
        """The router that ships in the package (see tiered/data/router/README.md for how it was trained)."""
        resource = resources.files("tiered.data").joinpath(DEFAULT_RESOURCE)
        return cls.load(Path(str(resource)))


def write_json(path: str | os.PathLike[str], raw: Mapping[str, Any]) -> None:
    """Write a router file: compact JSON, gzip'd (with no timestamp, so bytes are reproducible) for a .gz name."""
    data = json.dumps(raw, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    p = Path(path)
    if p.suffix == ".gz":
        data = gzip.compress(data, mtime=0)
    p.write_bytes(data)


def read_json(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The JSON object in a router file (gzip'd or not)."""
    p = Path(path)
    try:
        data = p.read_bytes()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        raw = json.loads(data.decode("utf-8"))
    except (OSError, ValueError) as e:
        raise ConfigError(f"cannot read learned-scorer file {p}: {e}") from e
    if not isinstance(raw, dict):
        raise ConfigError(f"learned-scorer file {p} is not a JSON object")
    return raw


def _key(view: str, text: str) -> bytes | tuple[bytes, ...]:
    raw = text.encode("utf-8")
    return tuple(raw.split(b" ")) if view == "qb" else raw


def _key_text(token: bytes | tuple[bytes, ...]) -> str:
    return (b" ".join(token) if isinstance(token, tuple) else token).decode("utf-8")


def load_router(path: str | os.PathLike[str] | None = None) -> Scorer:
    """The scorer in `path` (a `tiered train` output, or a router learned from traffic: see tiered.learning),
    or the shipped default when `path` is None."""
    if path is None:
        return LearnedScorer.default()
    from tiered.learning.router import load_router_file

    return load_router_file(path)
