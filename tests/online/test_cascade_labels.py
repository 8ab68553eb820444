"""Cascade outcomes become weak labels on learning routes (over real HTTP to the emulator): the cheap tier's
answer scores 1.0 when it was served, 0.0 when the cascade escalated past it; no label off learning routes."""

from __future__ import annotations

import sqlite3

from online_support import StartLoop, routerbench_prompts

CASCADE = '[routes.default]\npolicy = "cascade"\ntiers = ["haiku", "opus"]\n'


def test_cascade_outcomes_are_weak_labels(start_loop: StartLoop, replaying_emulator: str) -> None:
    served = start_loop(replaying_emulator, routes=CASCADE, learning="[learning]\n")
    traces = [served.ask(p).headers["x-tiered-trace-id"] for p in routerbench_prompts(12)]
    served.flush()
    con = sqlite3.connect(served.db)
    try:
        labels = dict(con.execute("SELECT trace_id, score FROM labels WHERE source = 'cascade' AND tier = 'haiku'"))
        escalated = dict(con.execute("SELECT trace_id, escalated FROM requests"))
        other = con.execute("SELECT count(*) FROM labels WHERE source = 'cascade' AND tier != 'haiku'").fetchone()
    finally:
        con.close()
    assert set(labels) == set(traces)
    assert {labels[t] for t in traces} == {0.0, 1.0}  # some passed, some escalated
    for t in traces:
        assert labels[t] == (0.0 if escalated[t] else 1.0)
    assert other == (0,)  # the last tier's answer is final: no confidence reading, no weak label


def test_no_weak_labels_off_learning_routes(start_loop: StartLoop, replaying_emulator: str) -> None:
    served = start_loop(replaying_emulator, routes=CASCADE)
    for p in routerbench_prompts(3):
        assert served.ask(p).status_code == 200
    served.flush()
    con = sqlite3.connect(served.db)
    assert con.execute("SELECT count(*) FROM labels").fetchone() == (0,)
    con.close()
