"""Records as flat rows (for the SQL sinks) and as JSON objects (for JSONL), and back, exactly.

A `Record` becomes one `requests` row plus one `attempts` row per attempt. Money is stored twice:
as exact decimal text (`cost_usd`, the source of truth on the way back) and as integer
nano-dollars (`cost_nano_usd`) so SQL can sum and sort without floating point. A nano-dollar is
fine enough for every catalog price: a million-token price with cents resolves to 1e-8 USD a token.

Nothing here touches a database; the SQL sinks and `stats` share this one mapping so the schema and
the record cannot drift apart.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, get_args

from tiered.pricing import format_usd
from tiered.records import Attempt, AttemptKind, Decision, Record

NANO = Decimal("0.000000001")

REQUEST_COLUMNS: tuple[str, ...] = (
    "trace_id", "created_at", "route", "policy", "task", "requested_model", "model", "tier", "outcome",
    "decision_policy", "decision_tier", "decision_reason", "decision_scores",
    "cost_usd", "cost_nano_usd", "latency_ms", "degraded", "escalated", "fell_back", "quality",
    "key_name", "team", "ttft_ms",
)
ATTEMPT_COLUMNS: tuple[str, ...] = (
    "trace_id", "idx", "model", "tier", "purpose", "outcome", "input_tokens", "output_tokens",
    "cache_read_input_tokens", "cache_creation_input_tokens", "cost_usd", "cost_nano_usd",
    "latency_ms", "ttft_ms", "status", "reason", "kind",
)

Row = dict[str, Any]
Values = list[Any]
RecordRows = tuple[Values, list[Values]]
"""One record as the batch writers store it: its `requests` values and its `attempts` values, positional
(in `REQUEST_COLUMNS` / `ATTEMPT_COLUMNS` order), which is what a spool line holds."""
CREATED_AT = REQUEST_COLUMNS.index("created_at")


def to_nano_usd(amount: Decimal) -> int:
    """Whole nano-dollars, rounded half-up (exact for every price the catalog can express)."""
    return int((amount / NANO).to_integral_value(rounding=ROUND_HALF_UP))


def request_row(record: Record) -> Row:
    d = record.decision
    return {
        "trace_id": record.trace_id,
        "created_at": record.created_at,
        "route": record.route,
        "policy": record.policy,
        "task": record.task,
        "requested_model": record.requested_model,
        "model": record.model,
        "tier": record.tier,
        "outcome": record.outcome,
        "decision_policy": d.policy,
        "decision_tier": d.tier,
        "decision_reason": d.reason,
        "decision_scores": json.dumps(dict(d.scores), sort_keys=True),
        "cost_usd": format_usd(record.cost_usd),
        "cost_nano_usd": to_nano_usd(record.cost_usd),
        "latency_ms": record.latency_ms,
        "degraded": int(record.degraded),
        "escalated": int(record.escalated),
        "fell_back": int(record.fell_back),
        "quality": record.quality,
        "key_name": record.key_name,
        "team": record.team,
        "ttft_ms": _served_ttft(record),
    }


def _served_ttft(record: Record) -> float | None:
    """The time to first token of the attempt that served the answer (a stream's), else None."""
    for a in reversed(record.attempts):
        if a.ok and a.model == record.model:
            return a.ttft_ms
    return None


def attempt_rows(record: Record) -> list[Row]:
    return [
        {
            "trace_id": record.trace_id,
            "idx": i,
            "model": a.model,
            "tier": a.tier,
            "purpose": a.purpose,
            "outcome": a.outcome,
            "input_tokens": a.input_tokens,
            "output_tokens": a.output_tokens,
            "cache_read_input_tokens": a.cache_read_input_tokens,
            "cache_creation_input_tokens": a.cache_creation_input_tokens,
            "cost_usd": format_usd(a.cost_usd),
            "cost_nano_usd": to_nano_usd(a.cost_usd),
            "latency_ms": a.latency_ms,
            "ttft_ms": a.ttft_ms,
            "status": a.status,
            "reason": a.reason,
            "kind": a.kind,
        }
        for i, a in enumerate(record.attempts)
    ]


def record_values(record: Record) -> RecordRows:
    """The record's rows as positional values (the dicts above are built in column order)."""
    return list(request_row(record).values()), [list(a.values()) for a in attempt_rows(record)]


def attempt_from_row(row: Mapping[str, Any]) -> Attempt:
    ttft = row["ttft_ms"]
    status = row["status"]
    return Attempt(
        model=str(row["model"]),
        tier=row["tier"],
        purpose=str(row["purpose"]),
        outcome=str(row["outcome"]),
        input_tokens=int(row["input_tokens"]),
        output_tokens=int(row["output_tokens"]),
        cache_read_input_tokens=int(row["cache_read_input_tokens"]),
        cache_creation_input_tokens=int(row["cache_creation_input_tokens"]),
        cost_usd=Decimal(str(row["cost_usd"])),
        latency_ms=float(row["latency_ms"]),
        ttft_ms=None if ttft is None else float(ttft),
        status=None if status is None else int(status),
        reason=str(row["reason"] or ""),
        kind=_kind(row["kind"]),
    )


def _kind(value: Any) -> AttemptKind:
    """A stored attempt kind; rows written before m004 (NULL) read as "first", the column's default."""
    return value if value in get_args(AttemptKind) else "first"


def record_from_rows(row: Mapping[str, Any], attempts: Sequence[Mapping[str, Any]],
                     quality: float | None = None) -> Record:
    """Rebuild a `Record`; `quality`, when given (the latest label), overrides the stored one."""
    scores = json.loads(row["decision_scores"] or "{}")
    stored_quality = row["quality"]
    if quality is None and stored_quality is not None:
        quality = float(stored_quality)
    return Record(
        trace_id=str(row["trace_id"]),
        route=str(row["route"]),
        policy=str(row["policy"]),
        decision=Decision(
            policy=str(row["decision_policy"]),
            tier=row["decision_tier"],
            reason=str(row["decision_reason"]),
            scores={str(k): float(v) for k, v in scores.items()},
        ),
        attempts=tuple(attempt_from_row(a) for a in sorted(attempts, key=lambda a: int(a["idx"]))),
        cost_usd=Decimal(str(row["cost_usd"])),
        latency_ms=float(row["latency_ms"]),
        degraded=bool(row["degraded"]),
        created_at=float(row["created_at"]),
        model=row["model"],
        tier=row["tier"],
        requested_model=row["requested_model"],
        task=row["task"],
        escalated=bool(row["escalated"]),
        fell_back=bool(row["fell_back"]),
        outcome=str(row["outcome"]),
        quality=quality,
        key_name=row.get("key_name"),
        team=row.get("team"),
    )


def record_to_json(record: Record) -> dict[str, Any]:
    """`Record.to_json` plus the exact decimal cost of every attempt (`cost_usd_exact`)."""
    data = record.to_json()
    for a, src in zip(data["attempts"], record.attempts, strict=True):
        a["cost_usd_exact"] = format_usd(src.cost_usd)
    return data


def record_from_json(data: Mapping[str, Any]) -> Record:
    """The inverse of `record_to_json`: exact costs come from the `*_exact` strings."""
    d = data["decision"]
    attempts = tuple(
        Attempt(
            model=a["model"], tier=a["tier"], purpose=a["purpose"], outcome=a["outcome"],
            input_tokens=a["input_tokens"], output_tokens=a["output_tokens"],
            cache_read_input_tokens=a["cache_read_input_tokens"],
            cache_creation_input_tokens=a["cache_creation_input_tokens"],
            cost_usd=Decimal(str(a.get("cost_usd_exact", a["cost_usd"]))),
            latency_ms=a["latency_ms"], ttft_ms=a["ttft_ms"], status=a["status"], reason=a["reason"],
            kind=_kind(a.get("kind")),
        )
        for a in data["attempts"]
    )
    return Record(
        trace_id=data["trace_id"], route=data["route"], policy=data["policy"],
        decision=Decision(policy=d["policy"], tier=d["tier"], reason=d["reason"], scores=dict(d["scores"])),
        attempts=attempts,
        cost_usd=Decimal(str(data.get("cost_usd_exact", data["cost_usd"]))),
        latency_ms=data["latency_ms"], degraded=data["degraded"], created_at=data["created_at"],
        model=data["model"], tier=data["tier"], requested_model=data["requested_model"], task=data["task"],
        escalated=data["escalated"], fell_back=data["fell_back"], outcome=data["outcome"], quality=data["quality"],
        key_name=data.get("key_name"), team=data.get("team"), traceparent=data.get("traceparent"),
    )
