"""`tiered label`: a human's quality label lands in the log and in stats."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from tiered.cli import main
from tiered.datasets import load_dataset, packaged_data_dir


def test_label_then_stats(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"TIERED_DB": str(tmp_path / "r.db"), "ANTHROPIC_API_KEY": None}
    prompt = load_dataset(packaged_data_dir() / "routerbench3").items[7].prompt
    routed = runner.invoke(main, ["route", prompt, "--json", "--task", "review"], env=env)
    trace = json.loads(routed.output)["trace_id"]
    result = runner.invoke(main, ["label", trace, "0.125"], env=env)
    assert result.exit_code == 0 and f"labelled {trace}: 0.125 (human)" in result.output
    [row] = json.loads(runner.invoke(main, ["stats", "--json"], env=env).output)
    assert row["quality"] == 0.125 and row["labelled"] == 1

    bad = runner.invoke(main, ["label", "no-such-trace", "1"], env=env)
    assert bad.exit_code == 1 and "unknown trace id 'no-such-trace'" in bad.output
    out_of_range = runner.invoke(main, ["label", trace, "7"], env=env)
    assert out_of_range.exit_code == 1 and "[0, 1]" in out_of_range.output
