"""Delegation warms the prefix its workers share once (max_tokens 0) before fanning out."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tiered.catalog import Catalog
from tiered.emulator.config import EmulatorConfig
from tiered.models.fake import FakeModel
from tiered.models.registry import ModelSet, build_model
from tiered.policies.delegate import MAKE_PLAN, Delegate
from tiered.runtime.driver import run
from tiered.types import Request, Response, Usage

DOC = "The quarterly report lists the dates of every release and incident. " * 300  # ~5,000 tokens


def planner(req: Request) -> Response | str:
    if req.tool_choice == {"type": "tool", "name": MAKE_PLAN}:
        steps = [{"instruction": f"extract the dates of section {s}"} for s in "ABC"]
        block = {"type": "tool_use", "id": "p", "name": MAKE_PLAN, "input": {"steps": steps}}
        return Response(id="plan", model="claude-opus-4-7", content=(block,), stop_reason="tool_use",
                        usage=Usage(input_tokens=300, output_tokens=120))
    return "timeline: ..."


async def test_workers_read_the_prefix_one_warm_call_wrote(start_emulator: Callable[[EmulatorConfig], str],
                                                            catalog: Catalog) -> None:
    url = start_emulator(EmulatorConfig())
    worker = build_model("haiku", catalog, backend="emulator", base_url=url)
    models = ModelSet(catalog, {"claude-opus-4-7": FakeModel(planner, name="claude-opus-4-7"),
                                "claude-haiku-4-5": worker})
    try:
        result = await run(Delegate(warm_prefix=True), Request.user(f"Build a timeline.\n{DOC}"), models)
        cold = await run(Delegate(), Request.user(f"Build a timeline, again.\n{DOC}"), models)
    finally:
        await worker.aclose()
    attempts = result.record.attempts
    assert [a.purpose for a in attempts] == ["plan", "warm", "step", "step", "step", "synthesize"]
    warm, steps = attempts[1], attempts[2:5]
    assert warm.model == "claude-haiku-4-5" and warm.output_tokens == 0 and warm.reason == \
        "warm the prefix 3 steps share"
    assert warm.cache_creation_input_tokens > 4_000
    assert all(s.cache_read_input_tokens == warm.cache_creation_input_tokens for s in steps)
    assert all(s.cache_creation_input_tokens == 0 for s in steps)
    cold_steps: list[Any] = [a for a in cold.record.attempts if a.purpose == "step"]
    assert all(a.cache_read_input_tokens == 0 for a in cold_steps)  # without warm_prefix: no cached prefix
    warm_cost = sum((a.cost_usd for a in attempts if a.purpose in ("warm", "step")), start=attempts[0].cost_usd * 0)
    cold_cost = sum((a.cost_usd for a in cold_steps), start=attempts[0].cost_usd * 0)
    assert warm_cost < cold_cost  # one write at 1.25x and three reads at 0.1x beat three plain inputs


def test_the_budget_hold_counts_the_warm_calls(catalog: Catalog) -> None:
    from tiered.gateway.worst_case import call_cost_bound, route_worst_case
    from tiered.policy_specs import DelegateSpec

    request = Request.user(f"Build a timeline.\n{DOC}")
    plain = route_worst_case(DelegateSpec(max_steps=4), request, catalog, {})
    warmed = route_worst_case(DelegateSpec(max_steps=4, warm_prefix=True), request, catalog, {})
    assert warmed.calls == plain.calls + 2  # one warm-up per two steps at most
    assert warmed.usd - plain.usd >= 2 * call_cost_bound(catalog.resolve("haiku"), 4_000, 0)
