"""`tiered stats` says whether a live cascade's escalations earn their cost (issue 9.8): a cascade route run
over real HTTP against the emulator, logged to SQLite, labelled, then read back by the CLI."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from click.testing import CliRunner

from tiered.cli import main
from tiered.config import parse_config_text
from tiered.emulator.config import EmulatorConfig
from tiered.records import Record
from tiered.routes import Routes
from tiered.telemetry.escalation_value import auc, confidence_of, escalation_value
from tiered.telemetry.quality import record_quality
from tiered.telemetry.sqlite import SqliteSink
from tiered.types import Request


async def _cascade_log(url: str, db: Path, n: int) -> list[Record]:
    text = (f'[backend]\nkind = "emulator"\nbase_url = "{url}"\n[telemetry]\nsinks = ["sqlite"]\n'
            f'[telemetry.sqlite]\npath = "{db}"\n[routes.default]\npolicy = "cascade"\ntiers = ["haiku", "opus"]\n')
    routes = Routes(parse_config_text(text, source="test"))
    try:
        for i in range(n):
            await routes.run(Request.user(f"Question number {i}: what should we do?", max_tokens=128))
    finally:
        await routes.aclose()
    with SqliteSink(db) as sink:
        return sink.records("default")


def test_auc_counts_ties_half() -> None:
    assert auc([0.9, 0.8, 0.1], [True, True, False]) == 1.0
    assert auc([0.5, 0.5], [True, False]) == 0.5
    assert auc([0.5], [True]) is None


async def test_stats_says_escalations_do_not_pay_when_confidence_carries_no_signal(
        start_emulator: Callable[[EmulatorConfig], str], tmp_path: Path) -> None:
    db = tmp_path / "log.db"
    records = await _cascade_log(start_emulator(EmulatorConfig()), db, 110)
    kept = sorted((r for r in records if not r.escalated), key=lambda r: confidence_of(r) or 0.0)
    assert len(kept) >= 24 and any(r.escalated for r in records)
    for i, r in enumerate(kept):  # labels unrelated to the confidence: good, bad, good, bad... in its order
        record_quality(r.trace_id, 1.0 if i % 2 == 0 else 0.0, db)
    for r in records:
        if r.escalated:
            record_quality(r.trace_id, 1.0, db)
    out = CliRunner().invoke(main, ["stats", "--db", str(db)])
    assert out.exit_code == 0, out.output
    assert "escalations on default:" in out.output
    assert "escalations do not earn their cost" in out.output and "a router" in out.output
    rows = json.loads(CliRunner().invoke(main, ["stats", "--db", str(db), "--json"]).output)
    esc = rows[0]["escalations"]
    assert abs(esc["auc"] - 0.5) < 0.1 and esc["labelled_kept"] == len(kept)
    with SqliteSink(db) as sink:
        value = escalation_value("default", sink.records("default"))
    assert value is not None
    discarded = sum((a.cost_usd for r in records if r.escalated for a in r.attempts[:1]), Decimal(0))
    assert value.discarded_usd == discarded > 0  # the haiku answers thrown away on escalation


async def test_stats_says_escalations_can_pay_when_confidence_separates(
        start_emulator: Callable[[EmulatorConfig], str], tmp_path: Path) -> None:
    db = tmp_path / "log.db"
    records = await _cascade_log(start_emulator(EmulatorConfig()), db, 110)
    kept = sorted((r for r in records if not r.escalated), key=lambda r: confidence_of(r) or 0.0)
    for i, r in enumerate(kept):  # the more confident half was right
        record_quality(r.trace_id, 1.0 if i >= len(kept) // 2 else 0.0, db)
    out = CliRunner().invoke(main, ["stats", "--db", str(db)])
    assert "escalations can earn their cost" in out.output


async def test_stats_asks_for_labels_before_judging(
        start_emulator: Callable[[EmulatorConfig], str], tmp_path: Path) -> None:
    db = tmp_path / "log.db"
    await _cascade_log(start_emulator(EmulatorConfig()), db, 12)
    out = CliRunner().invoke(main, ["stats", "--db", str(db)])
    assert "not enough labels to judge" in out.output
