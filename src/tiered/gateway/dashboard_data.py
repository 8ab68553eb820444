"""GET /v1/tiered/dashboard/<view>: the /ui dashboard's data (`tiered.telemetry.dashboard`), for the gateway.

Each call brings the hourly roll-up up to date first (at most every `REFRESH_S`; it only recomputes
the last hour or two), then answers from it. Query parameters: `since` (7d, 24h, an ISO date;
default 7d), `route` and `key` (exact names) filter every view.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Mapping
from typing import Any

from tiered.errors import ConfigError
from tiered.gateway.admin import read_log
from tiered.gateway.core import Core
from tiered.policy_specs import Ref
from tiered.telemetry import dashboard
from tiered.telemetry.rollup import refresh
from tiered.telemetry.spend import parse_since
from tiered.telemetry.sql_sink import SqlSink

REFRESH_S = 2.0
VIEWS = ("overview", "routes", "budgets", "recent", "filters", "learning")
_refreshed: weakref.WeakKeyDictionary[Core, float] = weakref.WeakKeyDictionary()


def routers(core: Core) -> dict[str, str]:
    """What answers each route, as the config says: a policy kind, a named policy or a model."""
    out = {}
    for name, target in core.config.routes.items():
        if isinstance(target, str):
            out[name] = f"model {target}"
        elif isinstance(target, Ref):
            out[name] = f"policy {target.name}"
        else:
            out[name] = type(target).__name__.removesuffix("Spec").lower()
    return out


def budgets(core: Core, spent: Mapping[str, Mapping[str, float]]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    s = core.settings
    named = core.keyring.named_keys()
    for k in named:
        day = k.usd_per_day if k.usd_per_day is not None else s.usd_per_day
        rows.append({"who": k.name, "kind": "key", "team": k.team, "status": k.to_json()["status"],
                     "usd_per_day": None if day is None else float(day),
                     "usd_per_month": None if k.usd_per_month is None else float(k.usd_per_month),
                     "spent_day": spent.get(k.name, {}).get("day", 0.0),
                     "spent_month": spent.get(k.name, {}).get("month", 0.0)})
    for who, money in sorted(spent.items()):  # flat-list keys seen in the log, with the gateway-wide budget
        if who.startswith("team:") or any(k.name == who for k in named):
            continue
        rows.append({"who": who, "kind": "key", "team": None, "status": "active",
                     "usd_per_day": None if s.usd_per_day is None else float(s.usd_per_day), "usd_per_month": None,
                     "spent_day": money["day"], "spent_month": money["month"]})
    for team in s.teams.values():
        money = spent.get(f"team:{team.name}", {})
        rows.append({"who": team.name, "kind": "team", "team": team.name, "status": "active",
                     "usd_per_day": None if team.usd_per_day is None else float(team.usd_per_day),
                     "usd_per_month": None if team.usd_per_month is None else float(team.usd_per_month),
                     "spent_day": money.get("day", 0.0), "spent_month": money.get("month", 0.0)})
    return rows


async def view(core: Core, name: str, q: Mapping[str, str]) -> Any:
    if name not in VIEWS:
        raise ConfigError(f"view: one of {', '.join(VIEWS)}, not {name!r}")
    if name == "learning":  # the router registry, not the request log
        from tiered.gateway.dashboard_learning import learning_view

        return await learning_view(core, q)
    since = parse_since(q.get("since") or "7d")
    assert since is not None
    f = dashboard.Filters(since=since, route=q.get("route") or None, key=q.get("key") or None)
    table = routers(core)

    def run(log: SqlSink) -> Any:
        now = time.time()
        if now - _refreshed.get(core, 0.0) >= REFRESH_S:
            refresh(log, now=now)
            _refreshed[core] = now
        if name == "overview":
            return dashboard.overview(log, f, now=now)
        if name == "routes":
            return dashboard.routes(log, f, routers=table)
        if name == "budgets":
            return budgets(core, dashboard.spend_by_key(log, now=now))
        if name == "recent":
            return dashboard.recent(log, f)
        keys = sorted({*(k.name for k in core.keyring.named_keys()), *dashboard.spend_by_key(log, now=now)})
        return {"routes": sorted({*core.config.routes, *(r["route"] for r in dashboard.routes(log, f))}),
                "keys": [k for k in keys if not k.startswith("team:")]}

    return await read_log(core, run)
