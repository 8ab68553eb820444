"""Quality labels that arrive after the request: a human's verdict or an automatic judge's score.

Labels live in their own append-only `quality` table, keyed by trace id; the latest label wins.
The request row is never rewritten, so the log stays a faithful record of what happened, and a
relabelling is itself visible history.
"""

from __future__ import annotations

import math
import os
from typing import Protocol, runtime_checkable

from tiered.errors import TieredError


class UnknownTrace(TieredError, KeyError):
    """A quality label names a trace id the log has never seen."""

    def __str__(self) -> str:
        return f"unknown trace id {self.args[0]!r}"


@runtime_checkable
class QualityStore(Protocol):
    """A sink that can attach labels (SQLite, PostgreSQL). JSONL cannot: it is write-only."""

    def record_quality(self, trace_id: str, score: float, *, source: str | None = None) -> None: ...


def check_score(score: float) -> float:
    """Scores are in [0, 1], like the datasets' quality signal, so stats can mix the two."""
    value = float(score)
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise ValueError(f"quality score must be in [0, 1], got {score!r}")
    return value


def record_quality(trace_id: str, score: float, db: str | os.PathLike[str] | QualityStore | None = None,
                   *, source: str | None = None) -> None:
    """Label request `trace_id` with `score` in the log `db` (a path, a sink, or the default database)."""
    if isinstance(db, QualityStore):
        db.record_quality(trace_id, score, source=source)
        return
    from tiered.telemetry.sqlite import SqliteSink  # only the caller that labels pays for sqlite3

    with SqliteSink(db) as sink:
        sink.record_quality(trace_id, score, source=source)
