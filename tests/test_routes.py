"""Routes run a config end to end offline; a route whose router is bypassed shows it in stats."""

from __future__ import annotations

from pathlib import Path

from tiered.config import parse_config_text
from tiered.routes import Routes
from tiered.telemetry.sqlite import SqliteSink
from tiered.telemetry.stats import stats_by_route
from tiered.types import Request

CONFIG = """
[backend]
kind = "replay"
[routes.chat]
policy = "bypass"
share = 0.5
window = 4
min_samples = 2
probe_every = 100
router = { policy = "router", scorer = "heuristic" }
"""


async def test_bypass_engages_and_stats_report_it(tmp_path: Path) -> None:
    sink = SqliteSink(tmp_path / "r.db")
    routes = Routes(parse_config_text(CONFIG), sinks=[sink])
    try:
        for prompt in ("hi", "hello", "thanks", "ok"):  # short prompts: the heuristic scores them low
            run = await routes.run(Request.user(prompt))
            assert run.response is not None
    finally:
        await routes.aclose()
    with SqliteSink(tmp_path / "r.db") as reader:
        records = reader.records()
    reasons = [r.decision.reason for r in records]
    assert not reasons[0].startswith("bypass") and not reasons[1].startswith("bypass")  # still measuring
    assert reasons[2].startswith("bypass: 100% of last 2 on haiku")
    assert all(r.tier == "haiku" for r in records)
    assert "complexity" not in records[2].decision.scores  # bypassed requests are not scored
    [stats] = stats_by_route(records)
    assert stats.route == "chat" and stats.requests == 4
    assert stats.bypass is not None and stats.bypass.startswith("bypass: ")
    assert stats.tier_mix == {"haiku": 1.0}


async def test_sinks_default_to_the_config_and_close(tmp_path: Path) -> None:
    config = parse_config_text(f"""
[backend]
kind = "replay"
[telemetry]
sinks = ["sqlite", "jsonl"]
sqlite = {{ path = "{tmp_path / 'a.db'}" }}
jsonl = {{ path = "{tmp_path / 'a.jsonl'}" }}
[routes.default]
policy = "direct"
target = "haiku"
""")
    routes = Routes(config)
    run = await routes.run(Request.user("hello"))
    await routes.aclose()
    with SqliteSink(tmp_path / "a.db") as reader:
        assert reader.get(run.record.trace_id) == run.record
    assert run.record.trace_id in (tmp_path / "a.jsonl").read_text()


def test_warm_builds_the_ladder_before_the_first_request() -> None:
    """`tiered route` and the gateway warm the models first, so one-time set-up (an SDK import, the replay
    book and its nearest-prompt index) is not the first request's latency (issue 8, item 10)."""
    from tiered.config import parse_config_text
    from tiered.routes import OnDemandModels

    config = parse_config_text('[routes.default]\npolicy = "direct"\ntarget = "haiku"\n', source="test")
    models = OnDemandModels(config, env={})
    assert models.warm() == []
    built = models._models
    assert set(built) == {config.catalog.resolve(t).id for t in config.catalog.tiers}
    assert models.book().nearest_ready
