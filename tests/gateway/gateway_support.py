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
