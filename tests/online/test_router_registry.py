"""Router versions: `tiered router list | promote | rollback` and `tiered learn` on a request log, and gateways that
install a promoted router without a restart (from the registry's directory, or on every replica through Redis)."""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from online_support import ROUTER_ROUTE, ServedLoop, StartLoop, fill_log, inverted_router

from tiered.cli import main
from tiered.online.registry import RouterRegistry
from tiered.telemetry.sqlite import SqliteSink


def cli(*args: str) -> Any:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    config = tmp_path / "tiered.toml"
    config.write_text('[backend]\nkind = "replay"\n[telemetry]\nsinks = ["sqlite"]\n[telemetry.sqlite]\n'
                      'path = "requests.db"\n' + ROUTER_ROUTE.format(name="default")
                      + '[learning]\nregistry = "routers"\ntarget = { max_share = { opus = 0.4 } }\n')
    with SqliteSink(tmp_path / "requests.db") as sink:
        fill_log(sink, "default", 320)
    inverted_router(tmp_path / "bad.json.gz")
    return config


def test_promote_refuses_a_worse_router_then_learn_replaces_it_and_rollback_walks_back(project: Path) -> None:
    config = str(project)
    assert "no router versions" in cli("router", "list", "--config", config).output
    refused = cli("router", "promote", str(project.parent / "bad.json.gz"), "--route", "default", "--config", config)
    assert refused.exit_code == 1 and "not promoted" in refused.output and "--force" in refused.output
    assert json.loads(cli("router", "list", "--config", config, "--json").output) == []

    forced = cli("router", "promote", str(project.parent / "bad.json.gz"), "--route", "default", "--config", config,
                 "--force", "--json")
    assert forced.exit_code == 0, forced.output
    report = json.loads(forced.output)
    assert report["promoted"] and report["version"] == "v0001" and not report["comparison"]["better"]
    assert report["calibration"]["share"]["opus"] <= 0.4 + 1e-9  # cuts keep the declared share
    listed = json.loads(cli("router", "list", "--config", config, "--json").output)
    assert listed[0]["current"] == "v0001" and len(listed[0]["versions"][0]["cuts"]) == 1

    learned = cli("learn", "--config", config, "--json")
    assert learned.exit_code == 0, learned.output
    [outcome] = json.loads(learned.output)
    assert outcome["promoted"] and outcome["version"] == "v0002", outcome["reason"]
    cmp = outcome["comparison"]
    assert cmp["candidate"]["apgr"] > cmp["current"]["apgr"] and cmp["rows"] >= 10
    assert outcome["calibration"]["share"]["opus"] <= 0.4 + 1e-9
    text = cli("router", "list", "--config", config).output
    assert "* v0002" in text and "held-out APGR" in text

    again = json.loads(cli("learn", "--config", config, "--json").output)[0]
    assert not again["promoted"] and "not better than v0002" in again["reason"]  # the same fit is no better

    assert "now runs v0001" in cli("router", "rollback", "--route", "default", "--config", config).output
    assert "configured router" in cli("router", "rollback", "--route", "default", "--config", config).output
    nothing = cli("router", "rollback", "--route", "default", "--config", config)
    assert nothing.exit_code == 1 and "no promoted router" in nothing.output


def _score(served: ServedLoop, prompt: str, route: str) -> float:
    answer = served.ask(prompt, model=f"tiered/{route}")
    assert answer.status_code == 200, answer.text
    served.flush()
    con = sqlite3.connect(served.db)
    raw = con.execute("SELECT decision_scores FROM requests WHERE trace_id = ?",
                      (answer.headers["x-tiered-trace-id"],)).fetchone()[0]
    con.close()
    return float(json.loads(raw)["complexity"])


def _wait_installed(served: ServedLoop, route: str, version: str | None, timeout_s: float = 10.0) -> None:
    learning = served.app.core.learning
    assert learning is not None
    deadline = time.monotonic() + timeout_s
    while learning.installers[route].installed != version and time.monotonic() < deadline:
        time.sleep(0.05)
    assert learning.installers[route].installed == version


def test_a_gateway_installs_a_promoted_router_without_restart(start_loop: StartLoop, replaying_emulator: str,
                                                              tmp_path: Path) -> None:
    registry = RouterRegistry(tmp_path / "routers")
    served = start_loop(replaying_emulator, routes=ROUTER_ROUTE.format(name="default"),
                        learning=f'[learning]\nregistry = "{registry.root}"\n')
    prompt = "Prove that there are infinitely many primes."
    before = _score(served, prompt, "default")
    version = registry.add("default", inverted_router(tmp_path / "bad.json.gz"))
    registry.promote("default", version.id, cuts=[0.0])
    _wait_installed(served, "default", "v0001")
    after = _score(served, prompt, "default")
    assert after != before
    registry.rollback("default")
    _wait_installed(served, "default", None)
    assert _score(served, prompt, "default") == before


def test_every_replica_installs_it_through_redis(start_loop: StartLoop, replaying_emulator: str, tmp_path: Path,
                                                 redis_url: str) -> None:
    import redis

    route = f"r{uuid.uuid4().hex[:10]}"
    state = f'[state]\nredis = "{redis_url}"\n'
    a = start_loop(replaying_emulator, routes=ROUTER_ROUTE.format(name=route), state=state,
                   learning=f'[learning]\nregistry = "{tmp_path / "a"}"\n')
    b = start_loop(replaying_emulator, routes=ROUTER_ROUTE.format(name=route), state=state,
                   learning=f'[learning]\nregistry = "{tmp_path / "b"}"\n')  # its own disk: knows nothing
    prompt = "Write a haiku about the sea."
    before = _score(b, prompt, route)
    client = redis.Redis.from_url(redis_url)
    try:
        registry = RouterRegistry(tmp_path / "a", redis=client)
        version = registry.add(route, inverted_router(tmp_path / "bad.json.gz"))
        registry.promote(route, version.id, cuts=[0.0])
        _wait_installed(a, route, "v0001")
        _wait_installed(b, route, "v0001")
        assert _score(b, prompt, route) != before
        assert _score(a, prompt, route) == _score(b, prompt, route)
        registry.rollback(route)
        _wait_installed(b, route, None)
        assert _score(b, prompt, route) == before
    finally:
        for key in client.scan_iter(f"tiered:router:{route}:*"):
            client.delete(key)
        client.close()


def test_calibrate_from_log_keeps_the_declared_target_and_stats_show_the_drift(project: Path) -> None:
    config = str(project)
    fitted = cli("calibrate", "--from-log", "default", "--route", "default", "--config", config, "--json")
    assert fitted.exit_code == 0, fitted.output
    out = json.loads(fitted.output)
    assert out["met"] and out["share"]["opus"] <= 0.4 + 1e-9 and out["router"] == "configured"
    assert f"cuts = [{out['cuts'][0]}" in project.read_text().replace(" ]", "]")  # written into the route

    cli("router", "promote", str(project.parent / "bad.json.gz"), "--route", "default", "--config", config, "--force")
    tighter = json.loads(cli("calibrate", "--from-log", "default", "--route", "default", "--config", config,
                             "--max-share", "opus=0.2", "--json").output)
    assert tighter["router"] == "v0001" and tighter["share"]["opus"] <= 0.2 + 1e-9
    assert list(RouterRegistry(project.parent / "routers").get("default", "v0001").cuts or ()) == tighter["cuts"]

    stats = json.loads(cli("stats", "--config", config, "--json").output)
    assert stats[0]["target_drift"] == [{"measure": "share.opus", "target": 0.4, "actual": 0.0, "over": -0.4}]
    assert "target drift: share.opus 0.000 (<= 0.4: on target, drift -0.400)" in cli("stats", "--config",
                                                                                      config).output


def test_serve_learns_on_schedule(start_loop: StartLoop, replaying_emulator: str, tmp_path: Path) -> None:
    db = tmp_path / "log.db"
    with SqliteSink(db) as sink:
        fill_log(sink, "default", 320)
    registry = RouterRegistry(tmp_path / "routers")
    registry.promote("default", registry.add("default", inverted_router(tmp_path / "bad.json.gz")).id, cuts=[0.0])
    served = start_loop(replaying_emulator, routes=ROUTER_ROUTE.format(name="default"),
                        telemetry=f'[telemetry]\nsinks = ["sqlite"]\n[telemetry.sqlite]\npath = "{db}"\n',
                        learning=f'[learning]\nregistry = "{registry.root}"\ninterval = "1s"\n'
                                 'target = { max_share = { opus = 0.3 } }\n')
    _wait_installed(served, "default", "v0002", timeout_s=60)
    current = registry.current("default")
    assert current is not None and current.verification is not None and current.verification["better"]
