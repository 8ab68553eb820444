"""A file that cannot be read or written is a one-line error naming it, never a traceback (issue 8, item 13)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from tiered.cli import main

TIERS = "haiku=mistralai/mistral-7b-chat,sonnet=gpt-3.5-turbo-1106,opus=gpt-4-1106-preview"


def test_train_to_a_missing_folder_says_so_before_training(tmp_path: Path) -> None:
    out = tmp_path / "nonexistent" / "dir" / "x.json"
    result = CliRunner().invoke(main, ["train", "routerbench3", "--out", str(out)])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
    assert f"the folder {out.parent} does not exist" in result.output
    assert "Traceback" not in result.output


def test_eval_on_a_file_that_is_not_a_dataset_names_it(tmp_path: Path) -> None:
    notes = tmp_path / "FORMAT.md"
    notes.write_text("# Outcome datasets\n\nReal, public benchmark results.\n")
    result = CliRunner().invoke(main, ["eval", str(notes), "--tiers", TIERS])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"Error: {notes}: not an outcomes dataset (line 1")
    partial = tmp_path / "partial.jsonl"
    partial.write_text('{"id": "a", "prompt": "p", "outcomes": {}}\n{"prompt": "no id"}\n')
    result = CliRunner().invoke(main, ["eval", str(partial), "--tiers", TIERS])
    assert result.exit_code == 1 and f"{partial}: not an outcomes dataset (line 2: missing key 'id')" in result.output
