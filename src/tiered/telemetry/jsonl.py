"""A JSON Lines sink: one record a line, appended; for shipping logs elsewhere or reading with jq.

Each line is `Record.to_json()` (float `cost_usd` for tools, exact `cost_usd_exact` strings for the
books), so `read_jsonl` rebuilds the very same `Record`. The file is opened per write, in append
mode, so several processes can share it and a crash loses at most the line being written.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from tiered.records import Record
from tiered.telemetry.rows import record_from_json, record_to_json


class JsonlSink:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"JsonlSink({str(self.path)!r})"

    def emit(self, record: Record) -> None:
        line = json.dumps(record_to_json(record), sort_keys=True, separators=(",", ":")) + "\n"
        with self._lock, self.path.open("a", encoding="utf-8") as fh:
            fh.write(line)

    def records(self) -> list[Record]:
        return list(read_jsonl(self.path))

    def close(self) -> None:
        """Nothing is held open between writes."""


def read_jsonl(path: str | os.PathLike[str]) -> Iterator[Record]:
    with Path(path).open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield record_from_json(json.loads(line))
