"""A key set in the environment and referenced by the config is used for the calls, and appears
nowhere in what tiered writes: not the printed record, not any SQLite table, not the JSONL log.

The route really calls the emulator over HTTP with that key, and the first model is made to fail
(529), so the error path of the record is written too.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from pathlib import Path

from click.testing import CliRunner

from tiered.cli import main
from tiered.emulator.config import Behaviour, EmulatorConfig
from tiered.emulator.testing import running_emulator


def test_no_key_in_record_db_or_jsonl(tmp_path: Path) -> None:
    secret = f"sk-ant-api03-{uuid.uuid4().hex}"
    config = tmp_path / "tiered.toml"
    faulty = EmulatorConfig(per_model={"claude-opus-4-7": Behaviour(error_rates={"529": 1.0}, retry_after_ms=1)})
    with running_emulator(faulty) as url:
        config.write_text(f"""
[backend]
kind = "emulator"
base_url = "{url}"
api_key = "env:TIERED_TEST_KEY"
[telemetry]
sinks = ["sqlite", "jsonl"]
sqlite = {{ path = "requests.db" }}
jsonl = {{ path = "requests.jsonl" }}
[routes.default]
policy = "fallback"
retries = 0
chain = ["opus", "sonnet"]
""")
        result = CliRunner().invoke(main, ["route", "Say hi", "--config", str(config), "--json"],
                                    env={"TIERED_TEST_KEY": secret, "ANTHROPIC_API_KEY": secret})
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    assert [a["outcome"] for a in record["attempts"]] == ["overloaded_error", "ok"]  # both calls went over HTTP
    assert record["fell_back"] is True and record["model"] == "claude-sonnet-4-6"
    assert secret not in result.output and "sk-ant" not in result.output

    dump = "\n".join(sqlite3.connect(tmp_path / "requests.db").iterdump())
    assert record["trace_id"] in dump  # the dump really holds the request ...
    assert "sk-ant" not in dump  # ... and no key
    jsonl = (tmp_path / "requests.jsonl").read_text()
    assert record["trace_id"] in jsonl and "sk-ant" not in jsonl
