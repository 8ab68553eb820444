"""`tiered stats` over the log that `tiered route` writes."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from click.testing import CliRunner

from tiered.catalog import Catalog
from tiered.cli import main
from tiered.datasets import load_dataset, packaged_data_dir
from tiered.telemetry.sqlite import SqliteSink
from tiered.telemetry.stats import priced_on, stats_by_route

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tiered.toml"
# Prompts the packaged replay sample holds: exact hits are answered without a nearest-prompt search.
PROMPTS = [item.prompt for item in load_dataset(packaged_data_dir() / "routerbench3").items[:4]]


def test_stats_json_after_a_few_routes(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"TIERED_DB": str(tmp_path / "r.db"), "ANTHROPIC_API_KEY": None}
    calls = [
        ["route", PROMPTS[0], "--task", "commit-message"],
        ["route", PROMPTS[1], "--task", "code-review"],
        ["route", PROMPTS[2]],
        ["route", PROMPTS[3], "--config", str(EXAMPLE), "--route", "cheap"],
    ]
    served: list[str] = []
    for args in calls:
        result = runner.invoke(main, [*args, "--json"], env=env)
        assert result.exit_code == 0, result.output
        served.append(json.loads(result.output)["tier"])
    assert served[:2] == ["haiku", "opus"]  # the packaged task map
    result = runner.invoke(main, ["stats", "--json"], env=env)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [r["route"] for r in rows] == ["cheap", "default"]
    default = rows[1]
    for key in ("requests", "cost_per_request_usd", "p50_ms", "p95_ms", "escalation_rate", "fallback_rate",
                "tier_mix", "quality", "degraded_rate", "bypass"):
        assert key in default
    assert default["requests"] == 3
    assert default["tier_mix"] == {t: served[:3].count(t) / 3 for t in set(served[:3])}
    assert abs(sum(default["tier_mix"].values()) - 1.0) < 1e-12
    with SqliteSink(tmp_path / "r.db") as sink:
        records = sink.records("default")
    total = sum((r.cost_usd for r in records), Decimal(0))
    assert Decimal(default["cost_usd_exact"]) == total
    assert default["cost_per_request_usd"] == float(total / 3)
    opus = Catalog.load().resolve("opus")  # the default baseline: the top tier
    expected = stats_by_route(records, baseline=priced_on(opus))[0]
    assert default["cost_ratio"] == expected.cost_ratio and default["cost_ratio"] is not None
    assert rows[0]["requests"] == 1 and rows[0]["tier_mix"] == {"haiku": 1.0}

    table = runner.invoke(main, ["stats", "--db", str(tmp_path / "r.db")], env={"TIERED_DB": None})
    assert table.exit_code == 0
    lines = table.output.splitlines()
    assert lines[0].split()[:2] == ["route", "requests"]
    assert any(line.split()[:2] == ["default", "3"] for line in lines)


def test_quality_labels_show_in_stats(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"TIERED_DB": str(tmp_path / "r.db"), "ANTHROPIC_API_KEY": None}
    traces = []
    for prompt in PROMPTS[:2]:
        out = runner.invoke(main, ["route", prompt, "--json"], env=env)
        traces.append(json.loads(out.output)["trace_id"])
    import tiered

    with SqliteSink(tmp_path / "r.db") as sink:
        replay_labels = [r.quality for r in sink.records()]  # exact replay hits come labelled
    second = replay_labels[1]
    assert replay_labels[0] is not None and second is not None
    tiered.record_quality(traces[0], 0.5, db=tmp_path / "r.db")
    tiered.record_quality(traces[0], 0.25, db=tmp_path / "r.db")  # the latest label wins
    rows = json.loads(runner.invoke(main, ["stats", "--json"], env=env).output)
    assert rows[0]["quality"] == (0.25 + second) / 2 and rows[0]["labelled"] == 2


def test_stats_on_an_empty_log(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["stats", "--json", "--db", str(tmp_path / "none.db")])
    assert result.exit_code == 0 and json.loads(result.output) == []
    assert not (tmp_path / "none.db").exists()  # reading stats creates no database
    result = runner.invoke(main, ["stats", "--db", str(tmp_path / "none.db")])
    assert "no requests logged" in result.output


def test_stats_read_the_log_a_config_names(tmp_path: Path) -> None:
    config = tmp_path / "tiered.toml"
    config.write_text("""
[backend]
kind = "replay"
[telemetry]
sinks = ["sqlite"]
sqlite = { path = "logs/requests.db" }
[routes.chat]
policy = "direct"
target = "haiku"
""")
    runner = CliRunner()
    env = {"TIERED_DB": str(tmp_path / "unused.db"), "ANTHROPIC_API_KEY": None}
    assert runner.invoke(main, ["route", PROMPTS[0], "--config", str(config)], env=env).exit_code == 0
    rows = json.loads(runner.invoke(main, ["stats", "--json", "--config", str(config)], env=env).output)
    assert [(r["route"], r["requests"]) for r in rows] == [("chat", 1)]
    assert (tmp_path / "logs" / "requests.db").exists() and not (tmp_path / "unused.db").exists()

    config.write_text(config.read_text().replace('sinks = ["sqlite"]', 'sinks = ["jsonl"]'))
    result = runner.invoke(main, ["stats", "--config", str(config)], env=env)
    assert result.exit_code == 1 and "a jsonl log is write-only" in result.output
