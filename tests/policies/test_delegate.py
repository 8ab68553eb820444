from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tiered.errors import BadRequest, ConfigError, Overloaded
from tiered.models.registry import ModelSet
from tiered.policies.agents import load_agents, parse_agent
from tiered.policies.delegate import MAKE_PLAN, Delegate
from tiered.policies.taskmap import TaskMap
from tiered.runtime.clock import ManualClock
from tiered.runtime.driver import run
from tiered.types import Request, Response, Usage

REQ = Request.user("Build a timeline of the dates in doc A, doc B and doc C.")


def plan(*steps: dict[str, Any]) -> Response:
    block = {"type": "tool_use", "id": "p", "name": MAKE_PLAN, "input": {"steps": list(steps)}}
    return Response(id="plan", model="claude-opus-4-7", content=(block,), stop_reason="tool_use",
                    usage=Usage(input_tokens=300, output_tokens=120))


def opus_with(the_plan: Response, synth_saw: list[Request]) -> Callable[[Request], Response | str]:
    def opus(req: Request) -> Response | str:
        if req.tool_choice == {"type": "tool", "name": MAKE_PLAN}:
            return the_plan
        synth_saw.append(req)
        return "timeline: ..."

    return opus


def step_text(req: Request) -> str:
    return req.last_user_text.split("\n")[0]


async def test_steps_run_in_parallel_and_every_call_is_recorded(fakes: Callable[..., ModelSet]) -> None:
    synth: list[Request] = []

    async def haiku(req: Request) -> str:
        await asyncio.sleep(0.1)
        return f"dates of {step_text(req)}"

    the_plan = plan(*({"instruction": f"extract dates from doc {d}"} for d in "ABCD"))
    models = fakes(opus=opus_with(the_plan, synth), haiku=haiku)
    started = time.perf_counter()
    result = await run(Delegate(concurrency=4), REQ, models)
    wall = time.perf_counter() - started
    rec = result.record
    assert result.unwrap().text == "timeline: ..."
    assert [a.purpose for a in rec.attempts] == ["plan", "step", "step", "step", "step", "synthesize"]
    assert [a.reason for a in rec.attempts[1:5]] == [f"step {i}: extract dates from doc {d}"
                                                       for i, d in enumerate("ABCD", 1)]
    step_latency = sum(a.latency_ms for a in rec.attempts[1:5]) / 1000
    assert wall < step_latency  # 4 x 0.1 s of steps took about 0.1 s of wall time
    assert rec.cost_usd == sum(a.cost_usd for a in rec.attempts)
    text = synth[0].last_user_text
    assert text.startswith(REQ.last_user_text) and 'status="ok"' in text and "dates of extract dates from doc D" in text
    assert rec.decision.reason == "delegated 4 steps" and rec.decision.scores["failed_steps"] == 0


async def test_failed_step_is_retried_falls_back_and_is_reported(
    fakes: Callable[..., ModelSet], clock: ManualClock
) -> None:
    synth: list[Request] = []

    def haiku(req: Request) -> str:
        if "doc B" in step_text(req):
            raise Overloaded("busy", retry_after=2.0)
        if "doc C" in step_text(req):
            raise BadRequest("too large")
        return "ok"

    def sonnet(req: Request) -> str:
        raise Overloaded("busy too")

    the_plan = plan({"instruction": "extract dates from doc A"}, {"instruction": "extract dates from doc B"},
                    {"instruction": "extract dates from doc C"})
    models = fakes(opus=opus_with(the_plan, synth), haiku=haiku, sonnet=sonnet)
    result = await run(Delegate(step_retries=1, step_fallback="sonnet"), REQ, models, clock=clock, sleep=clock.sleep)
    rec = result.record
    reasons = [a.reason for a in rec.attempts if a.purpose == "step"]
    assert reasons[3:] == ["retry 1: overloaded_error (step 2)", "fell back: overloaded_error on haiku (step 2)"]
    assert clock.slept == [2.0]
    assert rec.decision.reason == "delegated 3 steps; failed steps: 2 (overloaded_error), 3 (invalid_request_error)"
    assert rec.decision.scores["failed_steps"] == 2 and rec.fell_back
    text = synth[0].last_user_text
    assert '<step index="2" status="failed" error="overloaded_error">' in text
    assert '<step index="3" status="failed" error="invalid_request_error">' in text
    assert result.unwrap().text == "timeline: ..."


async def test_agents_from_markdown_choose_the_model(
    fakes: Callable[..., ModelSet], clock: ManualClock, tmp_path: Path
) -> None:
    (tmp_path / "reviewer.md").write_text("---\nname: reviewer\ndescription: Reviews code.\nmodel: sonnet\n---\n"
                                          "You review code carefully.\n")
    (tmp_path / "chief.md").write_text("---\nname: chief\ndescription: Decides.\n---\nYou decide.\n")
    agents = load_agents(tmp_path)
    assert agents["chief"].model == "inherit" and agents["reviewer"].prompt == "You review code carefully."
    seen: dict[str, Request] = {}

    def record_as(tier: str) -> Callable[[Request], str]:
        def fn(req: Request) -> str:
            seen[tier] = req
            return f"{tier} did it"
        return fn

    synth: list[Request] = []
    the_plan = plan({"instruction": "review the diff", "agent": "reviewer"},
                    {"instruction": "decide", "agent": "chief"}, {"instruction": "summarize", "tier": "haiku"})
    opus = opus_with(the_plan, synth)

    def opus_or_step(req: Request) -> Response | str:
        return record_as("opus")(req) if req.system == "You decide." else opus(req)

    models = fakes(opus=opus_or_step, sonnet=record_as("sonnet"), haiku=record_as("haiku"))
    policy = Delegate(agents=agents)
    result = await run(policy, REQ, models, clock=clock)
    steps = [a for a in result.record.attempts if a.purpose == "step"]
    assert [a.tier for a in steps] == ["sonnet", "opus", "haiku"]  # agent model, inherit = planner, plan's tier
    assert seen["sonnet"].system == "You review code carefully."
    assert "chief" in policy.plan_request(REQ).tools[0]["input_schema"]["properties"]["steps"]["items"][
        "properties"]["agent"]["enum"]


async def test_empty_plan_is_answered_directly(fakes: Callable[..., ModelSet], clock: ManualClock) -> None:
    synth: list[Request] = []
    models = fakes(opus=opus_with(plan(), synth), haiku=lambda r: "x")
    result = await run(Delegate(), REQ, models, clock=clock)
    assert result.record.decision.reason == "plan empty or invalid: answered directly"
    assert synth[0] == REQ and [a.purpose for a in result.record.attempts] == ["plan", "synthesize"]


def test_agent_file_errors_name_the_file() -> None:
    with pytest.raises(ConfigError, match="x.md: 'name' is required"):
        parse_agent("---\ndescription: d\n---\nbody", source="x.md")
    with pytest.raises(ConfigError, match="front matter has no closing"):
        parse_agent("---\nname: a\n", source="x.md")


async def test_step_task_type_routes_through_a_task_map(fakes: Callable[..., ModelSet], clock: ManualClock) -> None:
    synth: list[Request] = []
    the_plan = plan({"instruction": "review the patch", "task": "code review"},
                    {"instruction": "write the commit message", "task": "commit-message"},
                    {"instruction": "something else", "task": "poetry"})
    models = fakes(opus=opus_with(the_plan, synth), haiku=lambda r: "h", sonnet=lambda r: "s")
    policy = Delegate(worker="sonnet", tasks=TaskMap.default_map())
    req = Request.user("Ship this change.", headers={"anthropic-beta": "x-2026-01-01"})
    result = await run(policy, req, models, clock=clock)
    steps = [a for a in result.record.attempts if a.purpose == "step"]
    assert [a.tier for a in steps] == ["opus", "haiku", "sonnet"]  # mapped, mapped, unknown task -> worker
    haiku_req = models["claude-haiku-4-5"].requests[0]  # type: ignore[attr-defined]
    assert haiku_req.headers == {"anthropic-beta": "x-2026-01-01"} and haiku_req.task == "commit-message"
