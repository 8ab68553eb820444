"""`GET /v1/tiered/dashboard/learning` over real HTTP: per learning route, the router the gateway runs, the
registry's versions with their metadata, and the learning curve, as versions are promoted and rolled back
through the real registry code while the gateway serves."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx2
from gateway_support import KEY, ServeGateway, router_file

from tiered.gateway.settings import GatewaySettings
from tiered.online.registry import RouterRegistry
from tiered.online.settings import LearningSettings

ADMIN = "adm-learning-view-0123456789"
ROUTES = ('[routes.default]\npolicy = "fallback"\nchain = ["haiku"]\n'
          '[routes.learn]\npolicy = "router"\nscorer = "learned"\n'
          'thresholds = { tiers = ["haiku", "opus"], cuts = [0.0] }\n')


def learning(url: str, key: str = ADMIN, **params: str) -> httpx2.Response:
    return httpx2.get(f"{url}/v1/tiered/dashboard/learning", headers={"x-api-key": key}, params=params)


def wait_in_use(url: str, version: str, timeout_s: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        [route] = learning(url).json()["routes"]
        if route["in_use"] == version or time.monotonic() > deadline:
            assert route["in_use"] == version, route
            return dict(route)
        time.sleep(0.05)


def test_the_learning_view_follows_promotions_and_rollbacks(emulator_url: str, serve_gateway: ServeGateway,
                                                            tmp_path: Path) -> None:
    registry = RouterRegistry(tmp_path / "routers")
    t0 = 1_790_000_000.0
    first = registry.add("learn", router_file(tmp_path / "a.json.gz", apgr=0.61, ci=(0.55, 0.67), labels=300,
                                              created_at=t0))
    registry.promote("learn", first.id, cuts=[0.0])
    settings = GatewaySettings(keys=frozenset({KEY}), admin_keys=frozenset({ADMIN}),
                               learning=LearningSettings(routes=("learn",), registry=str(registry.root)))
    gw = serve_gateway(emulator_url, routes=ROUTES, settings=settings)

    got = learning(gw.url)
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["enabled"] and body["registry"] == str(registry.root)
    [route] = body["routes"]  # `default` does not learn
    assert route["route"] == "learn" and route["in_use"] == "v0001" and route["has_router"]
    [v1] = route["versions"]
    assert v1["state"] == "current" and v1["labels"] == 300 and v1["apgr"] == 0.61 and v1["apgr_ci"] == [0.55, 0.67]
    assert v1["created_at"] == t0 and v1["prior"] == "shipped-abc123" and v1["cuts"] == [0.0]

    # a better version is promoted while the gateway serves: it installs it and the curve grows
    second = registry.add("learn", router_file(tmp_path / "b.json.gz", apgr=0.66, ci=(0.6, 0.71), labels=1000,
                                               created_at=t0 + 3600))
    registry.promote("learn", second.id, cuts=[0.0], verification={"better": True, "rows": 120,
                                                                    "current": {"apgr": 0.61}})
    route = wait_in_use(gw.url, "v0002")
    assert [(v["id"], v["state"]) for v in route["versions"]] == [("v0001", "promoted before"), ("v0002", "current")]
    assert [(p["version"], p["apgr"], p["labels"]) for p in route["curve"]] == [("v0001", 0.61, 300),
                                                                               ("v0002", 0.66, 1000)]
    v2 = route["versions"][1]
    assert v2["replaced_apgr"] == 0.61 and v2["better"] is True and abs(v2["cost_ratio_at_target"] - 0.335) < 1e-9

    # rolled back: the gateway runs v0001 again and v0002 is marked so; rolled back once more: the configured router
    registry.rollback("learn")
    route = wait_in_use(gw.url, "v0001")
    assert {v["id"]: v["state"] for v in route["versions"]} == {"v0001": "current", "v0002": "rolled back"}
    registry.rollback("learn")
    route = wait_in_use(gw.url, "configured")
    assert route["registry_current"] is None and len(route["curve"]) == 2

    # the route filter, the admin key, and errors in the API's shape
    assert learning(gw.url, route="default").json()["routes"] == []
    assert learning(gw.url, KEY).status_code == 403
    assert httpx2.get(f"{gw.url}/v1/tiered/dashboard/learning").status_code == 401
    bad = httpx2.get(f"{gw.url}/v1/tiered/dashboard/learnin", headers={"x-api-key": ADMIN})
    assert bad.status_code == 400 and "learning" in bad.json()["error"]["message"]
    (registry.root / "registry.json").write_text("{not json", "utf-8")
    broken = learning(gw.url)
    assert broken.status_code == 400 and broken.json()["type"] == "error"
    assert "router registry" in broken.json()["error"]["message"]


def test_without_learning_the_view_says_it_is_off(emulator_url: str, serve_gateway: ServeGateway) -> None:
    settings = GatewaySettings(keys=frozenset({KEY}), admin_keys=frozenset({ADMIN}))
    gw = serve_gateway(emulator_url, routes=ROUTES, settings=settings)
    got = learning(gw.url)
    assert got.status_code == 200 and got.json() == {"enabled": False, "registry": None, "target": None,
                                                     "routes": []}
