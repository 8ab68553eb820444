"""Sub-agent delegation: a strong planner splits the request, cheap workers do the steps in parallel,
and a synthesizer merges their results.

    Delegate(planner="opus", worker="haiku", synthesizer="opus",
             agents=load_agents(".claude/agents"), concurrency=4, step_timeout_s=60)

1. Plan: the planner sees the request with a forced `make_plan` tool and returns atomic steps, each
   an instruction with an optional task type, tier, or agent name (the agents' names and
   descriptions are in its instructions). An empty or malformed plan is answered directly by the
   synthesizer (recorded as such); a failed planner call returns its error.
2. Steps: one `Parallel` step, at most `concurrency` at a time, each call with `step_timeout_s`. A
   step goes to its agent's model (`inherit` = the planner), else its tier, else its task's tier in
   `tasks` (a `TaskMap`), else `worker`. A failed step is retried (`step_retries`, honouring
   retry-after), then sent to `step_fallback`; one that still fails is reported, never dropped.
3. Synthesize: the original request plus each step's result (failed steps named as failed, so the
   answer says what is missing) goes to the synthesizer; its answer is the request's answer.

With `warm_prefix`, each step's prompt starts with the original request as a cached block (its instruction
follows), and before the fan-out one `max_tokens: 0` call per model that two or more steps share writes
that prefix to its cache (purpose "warm"), so the steps read it instead of N parallel cold writes.

Plan and step requests carry the request's upstream headers (`anthropic-beta`, ...). Every call is
an attempt of the request (purposes "plan", "step", "synthesize"; "step 3: ..." in
its reason), so the tree's cost and latency are in one record.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tiered.policies.agents import Agent
from tiered.policies.base import Call, Flow, Outcome, Parallel, Result, Sleep, Step
from tiered.policies.taskmap import TaskMap
from tiered.records import AttemptKind, Decision
from tiered.types import Request

MAKE_PLAN = "make_plan"
_PLANNER = (
    "You plan work for a team of worker models. Split the user's request into independent, atomic steps that "
    "can run in parallel; each step's instruction must be self-contained (workers see the request and only their "
    "own instruction). Use as few steps as the work needs. Call make_plan with the steps; do not answer the "
    "request yourself."
)
_WORKER = "You carry out one step of a larger task. Do exactly the step asked, completely and concisely."
_SYNTH = (
    "Workers carried out the steps above for this request. Combine their results into one complete answer to the "
    "request. Where a step failed, say what is missing instead of inventing it."
)


@dataclass(frozen=True, slots=True)
class PlanStep:
    instruction: str
    task: str | None = None
    tier: str | None = None
    agent: str | None = None


class Delegate:
    def __init__(
        self,
        planner: str = "opus",
        worker: str = "haiku",
        synthesizer: str = "opus",
        *,
        agents: Mapping[str, Agent] | None = None,
        tasks: TaskMap | None = None,
        step_tiers: Sequence[str] = ("haiku", "sonnet", "opus"),
        concurrency: int = 4,
        step_timeout_s: float | None = 120.0,
        max_steps: int = 8,
        step_retries: int = 1,
        step_fallback: str | None = "sonnet",
        max_retry_after_s: float = 10.0,
        warm_prefix: bool = False,
    ) -> None:
        self.planner, self.worker, self.synthesizer = planner, worker, synthesizer
        self.agents = dict(agents or {})
        self.tasks = tasks
        self.step_tiers = tuple(step_tiers)
        self.concurrency = concurrency
        self.step_timeout_s = step_timeout_s
        self.max_steps = max_steps
        self.step_retries = step_retries
        self.step_fallback = step_fallback
        self.max_retry_after_s = max_retry_after_s
        self.warm_prefix = warm_prefix

    def flow(self, request: Request) -> Flow:
        plan_out = yield Call(self.planner, self.plan_request(request), purpose="plan", reason="plan")
        if not plan_out.ok:
            err = plan_out.error.error_type if plan_out.error else "error"
            return Result(plan_out, Decision(repr(self), None, f"planner failed: {err}"))
        steps = self.parse_plan(plan_out)
        if not steps:
            out = yield Call(self.synthesizer, request, purpose="synthesize", reason="plan empty: answered directly",
                             stream=True)
            return Result(out, Decision(repr(self), out.attempt.tier, "plan empty or invalid: answered directly"))
        done = yield from self._run_steps(request, steps)
        failed = [i for i, o in enumerate(done, 1) if not o.ok]
        prompt = request.with_appended_user_text(_results_block(steps, done))
        out = yield Call(self.synthesizer, prompt, purpose="synthesize", reason=f"synthesize {len(steps)} steps",
                         stream=True)
        reason = f"delegated {len(steps)} steps"
        if failed:
            errs = ", ".join(f"{i} ({_error(done[i - 1])})" for i in failed)
            reason += f"; failed steps: {errs}"
        scores = {"steps": float(len(steps)), "failed_steps": float(len(failed))}
        return Result(out, Decision(repr(self), out.attempt.tier, reason, scores))

    def plan_request(self, request: Request) -> Request:
        system = _PLANNER
        if self.agents:
            listing = "\n".join(f"- {a.name}: {a.description}" for a in self.agents.values())
            system += f"\n\nAgents you may assign a step to (by name):\n{listing}"
        if request.system:
            user_system = request.system if isinstance(request.system, str) else "\n".join(
                str(b.get("text", "")) for b in request.system)
            system += f"\n\nThe user's system prompt, for context:\n{user_system}"
        return Request(messages=request.messages, max_tokens=2048, system=system, tools=(self._plan_tool(),),
                       tool_choice={"type": "tool", "name": MAKE_PLAN}, task="plan", headers=request.headers)

    def parse_plan(self, outcome: Outcome) -> list[PlanStep]:
        raw = outcome.response.tool_input(MAKE_PLAN) if outcome.response is not None else None
        items = raw.get("steps") if raw is not None else None
        steps: list[PlanStep] = []
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, Mapping) or not isinstance(item.get("instruction"), str):
                continue
            if not item["instruction"].strip():
                continue
            steps.append(PlanStep(item["instruction"].strip(), *(_opt(item, k) for k in ("task", "tier", "agent"))))
        return steps[: self.max_steps]

    def target(self, step: PlanStep) -> tuple[str, str | None]:
        """The model for a step, and the agent's system prompt when an agent does it."""
        agent = self.agents.get(step.agent or "")
        if agent is not None:
            return agent.target(inherit=self.planner), agent.prompt or None
        if step.tier in self.step_tiers:
            return step.tier, None
        mapped = self.tasks.target_for(step.task) if self.tasks is not None and step.task else None
        return (mapped if isinstance(mapped, str) else self.worker), None

    def _step_call(self, request: Request, i: int, step: PlanStep, *, target: str | None = None,
                   note: str = "", kind: AttemptKind = "first") -> Call:
        default_target, system = self.target(step)
        if self.warm_prefix:  # the shared part first, as a cached block; the step's own instruction after it
            content: Any = [self._shared_block(request), {"type": "text", "text": step.instruction}]
        else:
            content = f"{step.instruction}\n\n<original_request>\n{request.prompt_text}\n</original_request>"
        req = Request(messages=({"role": "user", "content": content},), max_tokens=request.max_tokens,
                      system=system or _WORKER, task=step.task, headers=request.headers)
        reason = f"step {i}: {step.instruction[:60]}" if not note else f"{note} (step {i})"
        return Call(target or default_target, req, purpose="step", reason=reason, timeout_s=self.step_timeout_s,
                    kind=kind)

    @staticmethod
    def _shared_block(request: Request) -> dict[str, Any]:
        return {"type": "text", "text": f"<original_request>\n{request.prompt_text}\n</original_request>",
                "cache_control": {"type": "ephemeral"}}

    def _warm_calls(self, request: Request, calls: list[Call]) -> tuple[Call, ...]:
        """One `max_tokens: 0` call per model and system prompt that two or more steps share: it writes the
        shared prefix to that model's cache once, so the steps read it instead of each writing it cold."""
        groups: dict[tuple[str, Any], int] = {}
        for c in calls:
            key = (c.target, c.request.system)
            groups[key] = groups.get(key, 0) + 1
        return tuple(
            Call(target, Request(messages=({"role": "user", "content": [self._shared_block(request)]},),
                                 max_tokens=0, system=system, headers=request.headers),
                 purpose="warm", reason=f"warm the prefix {n} steps share", timeout_s=self.step_timeout_s)
            for (target, system), n in groups.items() if n >= 2)

    def _run_steps(self, request: Request, steps: list[PlanStep]) -> Generator[Step, Any, list[Outcome]]:
        calls = [self._step_call(request, i, s) for i, s in enumerate(steps, 1)]
        warm = self._warm_calls(request, calls) if self.warm_prefix else ()
        if warm:  # a failed warm-up only costs the steps their cache reads: they run either way
            yield Parallel(warm, self.concurrency)
        done: list[Outcome] = list((yield Parallel(tuple(calls), self.concurrency)))
        for n in range(self.step_retries + 1):
            last_round = n == self.step_retries
            redo = [i for i, o in enumerate(done) if not o.ok and o.error is not None and o.error.retryable]
            if not redo:
                break
            targets = {i: done[i].call.target for i in redo}
            if last_round:  # the final round goes to the fallback model, when there is one that differs
                redo = [i for i in redo if self.step_fallback and self.step_fallback != targets[i]]
                if not redo:
                    break
            waits = [_retry_after(done[i]) for i in redo]
            if not last_round and max(waits, default=0.0) > 0:
                yield Sleep(min(max(waits), self.max_retry_after_s))
            retry = []
            for i in redo:
                err = _error(done[i])
                note = f"fell back: {err} on {targets[i]}" if last_round else f"retry {n + 1}: {err}"
                target = self.step_fallback if last_round else targets[i]
                retry.append(self._step_call(request, i + 1, steps[i], target=target, note=note,
                                             kind="fallback" if last_round else "retry"))
            again = yield Parallel(tuple(retry), self.concurrency)
            for i, o in zip(redo, again, strict=True):
                done[i] = o
        return done

    def _plan_tool(self) -> Mapping[str, Any]:
        step: dict[str, Any] = {
            "instruction": {"type": "string", "description": "What this step must do, self-contained."},
            "task": {"type": "string", "description": "Optional task type, e.g. extraction, summary, code-review."},
            "tier": {"type": "string", "enum": list(self.step_tiers), "description": "Optional model tier."},
        }
        if self.agents:
            step["agent"] = {"type": "string", "enum": list(self.agents), "description": "Optional agent."}
        return {
            "name": MAKE_PLAN,
            "description": "Record the plan: atomic steps that can run in parallel.",
            "input_schema": {
                "type": "object",
                "properties": {"steps": {"type": "array", "items": {"type": "object", "properties": step,
                                                                    "required": ["instruction"]}}},
                "required": ["steps"],
            },
        }

    def __repr__(self) -> str:
        extra = f", agents={sorted(self.agents)}" if self.agents else ""
        return (f"Delegate(planner={self.planner!r}, worker={self.worker!r}, synthesizer={self.synthesizer!r}"
                f"{extra}, concurrency={self.concurrency})")


def _opt(item: Mapping[str, Any], key: str) -> str | None:
    value = item.get(key)
    return value.strip() if isinstance(value, str) and value.strip() else None


def _error(outcome: Outcome) -> str:
    return outcome.error.error_type if outcome.error is not None else "no answer"


def _retry_after(outcome: Outcome) -> float:
    return outcome.error.retry_after or 0.0 if outcome.error is not None else 0.0


def _results_block(steps: list[PlanStep], done: list[Outcome]) -> str:
    parts = ["<step_results>"]
    for i, (step, out) in enumerate(zip(steps, done, strict=True), 1):
        if out.ok and out.response is not None:
            parts.append(f'<step index="{i}" status="ok">\n<instruction>{step.instruction}</instruction>\n'
                         f"<result>\n{out.response.text}\n</result>\n</step>")
        else:
            parts.append(f'<step index="{i}" status="failed" error="{_error(out)}">\n'
                         f"<instruction>{step.instruction}</instruction>\n<result>(no result)</result>\n</step>")
    parts.append("</step_results>")
    parts.append(_SYNTH)
    return "\n".join(parts)
