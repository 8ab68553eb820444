"""`tiered route`: offline by default, the record as one JSON object, logged for `tiered stats`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from tiered.cli import main
from tiered.datasets import load_dataset, packaged_data_dir
from tiered.models.replay import DEFAULT_MODELS, NEAREST_NOTE_START
from tiered.telemetry.sqlite import SqliteSink

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tiered.toml"
PROMPT = load_dataset(packaged_data_dir() / "routerbench3").items[5].prompt  # an exact replay hit: no search
ATTEMPT_FIELDS = ("model", "tier", "input_tokens", "output_tokens", "cost_usd", "latency_ms", "outcome")


def _route(tmp_path: Path, *args: str) -> dict[str, object]:
    result = CliRunner().invoke(main, ["route", *args, "--json"],
                                env={"TIERED_DB": str(tmp_path / "r.db"), "ANTHROPIC_API_KEY": None})
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert isinstance(data, dict)
    return data


def test_route_json_is_one_record_with_the_answer_and_is_logged(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "ANTHROPIC_API_KEY"}
    env["TIERED_DB"] = str(tmp_path / "r.db")
    tiered_exe = Path(sys.executable).parent / "tiered"  # the installed console script
    proc = subprocess.run([str(tiered_exe), "route", "Is a tomato a fruit? Answer briefly.",
                           "--json"], capture_output=True, text=True, env=env, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)  # the whole output is exactly one JSON object
    for key in ("route", "policy", "decision", "attempts", "cost_usd", "degraded", "answer"):
        assert key in data
    assert data["route"] == "default" and data["decision"]["reason"]
    assert data["attempts"] and all(k in a for a in data["attempts"] for k in ATTEMPT_FIELDS)
    assert isinstance(data["answer"], str) and data["answer"]
    assert data["answer_source"].startswith("replay: nearest recorded prompt")  # offline, and marked
    exact = sum((Decimal(a["cost_usd_exact"]) for a in data["attempts"]), Decimal(0))
    assert Decimal(data["cost_usd_exact"]) == exact
    with SqliteSink(tmp_path / "r.db") as sink:
        stored = sink.get(data["trace_id"])
    assert stored is not None and stored.decision.reason == data["decision"]["reason"]
    assert stored.cost_usd == exact


def test_a_prompt_in_the_replay_sample_gets_its_recorded_answer(tmp_path: Path) -> None:
    item = load_dataset(packaged_data_dir() / "routerbench3").items[0]
    data = _route(tmp_path, item.prompt)
    assert str(data["answer_source"]).startswith(f"replay: recorded answer ({item.id})")
    assert data["outcome"] == "ok" and data["error"] is None
    # An exact hit is labelled automatically with the dataset's score for the model playing that tier.
    expected = item.outcomes[DEFAULT_MODELS[str(data["tier"])]].quality
    assert data["quality"] == expected
    with SqliteSink(tmp_path / "r.db") as sink:
        stored = sink.get(str(data["trace_id"]))
    assert stored is not None and stored.quality == expected


def test_a_nearest_answer_gets_no_quality_label(tmp_path: Path) -> None:
    data = _route(tmp_path, "A prompt no benchmark has ever recorded, about zebras")
    assert str(data["answer_source"]).startswith("replay: nearest") and data["quality"] is None
    # the answer itself says that it answers another prompt, first (issue 8, item 4)
    assert str(data["answer"]).startswith(NEAREST_NOTE_START) and "different prompt" in str(data["answer"])


def test_task_routes_through_the_example_config(tmp_path: Path) -> None:
    data = _route(tmp_path, PROMPT, "--config", str(EXAMPLE), "--route", "code",
                  "--task", "commit-message")
    decision = data["decision"]
    assert isinstance(decision, dict) and decision["reason"].startswith("task commit-message")
    assert data["tier"] == "haiku" and data["route"] == "code" and data["task"] == "commit-message"


def test_human_output_shows_the_trail_and_the_answer(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["route", "Summarize: the cat sat on the mat.", "--task", "summary"],
                                env={"TIERED_DB": str(tmp_path / "r.db"), "ANTHROPIC_API_KEY": None})
    assert result.exit_code == 0, result.output
    assert "decision: haiku: task summary -> haiku" in result.output
    assert "1. claude-haiku-4-5 [haiku] answer: ok" in result.output
    assert "\nanswer (replay: nearest recorded prompt" in result.output


def test_an_unknown_route_is_an_error_naming_it(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["route", PROMPT, "--route", "nope"],
                                env={"TIERED_DB": str(tmp_path / "r.db"), "ANTHROPIC_API_KEY": None})
    assert result.exit_code == 1 and "no route named 'nope'" in result.output


@pytest.mark.parametrize("backend", ["replay"])
def test_backend_override(tmp_path: Path, backend: str) -> None:
    data = _route(tmp_path, PROMPT, "--config", str(EXAMPLE), "--route", "cheap", "--backend", backend)
    assert data["model"] == "claude-haiku-4-5" and str(data["answer_source"]).startswith("replay")


def test_a_request_every_tier_fails_is_logged_and_exits_non_zero(tmp_path: Path) -> None:
    from tiered.emulator.config import Behaviour, EmulatorConfig
    from tiered.emulator.testing import running_emulator

    down = EmulatorConfig(default=Behaviour(error_rates={"529": 1.0}, retry_after_ms=1))
    config = tmp_path / "tiered.toml"
    env = {"TIERED_DB": str(tmp_path / "r.db"), "ANTHROPIC_API_KEY": None}
    with running_emulator(down) as url:
        config.write_text(f"""
[backend]
kind = "emulator"
base_url = "{url}"
[routes.default]
policy = "fallback"
retries = 0
chain = ["opus", "sonnet"]
""")
        result = CliRunner().invoke(main, ["route", "hi", "--config", str(config)], env=env)
    assert result.exit_code == 1
    assert "1. claude-opus-4-7 [opus] answer: overloaded_error" in result.output
    assert "2. claude-sonnet-4-6 [sonnet] answer: overloaded_error" in result.output
    assert "no answer: overloaded_error" in result.output
    stats = CliRunner().invoke(main, ["stats", "--json"], env=env)
    [row] = json.loads(stats.output)
    assert row["requests"] == 1 and row["error_rate"] == 1.0 and row["tier_mix"] == {"none": 1.0}


def test_db_option_logs_there_even_when_the_config_logs_elsewhere(tmp_path: Path) -> None:
    config = tmp_path / "tiered.toml"
    config.write_text("""
[backend]
kind = "replay"
[telemetry]
sinks = ["jsonl"]
jsonl = { path = "requests.jsonl" }
[routes.default]
policy = "direct"
target = "haiku"
""")
    data = _route(tmp_path, PROMPT, "--config", str(config), "--db", str(tmp_path / "explicit.db"))
    with SqliteSink(tmp_path / "explicit.db") as sink:
        assert [r.trace_id for r in sink.records()] == [data["trace_id"]]
    assert str(data["trace_id"]) in (tmp_path / "requests.jsonl").read_text()
    assert not (tmp_path / "r.db").exists()  # $TIERED_DB was not used
