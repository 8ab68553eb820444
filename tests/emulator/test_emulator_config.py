"""Emulator config loading, fault-header parsing, content synthesis, and the `tiered emulator` command."""

from __future__ import annotations

import json
import random
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tiered.emulator.config import Behaviour, EmulatorConfig
from tiered.emulator.content import cut, tool_input
from tiered.emulator.faults import BadFaultHeader, Fault, FaultPlan, parse_fault, parse_latency
from tiered.errors import ConfigError

EXAMPLE = """
seed = 7
max_body_bytes = 1000
models = ["my-finetune"]

[default]
tpot_ms = 1
errors = {529 = 0.3, 429 = 0.1, midstream = 0.05}

[model."claude-haiku-4-5"]
ttft_ms = 150
retry_after_ms = 20

[replay]
dataset = "routerbench3"
models = {"claude-haiku-4-5" = "mistralai/mistral-7b-chat"}
"""


def test_toml_config_loads_with_per_model_overrides(tmp_path: Path) -> None:
    path = tmp_path / "emulator.toml"
    path.write_text(EXAMPLE)
    config = EmulatorConfig.load(path)
    assert (config.seed, config.max_body_bytes, config.extra_models) == (7, 1000, ("my-finetune",))
    assert config.default == Behaviour(error_rates={"529": 0.3, "429": 0.1, "midstream": 0.05}, tpot_ms=1.0)
    haiku = config.behaviour("claude-haiku-4-5")
    assert haiku.ttft_ms == 150 and haiku.tpot_ms == 1.0 and haiku.retry_after_ms == 20
    assert haiku.error_rates == config.default.error_rates
    assert config.behaviour("claude-opus-4-7") is config.default
    assert config.replay is not None and config.replay.models == {"claude-haiku-4-5": "mistralai/mistral-7b-chat"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"sede": 1}, "sede: unknown key"),
        ({"default": {"errors": {"529": 0.8, "429": 0.5}}}, "add up to more than 1"),
        ({"default": {"errors": {"200": 0.1}}}, "neither an HTTP error status"),
        ({"default": {"errors": {"529": 2}}}, "not in [0, 1]"),
        ({"default": {"ttft": 5}}, "default.ttft: unknown key"),
        ({"model": {"x": {"ttft_ms": "fast"}}}, "model.x.ttft_ms: expected a number"),
        ({"seed": "one"}, "seed: expected an integer"),
        ({"replay": {"models": {}}}, "replay.dataset"),
    ],
)
def test_bad_configs_name_the_key(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        EmulatorConfig.from_dict(data)
    assert message in str(caught.value)


def test_fault_header_grammar() -> None:
    assert parse_fault("529") == Fault(529)
    assert parse_fault("429;retry-after-ms=5") == Fault(429, retry_after_ms=5)
    assert parse_fault("503; retry-after=1.5") == Fault(503, retry_after_s=1.5)
    assert parse_fault("midstream").midstream
    assert parse_latency("200") == (200.0, 0.0) and parse_latency("0;tpot=3") == (0.0, 3.0)
    for bad in ("", "99", "ok", "429;retry-after-ms=x", "429;wait=1"):
        with pytest.raises(BadFaultHeader):
            parse_fault(bad)


def test_fault_plan_draws_per_model_streams() -> None:
    rates = Behaviour(error_rates={"529": 0.5})
    alone = FaultPlan(3)
    only_a = [alone.draw("a", rates) for _ in range(20)]
    mixed = FaultPlan(3)
    interleaved = []
    for _ in range(20):
        interleaved.append(mixed.draw("a", rates))
        mixed.draw("b", rates)  # traffic to another model does not shift model a's faults
    assert only_a == interleaved
    assert {f.status if f else None for f in only_a} == {529, None}


def test_cut_reports_stop_sequence_and_max_tokens() -> None:
    assert cut("alpha beta gamma", 100, ["gamma", "beta"]).text == "alpha "
    assert cut("alpha beta gamma", 100, ["beta"]).stop_sequence == "beta"
    short = cut("x" * 100, 5)
    assert (short.text, short.stop_reason) == ("x" * 20, "max_tokens")
    assert cut("done", 5, ["zzz"]).stop_reason == "end_turn"


def test_tool_input_covers_schema_types() -> None:
    schema = {
        "type": "object",
        "properties": {
            "kind": {"const": "fixed"},
            "choice": {"anyOf": [{"type": "integer", "minimum": 5, "maximum": 5}, {"type": "string"}]},
            "maybe": {"type": ["null", "boolean"]},
            "name": {"type": "string", "minLength": 10, "maxLength": 12},
            "probability": {"type": "number"},
            "nested": {"type": "object", "properties": {"deep": {"type": "array", "items": {"type": "integer"}}}},
        },
        "required": ["kind", "choice", "maybe", "name", "probability", "nested"],
    }
    for seed in range(20):
        value = tool_input(schema, random.Random(seed), "an answer")
        assert value["kind"] == "fixed" and value["choice"] == 5 and isinstance(value["maybe"], bool)
        assert 10 <= len(value["name"]) <= 12
        assert 0.0 <= value["probability"] <= 1.0
        assert all(isinstance(i, int) for i in value["nested"]["deep"])


def test_tiered_emulator_command_serves_the_api(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = tmp_path / "emulator.toml"
    config.write_text('models = ["cli-model"]\n')
    cmd = [sys.executable, "-c", "from tiered.cli import main; main()", "emulator", "--port", str(port),
           "--config", str(config), "--seed", "5"]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE)
    try:
        request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/models?limit=100", headers={"x-api-key": "k"})
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(request, timeout=2) as response:
                    listed = json.load(response)
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.05)
        assert "cli-model" in [m["id"] for m in listed["data"]]
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert f"127.0.0.1:{port} (seed 5)" in err.decode()
