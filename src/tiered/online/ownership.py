"""What the gateway writes to the request log beside each record: who asked, what, and a cascade's weak labels.

`SideRows` is a sink placed right after the SQL sink in the gateway's recorder, so it runs on the same
writer thread, after the request row is stored. The gateway `note`s a request before its policy runs;
when the record arrives, `SideRows` writes:

- `request_keys`: the caller id of the key that made the request (`tiered.gateway.auth.caller_id`: a short
  digest, never the key; "anonymous" on an open gateway), which feedback is checked against;
- `request_prompts`: the prompt text and declared task, only on learning routes with `keep_prompts`;
- weak labels from a cascade's outcome (`cascade_labels`): every tier that answered with a confidence
  reading gets 1.0 when its answer was served, 0.0 when the cascade escalated past it (or stopped there
  only because a stop condition held). Why it escalated stays in the attempt's reason.

Notes for requests that never produce a record (refused before the policy ran) are dropped oldest first
past `MAX_PENDING`.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tiered.records import Record
from tiered.telemetry import sql

log = logging.getLogger("tiered.online")
MAX_PENDING = 10_000
CASCADE_CONFIDENCE = "confidence."
"""The prefix of a cascade's confidence scores in `Decision.scores` (`confidence.haiku`)."""


@dataclass(frozen=True, slots=True)
class Note:
    key_name: str
    prompt: str | None
    task: str | None
    cascade_labels: bool


def cascade_labels(record: Record) -> list[tuple[str, str, float]]:
    """(tier, model, score) weak labels from a cascade's record: see the module docstring."""
    read = {k[len(CASCADE_CONFIDENCE):] for k in record.decision.scores if k.startswith(CASCADE_CONFIDENCE)}
    if not read:
        return []
    out: list[tuple[str, str, float]] = []
    answers = [a for a in record.attempts if a.purpose == "answer" and a.ok and a.tier in read]
    stopped = "stopped at " in record.decision.reason
    for a in answers:
        assert a.tier is not None
        later = record.attempts[record.attempts.index(a) + 1:]
        escalated = any(b.kind == "escalation" for b in later)
        served = record.model == a.model and not escalated
        if escalated or (served and stopped):
            out.append((a.tier, a.model, 0.0))
        elif served:
            out.append((a.tier, a.model, 1.0))
    return out


class SideRows:
    """A sink writing `request_keys`, `request_prompts` and cascade labels through a SQL sink's connection."""

    def __init__(self, store: Any, *, clock: Callable[[], float] | None = None) -> None:
        self.store = store
        """A SQL sink (`SqliteSink` / `PostgresSink`): the connection, its lock and its placeholder style."""
        self._pending: OrderedDict[str, Note] = OrderedDict()
        self._lock = threading.Lock()
        self._insert_key = sql.insert("request_keys", ("trace_id", "key_name"), store.style)

    def __repr__(self) -> str:
        return f"SideRows({self.store!r})"

    def note(self, trace_id: str, note: Note) -> None:
        with self._lock:
            self._pending[trace_id] = note
            while len(self._pending) > MAX_PENDING:
                self._pending.popitem(last=False)

    def pending(self, trace_id: str) -> bool:
        with self._lock:
            return trace_id in self._pending

    def emit(self, record: Record) -> None:
        with self._lock:
            note = self._pending.pop(record.trace_id, None)
        if note is None:
            return
        with self.store._lock:
            self.store._db.execute(self._insert_key, {"trace_id": record.trace_id, "key_name": note.key_name})
        if note.prompt is not None:
            self.store.add_prompt(record.trace_id, note.prompt, note.task, record.created_at)
        if note.cascade_labels and record.outcome == "ok":
            for tier, model, score in cascade_labels(record):
                self.store.add_label(record.trace_id, score, source="cascade", tier=tier, model=model)

    def close(self) -> None:
        """The store is one of the recorder's sinks and is closed as such."""


def served(store: Any, trace_id: str) -> tuple[bool, str | None, str | None, str | None]:
    """(found, key_name, tier, model) of a logged request."""
    p = sql.placeholder("trace_id", store.style)
    statement = ("SELECT r.tier AS tier, r.model AS model, k.key_name AS key_name FROM requests r "
                 f"LEFT JOIN request_keys k ON k.trace_id = r.trace_id WHERE r.trace_id = {p}")
    with store._lock:
        rows = store._db.execute(statement, {"trace_id": trace_id}).fetchall()
    if not rows:
        return False, None, None, None
    row = rows[0]
    return True, row["key_name"], row["tier"], row["model"]
