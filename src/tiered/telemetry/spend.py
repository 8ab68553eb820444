"""Spend grouped by key, team, route, tier, model or day, summed in SQL over the request log.

`tiered stats --by key --since 7d` and `GET /v1/tiered/stats?by=key&since=7d` print the same rows:
requests, exact cost (summed as integer nano-dollars, so no float drift), cost per request, error,
escalation and fallback rates, mean latency. One `GROUP BY` over the `requests` table, restricted to
`created_at >= since` (indexed, m020), works the same on SQLite and PostgreSQL; days are UTC dates.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tiered.errors import ConfigError
from tiered.pricing import format_usd
from tiered.telemetry import sql
from tiered.telemetry.rows import NANO
from tiered.telemetry.sql_sink import SqlSink

GROUPS = ("key", "team", "route", "tier", "model", "day")
_SINCE = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400}


def parse_since(text: str | None, now: float | None = None) -> float | None:
    """`7d`, `24h`, `30m`, `2w` before now, or an ISO 8601 date or time; None for no bound."""
    if text is None or not text.strip():
        return None
    now = time.time() if now is None else now
    m = _SINCE.fullmatch(text.strip())
    if m:
        return now - float(m.group(1)) * _UNITS[m.group(2)]
    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as e:
        raise ConfigError(f"since: expected a span like 7d, 24h, 30m, 2w or an ISO 8601 date, got {text!r}") from e
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


def group_expr(by: str, dialect: str) -> str:
    if by not in GROUPS:
        raise ConfigError(f"by: one of {', '.join(GROUPS)}, not {by!r}")
    if by == "day":
        if dialect == "postgres":
            return "to_char(to_timestamp(created_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
        return "date(created_at, 'unixepoch')"
    column = {"key": "key_name", "team": "team", "route": "route", "tier": "tier", "model": "model"}[by]
    return f"COALESCE({column}, '(none)')"


@dataclass(frozen=True, slots=True)
class SpendRow:
    group: str
    requests: int
    cost_usd: Decimal
    errors: int
    escalated: int
    fell_back: int
    mean_latency_ms: float

    @property
    def cost_per_request_usd(self) -> Decimal:
        return self.cost_usd / self.requests if self.requests else Decimal(0)

    def to_json(self) -> dict[str, Any]:
        n = self.requests or 1
        return {
            "group": self.group, "requests": self.requests, "cost_usd": float(self.cost_usd),
            "cost_usd_exact": format_usd(self.cost_usd), "cost_per_request_usd": float(self.cost_per_request_usd),
            "error_rate": self.errors / n, "escalation_rate": self.escalated / n, "fallback_rate": self.fell_back / n,
            "mean_latency_ms": self.mean_latency_ms,
        }


def spend_by(log: SqlSink, by: str, since: float | None = None) -> list[SpendRow]:
    """One row per group, dearest first (ties by name; days in date order)."""
    dialect = str(getattr(log, "dialect", "sqlite"))
    grp = group_expr(by, dialect)
    where = f" WHERE created_at >= {sql.placeholder('since', log.style)}" if since is not None else ""
    order = "grp" if by == "day" else "cost DESC, grp"
    statement = (f"SELECT {grp} AS grp, COUNT(*) AS n, SUM(cost_nano_usd) AS cost, "
                 "SUM(CASE WHEN outcome <> 'ok' THEN 1 ELSE 0 END) AS errors, SUM(escalated) AS escalated, "
                 f"SUM(fell_back) AS fell_back, AVG(latency_ms) AS latency FROM requests{where} "
                 f"GROUP BY grp ORDER BY {order}")
    with log._lock:
        rows = log._fetch(statement, {"since": since} if since is not None else {})
    return [SpendRow(group=str(r["grp"]), requests=int(r["n"]), cost_usd=Decimal(int(r["cost"] or 0)) * NANO,
                     errors=int(r["errors"] or 0), escalated=int(r["escalated"] or 0),
                     fell_back=int(r["fell_back"] or 0), mean_latency_ms=float(r["latency"] or 0.0))
            for r in rows]


def spend_table(by: str, rows: list[SpendRow]) -> list[str]:
    header = (f"{by:<24} {'requests':>9} {'cost $':>12} {'$/request':>11} {'errors':>7} {'escal.':>7} "
              f"{'fallbk':>7} {'mean ms':>8}")
    lines = [header, "-" * len(header)]
    for r in rows:
        j = r.to_json()
        lines.append(f"{r.group:<24} {r.requests:>9} {float(r.cost_usd):>12.6f} {j['cost_per_request_usd']:>11.6f} "
                     f"{100 * j['error_rate']:>6.1f}% {100 * j['escalation_rate']:>6.1f}% "
                     f"{100 * j['fallback_rate']:>6.1f}% {r.mean_latency_ms:>8.0f}")
    total = sum((r.cost_usd for r in rows), Decimal(0))
    lines.append("-" * len(header))
    lines.append(f"{'total':<24} {sum(r.requests for r in rows):>9} {float(total):>12.6f}")
    return lines
