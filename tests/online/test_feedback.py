"""POST /v1/tiered/feedback over real HTTP: the key that made a request labels it, into the same rows as
`tiered label`; every other key, trace or body gets the API's error shape; keys never reach the log."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from online_support import ALICE, BOB, DIRECT_HAIKU, KEYS, ServedLoop, StartLoop

from tiered.gateway.auth import caller_id

LEARNING = '[learning]\nroutes = ["default"]\n'


def rows(db: Any, sql: str) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(db)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def error_of(response: Any, status: int, kind: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["type"] == "error" and body["error"]["type"] == kind
    assert body["request_id"].startswith("req_tiered_")
    return str(body["error"]["message"])


@pytest.fixture
def served(start_loop: StartLoop, replaying_emulator: str) -> ServedLoop:
    return start_loop(replaying_emulator, routes=DIRECT_HAIKU, learning=LEARNING)


def test_the_key_that_asked_labels_its_answer(served: ServedLoop) -> None:
    answer = served.ask("What is the capital of France?")
    assert answer.status_code == 200
    trace = answer.headers["x-tiered-trace-id"]
    ok = served.feedback({"trace_id": trace, "score": "good"})
    assert ok.status_code == 200, ok.text
    assert ok.json() == {"type": "feedback", "trace_id": trace, "score": 1.0, "tier": "haiku",
                         "model": "claude-haiku-4-5"}
    again = served.feedback({"trace_id": answer.headers["request-id"], "score": 0.25})  # the SDK's request id
    assert again.status_code == 200 and again.json()["score"] == 0.25
    assert rows(served.db, "SELECT trace_id, score, source FROM quality ORDER BY id") == [
        (trace, 1.0, "feedback"), (trace, 0.25, "feedback")]
    labels = rows(served.db, "SELECT trace_id, source, tier, model, score, key_name FROM labels ORDER BY id")
    assert labels == [(trace, "feedback", "haiku", "claude-haiku-4-5", 1.0, caller_id(ALICE)),
                      (trace, "feedback", "haiku", "claude-haiku-4-5", 0.25, caller_id(ALICE))]
    # the latest label wins in the record and the stats
    from tiered.telemetry.sqlite import SqliteSink

    with SqliteSink(served.db) as log:
        record = log.get(trace)
    assert record is not None and record.quality == 0.25


def test_another_key_may_not_label_it(served: ServedLoop) -> None:
    trace = served.ask("What is the capital of Spain?").headers["x-tiered-trace-id"]
    message = error_of(served.feedback({"trace_id": trace, "score": 0}, key=BOB), 403, "permission_error")
    assert "only the key that made the request" in message
    error_of(served.feedback({"trace_id": trace, "score": 0}, key=None), 401, "authentication_error")
    error_of(served.feedback({"trace_id": trace, "score": 0}, key="not-a-key"), 401, "authentication_error")
    assert rows(served.db, "SELECT count(*) FROM labels") == [(0,)]


@pytest.mark.parametrize(("body", "needle"), [
    ([1, 2], "JSON object"),
    ({"score": 1}, "trace_id: Field required"),
    ({"trace_id": "abc"}, "score: Field required"),
    ({"trace_id": 5, "score": 1}, "trace_id: Input should be a valid string"),
    ({"trace_id": "a b", "score": 1}, "trace_id: not a trace id"),
    ({"trace_id": "abc", "score": 1.5}, "score: Input should be between 0 and 1"),
    ({"trace_id": "abc", "score": -0.1}, "score: Input should be between 0 and 1"),
    ({"trace_id": "abc", "score": True}, "score: Input should be a number"),
    ({"trace_id": "abc", "score": None}, "score: Input should be a number"),
    ({"trace_id": "abc", "score": "meh"}, "'meh' is not a score"),
    ({"trace_id": "abc", "score": 1, "comment": "x"}, "comment: Extra inputs are not permitted"),
])
def test_bad_bodies_are_400_with_the_field_named(served: ServedLoop, body: Any, needle: str) -> None:
    assert needle in error_of(served.feedback(body), 400, "invalid_request_error")


def test_unknown_trace_bad_json_and_method(served: ServedLoop) -> None:
    assert "no finished request" in error_of(served.feedback({"trace_id": "0" * 32, "score": 1}), 404,
                                             "not_found_error")
    error_of(served.feedback(None, raw=b"{not json"), 400, "invalid_request_error")
    error_of(served.feedback(None, raw=b'{"trace_id": "abc", "score": NaN}'), 400, "invalid_request_error")
    import httpx2

    got = httpx2.get(f"{served.url}/v1/tiered/feedback", headers={"x-api-key": ALICE})
    error_of(got, 405, "invalid_request_error")


def test_learning_routes_keep_prompts_and_no_key_is_stored(start_loop: StartLoop, replaying_emulator: str) -> None:
    routes = DIRECT_HAIKU + '[routes.other]\npolicy = "direct"\ntarget = "haiku"\n'
    served = start_loop(replaying_emulator, routes=routes, learning=LEARNING)
    kept = served.ask("Name a prime number above 10.", headers={"x-tiered-task": "maths"})
    not_kept = served.ask("Name a colour.", model="tiered/other", key=BOB)
    served.flush()
    t1, t2 = kept.headers["x-tiered-trace-id"], not_kept.headers["x-tiered-trace-id"]
    assert rows(served.db, "SELECT trace_id, prompt, task FROM request_prompts") == [
        (t1, "Name a prime number above 10.", "maths")]
    assert sorted(rows(served.db, "SELECT trace_id, key_name FROM request_keys")) == sorted(
        [(t1, caller_id(ALICE)), (t2, caller_id(BOB))])
    dump = "\n".join(sqlite3.connect(served.db).iterdump())
    for key in KEYS:
        assert key not in dump and key[-10:] not in dump


def test_without_learning_no_prompt_is_kept_but_feedback_works(start_loop: StartLoop,
                                                               replaying_emulator: str) -> None:
    served = start_loop(replaying_emulator, routes=DIRECT_HAIKU)
    trace = served.ask("Name a river.").headers["x-tiered-trace-id"]
    assert served.feedback({"trace_id": trace, "score": "bad"}).status_code == 200
    assert rows(served.db, "SELECT count(*) FROM request_prompts") == [(0,)]
    assert rows(served.db, "SELECT score, source FROM labels") == [(0.0, "feedback")]


def test_a_gateway_without_a_sql_log_says_so(start_loop: StartLoop, replaying_emulator: str, tmp_path: Any) -> None:
    served = start_loop(replaying_emulator, routes=DIRECT_HAIKU,
                        telemetry=f'[telemetry]\nsinks = ["jsonl"]\n[telemetry.jsonl]\npath = "{tmp_path}/r.jsonl"\n')
    trace = served.ask("Name a river.").headers["x-tiered-trace-id"]
    assert "SQL request log" in error_of(served.feedback({"trace_id": trace, "score": 1}), 404, "not_found_error")


def test_tiered_label_writes_the_same_rows(served: ServedLoop) -> None:
    from click.testing import CliRunner

    from tiered.cli import main

    trace = served.ask("Name a mountain.").headers["x-tiered-trace-id"]
    assert served.feedback({"trace_id": trace, "score": "good"}).status_code == 200
    result = CliRunner().invoke(main, ["label", trace, "0.5", "--db", str(served.db)])
    assert result.exit_code == 0, result.output
    assert rows(served.db, "SELECT score, source FROM quality ORDER BY id") == [(1.0, "feedback"), (0.5, "human")]
    assert rows(served.db, "SELECT source, tier, model, score, key_name FROM labels ORDER BY id") == [
        ("feedback", "haiku", "claude-haiku-4-5", 1.0, caller_id(ALICE)),
        ("manual", "haiku", "claude-haiku-4-5", 0.5, None)]


def test_feedback_on_a_postgres_log(start_loop: StartLoop, replaying_emulator: str, postgres_dsn: str,
                                    postgres_schema: str) -> None:
    import psycopg

    tel = (f'[telemetry]\nsinks = ["postgres"]\n[telemetry.postgres]\ndsn = "{postgres_dsn}"\n'
           f'schema = "{postgres_schema}"\n')
    served = start_loop(replaying_emulator, routes=DIRECT_HAIKU, learning=LEARNING, telemetry=tel)
    trace = served.ask("Name a planet.").headers["x-tiered-trace-id"]
    assert served.feedback({"trace_id": trace, "score": 0.75}).status_code == 200
    assert served.feedback({"trace_id": trace, "score": 0}, key=BOB).status_code == 403
    with psycopg.connect(postgres_dsn) as con:
        got = con.execute(f"SELECT source, tier, score, key_name FROM {postgres_schema}.labels").fetchall()
        prompt = con.execute(f"SELECT prompt FROM {postgres_schema}.request_prompts").fetchall()
    assert got == [("feedback", "haiku", 0.75, caller_id(ALICE))]
    assert prompt == [("Name a planet.",)]
