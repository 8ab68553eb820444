"""Shadow comparison over real HTTP: after the client's answer went out, the other tiers answer too (the
emulator replays routerbench3), the emulator plays the judge from the same data, and the labels, the judge's
cost and its agreement land in the log; the caller is charged only for its own answer, the learning budget
for the rest, and a spent learning budget stops comparisons."""

from __future__ import annotations

import sqlite3
import time
from decimal import Decimal
from typing import Any

from online_support import DIRECT_HAIKU, ServedLoop, StartLoop, routerbench_prompts

from tiered.datasets import load_dataset
from tiered.emulator.config import Behaviour, EmulatorConfig, ReplayConfig
from tiered.emulator.judge import TIE
from tiered.emulator.testing import running_emulator
from tiered.models.replay import DEFAULT_MODELS, normalize

SHADOW = '[learning]\nshadow_rate = 1.0\njudge_twice = 1.0\nshadow_budget_usd_per_day = 50.0\n'


def labels(db: Any) -> list[dict[str, Any]]:
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in con.execute("SELECT * FROM labels WHERE source = 'judge' ORDER BY id")]
    finally:
        con.close()


def wait_for_labels(served: ServedLoop, n: int, timeout_s: float = 30.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout_s
    while True:
        found = labels(served.db)
        if len(found) >= n or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def expected_score(prompt: str, cheap: str, dear: str) -> float:
    item = next(i for i in load_dataset("routerbench3") if normalize(i.prompt) == normalize(prompt))
    q = {tier: item.outcomes[DEFAULT_MODELS[tier]].quality for tier in (cheap, dear)}
    return 1.0 if q[cheap] >= q[dear] - TIE else 0.0


def test_shadow_labels_follow_the_recorded_outcomes(start_loop: StartLoop, replaying_emulator: str) -> None:
    served = start_loop(replaying_emulator, routes=DIRECT_HAIKU, learning=SHADOW)
    prompts = routerbench_prompts(4)
    traces = {}
    for prompt in prompts:
        answer = served.ask(prompt, max_tokens=512)
        assert answer.status_code == 200
        traces[answer.headers["x-tiered-trace-id"]] = prompt
    found = wait_for_labels(served, 2 * len(prompts))
    assert len(found) == 2 * len(prompts)  # haiku against sonnet, and against opus
    for label in found:
        prompt = traces[label["trace_id"]]
        assert label["tier"] == "haiku" and label["compared_tier"] in ("sonnet", "opus")
        assert label["score"] == expected_score(prompt, "haiku", label["compared_tier"])
        assert label["agreement"] == 1.0  # judged twice, answers swapped: the replayed judge is consistent
        assert label["judge_model"] == "claude-opus-4-7"
        assert Decimal(label["judge_cost_usd"]) > 0


def test_the_answer_goes_out_first_and_the_caller_pays_only_for_it(start_loop: StartLoop, tmp_path: Any) -> None:
    slow = Behaviour(ttft_ms=1500)
    config = EmulatorConfig(replay=ReplayConfig(dataset="routerbench3", models={}),
                            per_model={"sonnet": slow, "opus": slow})
    prompt = routerbench_prompts(1)[0]
    with running_emulator(config) as upstream:
        plain = start_loop(upstream, routes=DIRECT_HAIKU)
        shadowed = start_loop(upstream, routes=DIRECT_HAIKU, learning=SHADOW)
        before = plain.ask(prompt).json()
        answer = shadowed.ask(prompt)
        assert labels(shadowed.db) == []  # the other tiers are still answering: the client did not wait
        got = answer.json()
        assert got["content"] == before["content"] and got["usage"] == before["usage"]  # unchanged
        assert len(wait_for_labels(shadowed, 2)) == 2
        shadowed.flush()
        con = sqlite3.connect(shadowed.db)
        cost = con.execute("SELECT cost_usd FROM requests").fetchall()
        con.close()
        assert cost == [(answer.headers["x-tiered-cost-usd"],)]  # the record holds the caller's answer only
        learning = shadowed.app.core.learning
        assert learning is not None and learning.shadow is not None
        assert learning.shadow.budget.spent_today() > Decimal(answer.headers["x-tiered-cost-usd"])


def test_a_spent_learning_budget_stops_comparisons(start_loop: StartLoop, replaying_emulator: str) -> None:
    poor = SHADOW.replace("50.0", "0.000001")
    served = start_loop(replaying_emulator, routes=DIRECT_HAIKU, learning=poor)
    for prompt in routerbench_prompts(2):
        assert served.ask(prompt).status_code == 200
    learning = served.app.core.learning
    assert learning is not None and learning.shadow is not None
    deadline = time.monotonic() + 10
    while learning.shadow.skipped_budget < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert learning.shadow.skipped_budget == 4 and learning.shadow.compared == 0
    assert labels(served.db) == []
    assert learning.shadow.budget.spent_today() == 0


def test_the_learning_budget_is_shared_by_replicas_through_redis(redis_url: str) -> None:
    import random

    import redis

    from tiered.online.shadow import LearningBudget, utc_day

    day = 86400.0 * random.randrange(40_000, 2_000_000)  # a day no other test uses
    client = redis.Redis.from_url(redis_url)
    try:
        a = LearningBudget(Decimal("1.00"), redis=client, clock=lambda: day)
        b = LearningBudget(Decimal("1.00"), redis=client, clock=lambda: day)
        assert a.hold(Decimal("0.60"))
        assert not b.hold(Decimal("0.60"))  # 0.60 is held by the other replica
        a.charge(Decimal("0.60"), Decimal("0.30"))  # it cost less than its worst case
        assert b.hold(Decimal("0.60")) and not a.hold(Decimal("0.20"))
        b.charge(Decimal("0.60"), Decimal("0.55"))
        assert a.spent_today() == b.spent_today() == Decimal("0.85")
        assert not a.hold(Decimal("0.20")) and a.hold(Decimal("0.10"))
    finally:
        for key in client.scan_iter(f"tiered:learning:{utc_day(day)}:*"):
            client.delete(key)
        client.close()


def test_streamed_answers_are_compared_too(start_loop: StartLoop, replaying_emulator: str) -> None:
    import httpx2
    from online_support import ALICE

    served = start_loop(replaying_emulator, routes=DIRECT_HAIKU, learning=SHADOW)
    prompt = routerbench_prompts(1)[0]
    with httpx2.stream("POST", f"{served.url}/v1/messages", headers={"x-api-key": ALICE}, timeout=30,
                       json={"model": "auto", "max_tokens": 512, "stream": True,
                             "messages": [{"role": "user", "content": prompt}]}) as r:
        assert r.status_code == 200
        trace = r.headers["x-tiered-trace-id"]
        body = r.read().decode()
    assert "message_stop" in body
    found = wait_for_labels(served, 2)
    assert {(lab["trace_id"], lab["tier"], lab["compared_tier"]) for lab in found} == {
        (trace, "haiku", "sonnet"), (trace, "haiku", "opus")}
    for label in found:
        assert label["score"] == expected_score(prompt, "haiku", label["compared_tier"])
