"""The learning tables (m010_learning) on both SQL sinks: labels and prompts go in, examples come back out."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest

from tiered.learning.store import examples_from_log, prompts_from_log
from tiered.records import Record
from tiered.telemetry import PostgresSink, SqliteSink

MakeRecord = Callable[..., Record]
OpenSink = Callable[[], AbstractContextManager[Any]]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def open_sink(request: pytest.FixtureRequest, tmp_path: Path) -> OpenSink:
    if request.param == "sqlite":
        return lambda: SqliteSink(tmp_path / "log.db")
    dsn = request.getfixturevalue("postgres_dsn")
    schema = request.getfixturevalue("postgres_schema")
    return lambda: PostgresSink(dsn, schema=schema)


@contextmanager
def filled(open_sink: OpenSink, make_record: MakeRecord) -> Iterator[Any]:
    with open_sink() as sink:
        sink.emit(make_record(trace_id="t1", route="chat", task="qa", created_at=100.0))
        sink.emit(make_record(trace_id="t2", route="chat", task=None, created_at=200.0))
        sink.emit(make_record(trace_id="t3", route="code", task=None, created_at=300.0))
        sink.add_prompt("t1", "What is 2+2?", None, created_at=100.0)
        sink.add_prompt("t2", "Write a sonnet about routers.", "poetry", created_at=200.0)
        sink.add_prompt("t3", "Fix this bug.", None, created_at=300.0)
        sink.add_prompt("t3", "a second copy is ignored", None, created_at=301.0)
        sink.add_prompt("t4", "No request row yet, no label.", None, created_at=400.0)
        yield sink


def test_labels_become_per_tier_outcomes(open_sink: OpenSink, make_record: MakeRecord) -> None:
    with filled(open_sink, make_record) as sink:
        sink.add_label("t1", 0.25, source="feedback", tier="haiku", model="claude-haiku-4-5", key_name="team-a")
        sink.add_label("t1", 0.75, source="manual", tier="haiku")
        sink.add_label("t2", 0.0, source="judge", tier="haiku", compared_tier="opus", judge_model="claude-opus-4-1",
                       judge_cost_usd="0.0123", agreement=1.0)
        sink.add_label("t3", 1.0, source="judge", tier="haiku", compared_tier="opus", agreement=0.0)
        sink.add_label("t3", 1.0, source="cascade", tier="haiku")
        examples = sink.examples()
        chat = sink.examples(route="chat")
        late = sink.examples(since=250.0)
        prompts = sink.prompts()
    by_trace = {e.trace_id: e for e in examples}
    assert set(by_trace) == {"t1", "t2", "t3"}
    t1 = by_trace["t1"]
    # feedback and manual average per answer; the model id is a key as well as the tier
    assert t1.outcomes == {"haiku": 0.5, "claude-haiku-4-5": 0.25}
    assert t1.task == "qa"  # the request's declared task when the prompt row has none
    assert t1.source == "feedback+manual"
    assert t1.gain("haiku", "opus") == pytest.approx(0.5)  # strong unknown: the reference, 1.0
    t2 = by_trace["t2"]
    assert t2.outcomes == {"haiku": 0.0, "opus": 1.0}
    assert t2.task == "poetry" and t2.prompt == "Write a sonnet about routers." and t2.created_at == 200.0
    # a judgement that flipped when the answers were swapped counts as a tie (0.5), averaged with the cascade's 1.0
    assert by_trace["t3"].outcomes == {"haiku": 0.75, "opus": 1.0}
    assert by_trace["t3"].prompt == "Fix this bug."
    assert [e.trace_id for e in chat] == ["t1", "t2"]
    assert [e.trace_id for e in late] == ["t3"]
    assert [p.trace_id for p in prompts] == ["t1", "t2", "t3", "t4"]
    assert all(not p.outcomes for p in prompts)


def test_examples_from_log_opens_a_path(tmp_path: Path, make_record: MakeRecord) -> None:
    with SqliteSink(tmp_path / "log.db") as sink:
        sink.emit(make_record(trace_id="a", route="chat"))
        sink.add_prompt("a", "hello", "greeting")
        sink.add_label("a", 1.0, source="feedback", tier="haiku")
    found = examples_from_log(tmp_path / "log.db", route="chat")
    assert [(e.trace_id, e.task, dict(e.outcomes)) for e in found] == [("a", "greeting", {"haiku": 1.0})]
    assert examples_from_log(str(tmp_path / "log.db"), route="other") == []
    assert [p.prompt for p in prompts_from_log(tmp_path / "log.db")] == ["hello"]


@pytest.mark.postgres
def test_examples_from_log_opens_a_dsn(postgres_dsn: str, postgres_schema: str, make_record: MakeRecord) -> None:
    with PostgresSink(postgres_dsn, schema=postgres_schema) as sink:
        sink.emit(make_record(trace_id="a", route="chat"))
        sink.add_prompt("a", "hello", None)
        sink.add_label("a", 0.0, source="cascade", tier="haiku")
    found = examples_from_log(postgres_dsn, schema=postgres_schema)
    assert [(e.trace_id, dict(e.outcomes)) for e in found] == [("a", {"haiku": 0.0})]


def test_bad_labels_are_refused(tmp_path: Path) -> None:
    with SqliteSink(tmp_path / "log.db") as sink:
        with pytest.raises(ValueError, match="source"):
            sink.add_label("a", 1.0, source="vibes")
        with pytest.raises(ValueError, match=r"\[0, 1\]"):
            sink.add_label("a", 1.5, source="feedback", tier="haiku")
        with pytest.raises(ValueError, match="compared"):
            sink.add_label("a", 1.0, source="judge", tier="haiku")
        with pytest.raises(ValueError, match="trace id"):
            sink.add_label("", 1.0, source="feedback")
        assert sink.examples() == []
