"""What gateway tests share besides the fixture: the test key, the default route, the served handle.

Kept out of conftest.py so that tests import it by a name no other test directory uses.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tiered.gateway.app import Gateway
from tiered.records import Record
from tiered.telemetry.sqlite import SqliteSink

KEY = "gw-test-key-0123456789"
FALLBACK_ROUTE = """
[routes.default]
policy = "fallback"
chain = ["opus", "sonnet", "haiku"]
retries = 0
"""


@dataclass
class Served:
    url: str
    app: Gateway
    db: Path

    def flush(self) -> None:
        self.app.core.recorder.flush()

    def records(self, expected: int, timeout_s: float = 5.0) -> list[Record]:
        """The stored records once `expected` are there: a stream's record is written just after its
        last byte, which the client may read first."""
        deadline = time.monotonic() + timeout_s
        with SqliteSink(self.db) as log:
            while True:
                self.flush()
                found = log.records()
                if len(found) >= expected or time.monotonic() > deadline:
                    return found
                time.sleep(0.01)


ServeGateway = Callable[..., Served]


def router_file(path: Path, *, apgr: float, ci: tuple[float, float], labels: int, created_at: float) -> Path:
    """A router file as `tiered train --from-log` leaves it: the shipped prior, and metadata with a held-out check."""
    from tiered.learning.router import AdaptedRouter
    from tiered.scoring.learned import LearnedScorer

    AdaptedRouter(prior=LearnedScorer.default(),
                  standardise={"prior_mean": 0.0, "prior_sd": 1.0, "length_mean": 0.0, "length_sd": 1.0},
                  coef={"bias": 0.0, "prior": 1.0, "prior2": 0.0, "length": 0.1 * labels / 1000},
                  metadata={"weak": "haiku", "strong": "opus", "labels": labels, "prior": "shipped-abc123",
                            "window": [created_at - 86400, created_at], "created_at": created_at, "route": "learn",
                            "heldout": {"n": 120, "apgr": apgr, "apgr_ci": list(ci), "cpt50": 0.4,
                                        "cost_ratio_at_target": 0.5 - apgr / 4, "target": 0.95}}).save(path)
    return path
