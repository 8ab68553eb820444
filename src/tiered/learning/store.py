"""Labels and prompts in the request log (migration m010_learning), on both SQL sinks, and examples read back.

`LabelStore` is mixed into `SqlSink`, so a `SqliteSink` or a `PostgresSink` has `add_label`, `add_prompt`,
`examples` and `prompts`. `examples_from_log(db_or_dsn)` opens the log (a SQLite path, or a `postgresql://` DSN)
and returns the labelled examples.

How labels become per-tier outcomes (`Example.outcomes`, keyed by tier name and by model id when known):
- feedback / manual: the served answer's quality, `score`.
- judge: `score` is 1.0 if `tier`'s answer is as good as `compared_tier`'s, else 0.0. The compared answer is the
  reference (1.0) and `tier`'s outcome is the score. A judgement that did not survive swapping the answers
  (`agreement` = 0) counts as 0.5: the judge could not tell them apart.
- cascade: a weak label for the cheap `tier` only: 1.0 it passed, 0.0 it was escalated.
Several labels for one answer are averaged.
"""

from __future__ import annotations

import os
import re
import threading
from collections import defaultdict
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, ClassVar

from tiered.learning.examples import Example
from tiered.telemetry import sql
from tiered.telemetry.quality import check_score

SOURCES: tuple[str, ...] = ("feedback", "judge", "cascade", "manual")
_KEY_VALUE_DSN = re.compile(r"^\s*(host|hostaddr|port|dbname|user|service)=\S*(\s+\w+=\S*)*\s*$")
LABEL_COLUMNS: tuple[str, ...] = ("trace_id", "created_at", "source", "tier", "model", "score", "compared_tier",
                                  "compared_model", "key_name", "judge_model", "judge_cost_usd", "agreement")


class LabelStore:
    """Write labels and prompts, read labelled examples: the methods a SQL sink gains for learning."""

    style: ClassVar[sql.ParamStyle]
    _lock: threading.Lock
    _clock: Callable[[], float]
    _db: Any

    def add_label(self, trace_id: str, score: float, *, source: str, tier: str | None = None,
                  model: str | None = None, compared_tier: str | None = None, compared_model: str | None = None,
                  key_name: str | None = None, judge_model: str | None = None,
                  judge_cost_usd: Decimal | str | None = None, agreement: float | None = None,
                  created_at: float | None = None) -> None:
        """Append one label (see the module docstring for what `score` means per `source`).

        The trace is not required to be in `requests` yet: a request row may still be on its way to the log.
        """
        if source not in SOURCES:
            raise ValueError(f"label source must be one of {', '.join(SOURCES)}, got {source!r}")
        if not trace_id:
            raise ValueError("a label needs a trace id")
        if source == "judge" and compared_tier is None and compared_model is None:
            raise ValueError("a judge label names the answer it was compared with (compared_tier/compared_model)")
        row = {"trace_id": trace_id, "created_at": self._clock() if created_at is None else float(created_at),
               "source": source, "tier": tier, "model": model, "score": check_score(score),
               "compared_tier": compared_tier, "compared_model": compared_model, "key_name": key_name,
               "judge_model": judge_model, "judge_cost_usd": None if judge_cost_usd is None else str(judge_cost_usd),
               "agreement": None if agreement is None else check_score(agreement)}
        with self._lock:
            self._db.execute(sql.insert("labels", LABEL_COLUMNS, self.style), row)

    def add_prompt(self, trace_id: str, prompt: str, task: str | None = None,
                   created_at: float | None = None) -> None:
        """Keep a request's prompt text for learning (once per trace: a second call is ignored)."""
        p = sql.placeholder
        statement = (f"INSERT INTO request_prompts (trace_id, prompt, task, created_at) VALUES "
                     f"({p('trace_id', self.style)}, {p('prompt', self.style)}, {p('task', self.style)}, "
                     f"{p('created_at', self.style)}) ON CONFLICT (trace_id) DO NOTHING")
        params = {"trace_id": trace_id, "prompt": prompt, "task": task,
                  "created_at": self._clock() if created_at is None else float(created_at)}
        with self._lock:
            self._db.execute(statement, params)

    def prompts(self, route: str | None = None, since: float | None = None) -> list[Example]:
        """Every kept prompt (of `route`, from `since`), labelled or not, oldest first, with no outcomes."""
        return [Example(prompt=r["prompt"], task=r["task"], trace_id=r["trace_id"], created_at=r["created_at"])
                for r in self._prompt_rows(route, since)]

    def examples(self, route: str | None = None, since: float | None = None) -> list[Example]:
        """The kept prompts (of `route`, from `since`) that have at least one label, as examples, oldest first."""
        rows = self._prompt_rows(route, since)
        with self._lock:
            labels = self._db.execute(f"SELECT {', '.join(LABEL_COLUMNS)} FROM labels ORDER BY id").fetchall()
        by_trace: defaultdict[str, list[Mapping[str, Any]]] = defaultdict(list)
        for label in labels:
            by_trace[label["trace_id"]].append(label)
        out = []
        for r in rows:
            found = by_trace.get(r["trace_id"])
            if not found:
                continue
            outcomes = outcomes_of(found)
            if not outcomes:
                continue
            sources = "+".join(sorted({str(lab["source"]) for lab in found}))
            out.append(Example(prompt=r["prompt"], task=r["task"], outcomes=outcomes, trace_id=r["trace_id"],
                               created_at=r["created_at"], source=sources))
        return out

    def _prompt_rows(self, route: str | None, since: float | None) -> list[Mapping[str, Any]]:
        p = sql.placeholder
        where = []
        params: dict[str, Any] = {}
        if route is not None:
            where.append(f"r.route = {p('route', self.style)}")
            params["route"] = route
        if since is not None:
            where.append(f"p.created_at >= {p('since', self.style)}")
            params["since"] = float(since)
        statement = ("SELECT p.trace_id AS trace_id, p.prompt AS prompt, COALESCE(p.task, r.task) AS task, "
                     "p.created_at AS created_at FROM request_prompts p "
                     "LEFT JOIN requests r ON r.trace_id = p.trace_id")
        if where:
            statement += " WHERE " + " AND ".join(where)
        statement += " ORDER BY p.created_at, p.trace_id"
        with self._lock:
            rows: list[Mapping[str, Any]] = self._db.execute(statement, params).fetchall()
        return rows


def outcomes_of(labels: list[Mapping[str, Any]]) -> dict[str, float]:
    """Per-answer quality from one trace's label rows (see the module docstring), averaged per answer."""
    sums: defaultdict[str, list[float]] = defaultdict(list)

    def put(tier: Any, model: Any, value: float) -> None:
        for name in {tier, model} - {None}:
            sums[str(name)].append(value)

    for lab in labels:
        score = float(lab["score"])
        if lab["source"] == "judge":
            if lab["agreement"] is not None and float(lab["agreement"]) == 0.0:
                score = 0.5
            put(lab["tier"], lab["model"], score)
            put(lab["compared_tier"], lab["compared_model"], 1.0)
        else:
            put(lab["tier"], lab["model"], score)
    return {k: sum(v) / len(v) for k, v in sums.items()}


def is_postgres_dsn(db_or_dsn: str | os.PathLike[str]) -> bool:
    """A `postgres(ql)://` URL or a libpq `key=value` string (`host=... dbname=...`), not a file path."""
    if not isinstance(db_or_dsn, str):
        return False
    return db_or_dsn.startswith(("postgres://", "postgresql://")) or bool(_KEY_VALUE_DSN.match(db_or_dsn))


def open_log(db_or_dsn: str | os.PathLike[str] | None, *, schema: str = "tiered") -> Any:
    """The request log as an open sink: a `postgresql://` DSN (tables in `schema`), else a SQLite path (None: the
    default database). The caller closes it."""
    if db_or_dsn is not None and is_postgres_dsn(db_or_dsn):
        from tiered.telemetry.postgres import PostgresSink

        return PostgresSink(str(db_or_dsn), schema=schema)
    from tiered.telemetry.sqlite import SqliteSink

    return SqliteSink(db_or_dsn)


def examples_from_log(db_or_dsn: str | os.PathLike[str] | LabelStore | None, route: str | None = None,
                      since: float | None = None, *, schema: str = "tiered") -> list[Example]:
    """The labelled examples in a request log (a path, a DSN or an open sink), of `route`, from `since`."""
    return _read(db_or_dsn, schema, lambda store: store.examples(route, since))


def prompts_from_log(db_or_dsn: str | os.PathLike[str] | LabelStore | None, route: str | None = None,
                     since: float | None = None, *, schema: str = "tiered") -> list[Example]:
    """Every kept prompt of a request log, labelled or not (what clusters are fitted on)."""
    return _read(db_or_dsn, schema, lambda store: store.prompts(route, since))


def _read(db_or_dsn: str | os.PathLike[str] | LabelStore | None, schema: str,
          read: Callable[[LabelStore], list[Example]]) -> list[Example]:
    """`read` on an open sink as given, else on the log at a path or DSN, opened for it and closed after."""
    if isinstance(db_or_dsn, LabelStore):
        return read(db_or_dsn)
    sink = open_log(db_or_dsn, schema=schema)
    try:
        return read(sink)
    finally:
        sink.close()
