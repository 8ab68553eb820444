"""Issue 9: the seed's patterns on agent traffic, over real HTTP to tiered's emulator.

`Recording` wraps the real emulator-backed models (AnthropicModel over HTTP) and keeps each request it
was asked to send, so a test can check the body each tier received.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from tiered.catalog import Catalog
from tiered.config import parse_config_text
from tiered.emulator.config import Behaviour, EmulatorConfig, ReplayConfig
from tiered.models.base import Model
from tiered.models.registry import ModelSet
from tiered.policies.cascade import Cascade
from tiered.policies.delegate import MAKE_PLAN, Delegate
from tiered.policies.router import ComplexityRouter
from tiered.policies.taskmap import load_task_floors
from tiered.policies.triggers import low_confidence
from tiered.routes import DEFAULT_CONFIG, Routes
from tiered.runtime.driver import run
from tiered.scoring.base import Thresholds
from tiered.scoring.confidence import ConfidenceEstimator, with_report_tool
from tiered.scoring.heuristic import HeuristicScorer
from tiered.scoring.llm import LLM_THRESHOLDS, LLMScorer
from tiered.types import Request, Response, StreamEvent

OPUS, SONNET, HAIKU = "claude-opus-4-7", "claude-sonnet-4-6", "claude-haiku-4-5"
LOOKUP = {"name": "lookup", "description": "Look a word up.",
          "input_schema": {"type": "object", "properties": {"word": {"type": "string"}}, "required": ["word"]}}


class Recording:
    """A real model that also keeps every request it sends (what the emulator received, as a Request)."""

    def __init__(self, inner: Model) -> None:
        self.inner = inner
        self.sent: list[Request] = []

    @property
    def name(self) -> str:
        return self.inner.name

    async def complete(self, request: Request) -> Response:
        self.sent.append(request)
        return await self.inner.complete(request)

    async def stream(self, request: Request) -> AsyncIterator[StreamEvent]:
        self.sent.append(request)
        async for event in self.inner.stream(request):
            yield event

    async def aclose(self) -> None:
        await self.inner.aclose()


Build = Callable[[EmulatorConfig], tuple[ModelSet, dict[str, Recording]]]


@pytest.fixture
async def emulated(start_emulator: Callable[[EmulatorConfig], str], catalog: Catalog) -> AsyncIterator[Build]:
    built: list[ModelSet] = []

    def build(config: EmulatorConfig) -> tuple[ModelSet, dict[str, Recording]]:
        real = ModelSet.build(catalog, backend="emulator", base_url=start_emulator(config))
        recording = {mid: Recording(m) for mid, m in real.models.items()}
        models = ModelSet(catalog, dict(recording))
        built.append(models)
        return models, recording

    yield build
    for models in built:
        await models.aclose()


# --- 1. a tool call on the cheap tier is a signal, not an empty answer ------------------------------


async def test_a_tool_call_on_the_cheap_tier_does_not_escalate(emulated: Build) -> None:
    models, sent = emulated(EmulatorConfig())
    req = Request.user("What does 'ephemeral' mean? Use the tool.", max_tokens=256, tools=(LOOKUP,),
                       tool_choice={"type": "any"})
    result = await run(Cascade(("haiku", "sonnet", "opus")), req, models)
    rec = result.record
    assert not rec.escalated and rec.model == HAIKU and len(rec.attempts) == 1
    resp = result.unwrap()
    assert resp.stop_reason == "tool_use" and resp.tool_uses[0]["name"] == "lookup"  # the call, as haiku made it
    assert rec.decision.scores["confidence.haiku"] == ConfidenceEstimator().tool_call
    assert rec.decision.reason == "confident at haiku (0.80)"
    assert [r.tool_choice for r in sent[HAIKU].sent] == [{"type": "any"}] and not sent[OPUS].sent


# --- 2. thinking on: no forced report (the API refuses it), confidence read from the answer --------------


async def test_cascade_with_thinking_sends_no_forced_tool_and_answers(emulated: Build) -> None:
    models, sent = emulated(EmulatorConfig())
    thinking = {"type": "enabled", "budget_tokens": 1024}
    req = Request.user("Question 3: what should we do?", max_tokens=2048, extra={"thinking": thinking})
    result = await run(Cascade(("haiku", "sonnet", "opus")), req, models)
    rec = result.record
    assert rec.outcome == "ok" and all(a.ok for a in rec.attempts)
    first = sent[HAIKU].sent[0]
    assert first.tool_choice is None and not first.tools and first.extra["thinking"] == thinking
    assert result.unwrap().content[0]["type"] == "thinking"  # the thinking block is passed on untouched
    assert "confidence.haiku" in rec.decision.scores


# --- 3. the draft never lands in an assistant prefill ------------------------------------------------


PREFILL = {"role": "assistant", "content": "Here is my answer:"}


async def test_escalation_draft_goes_to_the_user_turn_not_the_prefill(emulated: Build) -> None:
    models, sent = emulated(EmulatorConfig())
    question = {"role": "user", "content": "Explain why the sky is blue."}
    req = Request(messages=(question, PREFILL), max_tokens=256)
    policy = Cascade(("haiku", "opus"), escalate_when=low_confidence(1.0), share_reasoning=True)
    result = await run(policy, req, models)
    assert result.record.escalated and result.record.model == OPUS and result.record.outcome == "ok"
    top = sent[OPUS].sent[0]
    assert top.messages[-1] == PREFILL  # the prefill is last and untouched
    user = top.messages[0]["content"]
    assert user[0] == {"type": "text", "text": question["content"]}
    assert user[1]["text"].startswith('<draft_from_smaller_model tier="haiku"')


async def test_delegate_synthesis_keeps_the_prefill_last(emulated: Build) -> None:
    models, sent = emulated(EmulatorConfig())
    policy = Delegate(planner="opus", worker="haiku", synthesizer="opus")
    req = None
    for i in range(100):  # a request the emulated planner splits into steps
        candidate = Request(messages=({"role": "user", "content": f"Summarise documents set {i}"}, PREFILL),
                            max_tokens=64)
        plan = await models.resolve("opus").complete(policy.plan_request(candidate))
        if (plan.tool_input(MAKE_PLAN) or {}).get("steps"):
            req = candidate
            break
    assert req is not None
    sent[OPUS].sent.clear()
    result = await run(policy, req, models)
    assert result.record.outcome == "ok"
    synthesis = sent[OPUS].sent[-1]
    assert synthesis.messages[-1] == PREFILL
    assert "Summarise documents set" in synthesis.messages[0]["content"][0]["text"]
    assert len(synthesis.messages[0]["content"]) == 2  # the step results, appended to the user turn


# --- 5. the draft is passed up by default, the answer itself included ---------------------------------


async def test_share_reasoning_is_on_by_default_and_carries_the_answer(emulated: Build) -> None:
    models, sent = emulated(EmulatorConfig())
    req = Request.user("Question 7: what should we do?", max_tokens=256)
    result = await run(Cascade(("haiku", "opus"), escalate_when=low_confidence(1.0)), req, models)
    assert result.record.escalated
    report = (await models.resolve("haiku").complete(with_report_tool(req))).tool_input("report_confidence")
    assert report is not None and report["answer"]
    draft = sent[OPUS].sent[0].messages[-1]["content"][-1]["text"]
    assert f"<answer>\n{report['answer'].strip()}\n</answer>" in draft
    assert "drafted the answer above" in draft


# --- 6. a bare token to an open question; the learned calibrator; per-tier bars from TOML --------------


def _one_answer_dataset(folder: Path, prompts: list[str], answer: str) -> Path:
    rows = [{"id": f"q{i}", "source": "test", "task": "open", "split": None, "prompt": p,
             "outcomes": {"tiny": {"quality": 0.0, "cost_usd": None, "input_tokens": None, "output_tokens": None,
                                   "response": answer}}} for i, p in enumerate(prompts)]
    data = folder / "one_answer"
    data.mkdir()
    with gzip.open(data / "outcomes.jsonl.gz", "wt", encoding="utf-8") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    (data / "models.json").write_text(json.dumps({"tiny": {"tier_hint": "cheap"}}), "utf-8")
    return data


async def test_a_bare_letter_to_an_open_question_escalates(emulated: Build, tmp_path: Path) -> None:
    prompts = [f"Explain why the sky is blue, in a few sentences ({i})." for i in range(60)]
    data = _one_answer_dataset(tmp_path, prompts, "C")
    models, _ = emulated(EmulatorConfig(replay=ReplayConfig(str(data), {HAIKU: "tiny"})))
    sure = None
    for p in prompts:  # one the emulated haiku answers "C" with a high self-report
        resp = await models.resolve("haiku").complete(with_report_tool(Request.user(p, max_tokens=256)))
        report = resp.tool_input("report_confidence") or {}
        if report.get("answer") == "C" and report.get("confidence", 0) >= 0.9:
            sure = p
            break
    assert sure is not None
    result = await run(Cascade(("haiku", "opus")), Request.user(sure, max_tokens=256), models)
    rec = result.record
    assert rec.escalated and rec.model == OPUS
    assert rec.decision.scores["confidence.haiku"] < 0.7 and rec.attempts[1].reason.startswith("escalated: confidence")


def _emulator_config_text(base_url: str, routes: str) -> str:
    return f'[backend]\nkind = "emulator"\nbase_url = "{base_url}"\n[telemetry]\nsinks = []\n{routes}'


async def test_cascade_config_takes_per_tier_bars_and_the_learned_calibrator(
        start_emulator: Callable[[EmulatorConfig], str]) -> None:
    url = start_emulator(EmulatorConfig())
    text = _emulator_config_text(url, """
[routes.default]
policy = "cascade"
tiers = ["haiku", "sonnet", "opus"]
confidence = "learned"
escalate_when = { confidence_below = [0.99, 0.0] }
""")
    routes = Routes(parse_config_text(text, source="test"), sinks=[])
    try:
        policy: Any = routes.policy()
        assert policy.confidence.calibrator is not None  # the learned calibrator reads the answers
        result = await routes.run(Request.user("Question 1: what should we do?", max_tokens=256))
        # haiku's bar (0.99) escalates it; sonnet's bar (0.0) keeps sonnet's answer
        assert [a.model for a in result.record.attempts] == [HAIKU, SONNET]
        assert result.record.decision.reason.startswith("confident at sonnet")
    finally:
        await routes.aclose()


# --- 4. floors by task: untagged code review does not go to haiku --------------------------------------


REVIEW = "Review this code: def add(a,b): return a - b"


async def test_built_in_route_sends_untagged_code_review_to_sonnet_at_least(
        start_emulator: Callable[[EmulatorConfig], str]) -> None:
    url = start_emulator(EmulatorConfig())
    text = DEFAULT_CONFIG.replace('kind = "replay"', f'kind = "emulator"\nbase_url = "{url}"')
    routes = Routes(parse_config_text(text + '\n[telemetry]\nsinks = []\n', source="test"), sinks=[])
    try:
        result = await routes.run(Request.user(REVIEW, max_tokens=64))
        rec = result.record
        assert rec.model in (SONNET, OPUS) and rec.outcome == "ok"
        assert "floor sonnet for code-review (recognised)" in rec.decision.reason
        plain = await routes.run(Request.user("Write a haiku about the sea.", max_tokens=64))
        assert "floor" not in plain.record.decision.reason
    finally:
        await routes.aclose()


async def test_router_floor_applies_to_declared_and_recognised_tasks(emulated: Build) -> None:
    models, _ = emulated(EmulatorConfig())
    ladder = Thresholds.of(("haiku", "sonnet", "opus"), (0.3, 0.6))
    router = ComplexityRouter(HeuristicScorer(), ladder, floors=load_task_floors())
    short = "Please review my PR: it renames foo to bar."  # the heuristic scores it 0.21: haiku
    recognised = await run(router, Request.user(short, max_tokens=32), models)
    assert recognised.record.model == SONNET
    assert recognised.record.decision.reason.endswith("-> haiku; floor sonnet for code-review (recognised)")
    declared = await run(router, Request.user("def f(): pass", max_tokens=32, task="code_review"), models)
    assert declared.record.model == SONNET and "(declared)" in declared.record.decision.reason
    bare = await run(ComplexityRouter(HeuristicScorer(), ladder), Request.user(short, max_tokens=32), models)
    assert bare.record.model == HAIKU  # without floors: the score alone


def test_packaged_task_map_has_the_seeds_haiku_tasks() -> None:
    from tiered.policies.taskmap import load_task_routes

    routes = load_task_routes()
    assert routes["labels"] == routes["bulk"] == routes["moderation"] == "haiku"
    assert load_task_floors()["code-review"] == "sonnet"


# --- 7. the decision says which scorer decided ----------------------------------------------------------


async def test_router_says_the_heuristic_decided_when_the_classifier_failed(emulated: Build) -> None:
    down = Behaviour(error_rates={"529": 1.0})
    models, _ = emulated(EmulatorConfig(per_model={SONNET: down}))
    router = ComplexityRouter(LLMScorer("sonnet"), LLM_THRESHOLDS)
    result = await run(router, Request.user("Sort this list", max_tokens=32), models)
    rec = result.record
    assert rec.attempts[0].purpose == "classify" and rec.attempts[0].outcome == "overloaded_error"
    assert rec.model == HAIKU
    assert rec.decision.reason.startswith("score 0.")
    assert "by heuristic fallback: classifier call failed (overloaded_error) -> haiku" in rec.decision.reason
    ok = await run(ComplexityRouter(LLMScorer("haiku"), LLM_THRESHOLDS), Request.user("Sort this list"), models)
    assert " by " not in ok.record.decision.reason  # the classifier decided: nothing to add


async def test_a_floor_holds_while_the_router_is_bypassed(emulated: Build) -> None:
    from tiered.policies.bypass import Bypass

    models, _ = emulated(EmulatorConfig())
    ladder = Thresholds.of(("haiku", "sonnet", "opus"), (0.3, 0.6))
    router = ComplexityRouter(HeuristicScorer(), ladder, floors=load_task_floors())
    bypass = Bypass(router, share=0.8, window=5, min_samples=5, probe_every=100)
    for i in range(5):
        await run(bypass, Request.user(f"hi {i}", max_tokens=16), models)
    assert bypass.state().engaged and bypass.state().reason == "100% of last 5 on haiku"
    result = await run(bypass, Request.user("Please review my PR: it renames foo to bar.", max_tokens=16), models)
    assert result.record.model == SONNET
    assert result.record.decision.reason == "bypass: 100% of last 5 on haiku; floor sonnet for code-review (recognised)"


async def test_a_cascade_starts_untagged_code_review_at_its_floor(emulated: Build) -> None:
    models, sent = emulated(EmulatorConfig())
    policy = Cascade(("haiku", "sonnet", "opus"), floors=load_task_floors())
    result = await run(policy, Request.user(REVIEW, max_tokens=128), models)
    rec = result.record
    assert not sent[HAIKU].sent and rec.attempts[0].model == SONNET
    assert rec.decision.reason.startswith("floor sonnet for code-review (recognised); ")
    plain = await run(policy, Request.user("Question 5: what should we do?", max_tokens=128), models)
    assert plain.record.attempts[0].model == HAIKU and "floor" not in plain.record.decision.reason
