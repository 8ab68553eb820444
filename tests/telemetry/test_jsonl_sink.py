"""The JSONL sink writes one jq-friendly object a line and reads back the very same records."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from tiered.records import Record
from tiered.telemetry import JsonlSink, read_jsonl

MakeRecord = Callable[..., Record]


def test_records_round_trip_exactly(tmp_path: Path, make_record: MakeRecord) -> None:
    records = [make_record(cost_usd=Decimal("0.000000123456789"), quality=0.5), make_record(tier=None, model=None)]
    sink = JsonlSink(tmp_path / "logs" / "requests.jsonl")
    for r in records:
        sink.emit(r)
    assert list(read_jsonl(tmp_path / "logs" / "requests.jsonl")) == records
    assert sink.records()[0].cost_usd == Decimal("0.000000123456789")


def test_each_line_is_one_json_object_with_float_and_exact_cost(tmp_path: Path, make_record: MakeRecord) -> None:
    sink = JsonlSink(tmp_path / "r.jsonl")
    sink.emit(make_record(cost_usd=Decimal("0.00482175")))
    sink.emit(make_record())
    lines = (tmp_path / "r.jsonl").read_text().splitlines()
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert first["cost_usd"] == 0.00482175 and first["cost_usd_exact"] == "0.00482175"
    assert first["attempts"][1]["cost_usd_exact"] == "0.00482175"
    assert first["decision"]["reason"].startswith("fell back")
