"""Routing that learns the traffic it serves (issue 11): labelled examples, a fit from the shipped router as a
prior, and its verification on rows it was not fitted on.

    Example                       a prompt, its declared task, the quality of the answers known (examples.py)
    LabelStore / examples_from_log   labels and prompts in the request log, read back as examples (store.py)
    learn(prior, examples, unlabelled_prompts, weak, strong) -> AdaptedRouter        (learn.py)
    verify(router, examples) -> Verification: held-out APGR, bootstrap CI, cost at target  (verify.py)
    AdaptedRouter, read_metadata  the learned router and its file (router.py)

Names are loaded on first use, so the SQL sinks (which mix in `LabelStore`) do not import the fit.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tiered.learning.examples import Example, examples_from_items
    from tiered.learning.learn import LearnConfig, learn
    from tiered.learning.router import AdaptedRouter, load_router_file, read_metadata
    from tiered.learning.store import LabelStore, examples_from_log, prompts_from_log
    from tiered.learning.verify import Verification, verify

_WHERE = {
    "Example": "examples", "examples_from_items": "examples",
    "LearnConfig": "learn", "learn": "learn",
    "AdaptedRouter": "router", "load_router_file": "router", "read_metadata": "router",
    "LabelStore": "store", "examples_from_log": "store", "prompts_from_log": "store",
    "Verification": "verify", "verify": "verify",
}

__all__ = [
    "AdaptedRouter", "Example", "LabelStore", "LearnConfig", "Verification", "examples_from_items",
    "examples_from_log", "learn", "load_router_file", "prompts_from_log", "read_metadata", "verify",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'tiered.learning' has no attribute {name!r}")
    return getattr(importlib.import_module(f"tiered.learning.{module}"), name)
