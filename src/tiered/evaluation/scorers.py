"""Scorers by name for the evaluation commands: the shipped router, a file, or a baseline.

    resolve_scorer(None)          the shipped learned router (`load_router(None)`)
    resolve_scorer("heuristic")   the hand-written heuristic scorer of `tiered.scoring`
    resolve_scorer("length")      prompt length: the baseline any router must beat
    resolve_scorer("random")      a seeded hash of the prompt: the random-routing line (APGR ≈ 0.5)
    resolve_scorer("x.json")      a `tiered train` output

Imports are lazy, so naming a baseline never loads the learned router.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from tiered.errors import ConfigError
from tiered.scoring.base import Scorer
from tiered.scoring.heuristic import HeuristicScorer
from tiered.types import Request

BUILTINS = ("heuristic", "length", "random")


@dataclass(frozen=True, slots=True)
class LengthScorer:
    """Longer prompts are taken to be harder: the prompt's length in characters."""

    def score(self, request: Request) -> float:
        return float(len(request.prompt_text))

    def __repr__(self) -> str:
        return "LengthScorer()"


@dataclass(frozen=True, slots=True)
class RandomScorer:
    """A uniform score in [0, 1) that depends only on the prompt and the seed (reproducible)."""

    seed: int = 0

    def score(self, request: Request) -> float:
        digest = hashlib.blake2b(request.prompt_text.encode("utf-8", "surrogatepass"), digest_size=8,
                                 salt=self.seed.to_bytes(8, "little")).digest()
        return int.from_bytes(digest, "little") / 2.0**64

    def __repr__(self) -> str:
        return f"RandomScorer(seed={self.seed})"


def resolve_scorer(spec: str | None, *, seed: int = 0) -> Scorer:
    """The scorer named by `spec` (see the module docstring)."""
    if spec is None or spec == "default":
        from tiered.scoring.learned import load_router

        return load_router(None)
    if spec == "length":
        return LengthScorer()
    if spec == "random":
        return RandomScorer(seed)
    if spec == "heuristic":
        return HeuristicScorer()
    if Path(spec).exists():
        from tiered.scoring.learned import load_router

        return load_router(spec)
    raise ConfigError(f"--router: {spec!r} is neither a built-in ({', '.join(BUILTINS)}) nor a file")
