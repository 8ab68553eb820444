"""GET /v1/tiered/dashboard/learning: the learning loop as the /ui dashboard shows it, per learning route.

For each route that learns (`[learning] routes`, or a route the registry knows): the router in use (the version
this gateway has installed, or "configured"), the registry's current version, every version with its metadata
(created, labels and their window, prior, held-out APGR with its bootstrap interval, cost at the target, and its
state: current / promoted before / rolled back / not promoted), and the learning curve: the held-out APGR of the
successive versions over time, read from the versions' own metadata. It reads the registry's index and nothing
else (no request log), on a worker thread. Without `[learning]` it answers `{"enabled": false, "routes": []}`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tiered.online.registry import RouterRegistry, Version

if TYPE_CHECKING:
    from tiered.gateway.core import Core


def _state(v: Version, current: str | None, history: list[str]) -> str:
    if v.id == current:
        return "current"
    if v.id in history:
        return "promoted before"
    if v.promoted_at is not None:
        return "rolled back"
    return "not promoted"


def _version(v: Version, current: str | None, history: list[str]) -> dict[str, Any]:
    m = v.metadata
    heldout = m.get("heldout") if isinstance(m.get("heldout"), Mapping) else None
    ci = heldout.get("apgr_ci") if heldout else None
    verification = v.verification or {}
    against = verification.get("current") if isinstance(verification.get("current"), Mapping) else None
    return {"id": v.id, "state": _state(v, current, history),
            "created_at": m.get("created_at") or v.added_at, "added_at": v.added_at, "promoted_at": v.promoted_at,
            "labels": m.get("labels"), "window": m.get("window"), "prior": m.get("prior"),
            "weak": m.get("weak"), "strong": m.get("strong"),
            "heldout_n": heldout.get("n") if heldout else None,
            "apgr": heldout.get("apgr") if heldout else None,
            "apgr_ci": list(ci) if isinstance(ci, list | tuple) and len(ci) == 2 else None,
            "cost_ratio_at_target": heldout.get("cost_ratio_at_target") if heldout else None,
            "target": heldout.get("target") if heldout else None,
            "replaced_apgr": against.get("apgr") if against else None,
            "better": verification.get("better"), "cuts": None if v.cuts is None else list(v.cuts)}


def route_view(registry: RouterRegistry | None, route: str, installed: str | None,
               has_router: bool) -> dict[str, Any]:
    """One learning route: what runs, its versions (oldest first) and its learning curve."""
    versions: list[Version] = []
    current: str | None = None
    history: list[str] = []
    if registry is not None:
        versions = registry.versions(route)
        history = registry.history(route)
        current = history[-1] if history else None
    rows = [_version(v, current, history) for v in versions]
    curve = sorted(({"t": r["created_at"], "version": r["id"], "apgr": r["apgr"], "apgr_ci": r["apgr_ci"],
                     "labels": r["labels"], "state": r["state"]} for r in rows if r["apgr"] is not None),
                   key=lambda p: (p["t"], p["version"]))
    return {"route": route, "in_use": installed or "configured", "registry_current": current,
            "has_router": has_router, "versions": rows, "curve": curve}


def _read(core: Core, route_filter: str | None) -> dict[str, Any]:
    learning = core.learning
    settings = None if learning is None else learning.settings
    if learning is None or settings is None:
        return {"enabled": False, "registry": None, "target": None, "routes": []}
    registry = learning.registry
    names = {r for r in core.config.routes if settings.learns(r)}
    if registry is not None:
        names |= set(registry.routes())
    if route_filter:
        names &= {route_filter}
    routes = []
    for name in sorted(names):
        installer = learning.installers.get(name)
        routes.append(route_view(registry, name, None if installer is None else installer.installed,
                                 installer is not None))
    return {"enabled": True, "registry": settings.registry, "target": settings.target.describe(),
            "interval_s": settings.interval_s, "routes": routes}


async def learning_view(core: Core, q: Mapping[str, str]) -> dict[str, Any]:
    """The view's JSON; a registry that cannot be read raises ConfigError (a 400 in the API's shape)."""
    return await asyncio.to_thread(_read, core, q.get("route") or None)
