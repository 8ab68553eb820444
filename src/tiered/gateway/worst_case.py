"""The most a request can cost before it runs: what the gateway reserves from the caller's daily budget.

One call's bound (`call_cost_bound`):

    call = prompt tokens x the highest input-side price (input, 5-minute or 1-hour cache write)
         + max_tokens    x the output price                                  (per million tokens)

The prompt tokens are the character estimate (`tiered.emulator.tokens.count_input_tokens`, what
/v1/messages/count_tokens answers when no upstream can count) of the request *as that call sends it*
(a cascade's report tool, a planner's or classifier's own instructions included); `max_tokens`
caps the output (thinking included) of that call, up to the model's `max_output`. A cache write
can cost up to twice the plain input price, so the input side is priced at the dearest of the
three rates: without a cache marker that only makes the bound looser, never wrong.

A request's bound (`route_worst_case`) is the sum over the calls its route can make, read from the
route's spec (`tiered.policy_specs`, following named policies), each call priced as above:

    direct     one call at its model
    fallback   the sum over the chain's entries (see below)
    cascade    the sum over its tiers (up to `stop.at_tier`), each at most once: a non-last tier
               with the report tool; with `share_reasoning`, a tier's prompt grows by the cheaper
               tier's draft, bounded by that tier's max_tokens of output
    taskmap    the dearest of its tasks' targets and its default (a packaged map: each catalog tier)
    router     the dearest of its tiers' children, plus the llm scorer's classifier call
    bypass     its router's bound (skipping the scoring only removes a call)
    delegate   the planner (its plan request, max_tokens 2048)
               + max_steps workers at the dearest model a step can go to (its tiers, its worker,
                 its step fallback, the packaged map's tiers with step_tasks, its agents' models),
                 each with the request and the longest agent prompt, the plan's instructions
                 (at most the planner's 2048 output tokens, all steps together) on top
               + the synthesizer, whose prompt grows by every step's result (max_tokens each), the
                 instructions and the results block's own markup
    model/<id> (a requested model, `callable_chain`) the sum over its fallback chain

An answer of n output tokens is taken to read back as at most n input tokens where it becomes part
of a later prompt (a draft, a step result, an instruction): exactly so under the emulator's count,
and near enough under the API's tokenizer.

What is and is not billed twice. A failed call that returns an error response (a 429, a 529, a 5xx,
a non-streamed timeout) costs nothing: its record's cost is zero. So for a whole (non-streamed)
answer the retries of a `Fallback` (or of a delegate's steps) add nothing, and a delegate's failed step
bills only the call that finally answers it: the chain's entries are summed, not their retries. A
*stream* that breaks is billed for what it consumed: after its first token it is not retried (the
client has seen output), but one that breaks after `message_start` and before its first token is
billed its prompt and is retried invisibly. So when the client streams (`stream=True`), each entry of
a fallback chain also counts `retries` prompt-only calls (the entry's bound with `max_tokens` 0).
The record's exact cost is still what is charged when the request ends.

`route_models` (every model a route could call; a packaged task map adds the catalog's tier ladder,
a delegate's agents folder every catalog model) and `worst_case` (one call at the priciest of a set
of models) remain for listings and single-call bounds.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tiered.catalog import Catalog, ModelInfo
from tiered.emulator.tokens import count_input_tokens, estimate_tokens
from tiered.policy_specs import (
    BypassSpec,
    CascadeSpec,
    DelegateSpec,
    DirectSpec,
    FallbackSpec,
    Ref,
    RouterSpec,
    Spec,
    Target,
    TaskMapSpec,
)
from tiered.types import Request

if TYPE_CHECKING:
    from tiered.policies.agents import Agent
    from tiered.scoring.confidence import Reading

_MILLION = Decimal(1_000_000)


def route_models(target: Target, catalog: Catalog, named: Mapping[str, Spec]) -> frozenset[str]:
    """The catalog ids of every model a route (or any target) could call; see the module docstring."""
    out: set[str] = set()
    _collect(target, catalog, named, out, set())
    return frozenset(out)


def _collect(target: Target, catalog: Catalog, named: Mapping[str, Spec], out: set[str], seen: set[str]) -> None:
    def models(names: Iterable[str | None]) -> None:
        out.update(catalog.resolve(n).id for n in names if n is not None)

    def each(targets: Iterable[Target]) -> None:
        for t in targets:
            _collect(t, catalog, named, out, seen)

    if isinstance(target, str):
        models([target])
    elif isinstance(target, Ref):
        if target.name not in seen:  # a cycle is refused when the policy is built; here it just ends
            seen.add(target.name)
            _collect(named[target.name], catalog, named, out, seen)
    elif isinstance(target, DirectSpec):
        models([target.target])
    elif isinstance(target, FallbackSpec):
        each(target.chain)
    elif isinstance(target, CascadeSpec):
        models(target.tiers)
    elif isinstance(target, TaskMapSpec):
        each([*target.tasks.values(), target.default])
        if target.packaged:
            models(catalog.tiers)
    elif isinstance(target, RouterSpec):
        models(target.thresholds.tiers)
        each(target.per_tier.values())
        if target.scorer == "llm":
            models([target.classifier])
    elif isinstance(target, DelegateSpec):
        models([target.planner, target.worker, target.synthesizer, target.step_fallback, *target.step_tiers])
        if target.step_tasks:
            models(catalog.tiers)
        if target.agents_dir:
            out.update(catalog.models)
    elif isinstance(target, BypassSpec):
        each([target.router])
    else:  # a new kind of spec must say which models it calls
        raise TypeError(f"route_models: unknown policy spec {type(target).__name__}")


def call_cost_bound(info: ModelInfo, input_tokens: int, max_tokens: int) -> Decimal:
    """The most one call to `info` with this many prompt tokens and this `max_tokens` can cost (USD).

    Output is counted up to the model's `max_output`: the API refuses a larger `max_tokens` (at no cost)."""
    p = info.prices
    per_input = max(p.input, p.cache_write_5m, p.cache_write_1h, p.cache_read)
    output = min(max(0, max_tokens), info.max_output)
    return (input_tokens * per_input + output * p.output) / _MILLION


def worst_case(body: Mapping[str, Any], models: Iterable[ModelInfo]) -> tuple[Decimal, ModelInfo | None]:
    """The largest `call_cost_bound` of a Messages body over `models`, and the model that gives it."""
    tokens = count_input_tokens(body)
    max_tokens = int(body.get("max_tokens") or 0)
    best: tuple[Decimal, ModelInfo | None] = (Decimal(0), None)
    for info in models:
        bound = call_cost_bound(info, tokens, max_tokens)
        if best[1] is None or bound > best[0]:
            best = (bound, info)
    return best


@dataclass(frozen=True, slots=True)
class Bound:
    """The most a request can cost (USD), over how many calls at most, and its dearest single call's model."""

    usd: Decimal
    calls: int
    dearest: ModelInfo | None
    dearest_usd: Decimal = Decimal(0)

    def times(self, n: int) -> Bound:
        """The same calls made `n` times."""
        return Bound(self.usd * n, self.calls * n, self.dearest, self.dearest_usd)

    def __add__(self, other: Bound) -> Bound:
        top = self if self.dearest_usd >= other.dearest_usd else other
        return Bound(self.usd + other.usd, self.calls + other.calls, top.dearest, top.dearest_usd)


NOTHING = Bound(Decimal(0), 0, None)
RESULT_ERROR_CHARS = 64
"""The longest error name a failed step's entry in the synthesizer's results block is allowed for."""


def route_worst_case(target: Target, request: Request, catalog: Catalog, named: Mapping[str, Spec], *,
                     stream: bool = False) -> Bound:
    """The most `request` can cost on a route (or any target): the sum over the calls it can make.
    `stream`: the client streams, so a fallback's retries of a stream broken before its first token count."""
    return _bound(target, request, catalog, named, frozenset(), stream)


def callable_chain(chain: Iterable[str], request: Request, catalog: Catalog, *, retries: int = 2,
                   stream: bool = False) -> Bound:
    """The bound for a requested model (`model/<id>`): its fallback chain (with the gateway's `retries`)."""
    return route_worst_case(FallbackSpec(tuple(chain), retries=retries), request, catalog, {}, stream=stream)


def _call(name: str, sent: Request, catalog: Catalog, grown: int = 0) -> Bound:
    """One call of `sent` at `name`, its prompt `grown` tokens longer than `sent` is now."""
    info = catalog.resolve(name)
    usd = call_cost_bound(info, count_input_tokens(sent.to_body()) + grown, sent.max_tokens)
    return Bound(usd, 1, info, usd)


def _dearest(bounds: Iterable[Bound]) -> Bound:
    return max(bounds, key=lambda b: (b.usd, b.calls))


def _bound(target: Target, request: Request, catalog: Catalog, named: Mapping[str, Spec],
           seen: frozenset[str], stream: bool) -> Bound:
    def sub(t: Target) -> Bound:
        return _bound(t, request, catalog, named, seen, stream)

    if isinstance(target, str):
        return _call(target, request, catalog)
    if isinstance(target, Ref):
        if target.name in seen:  # a cycle is refused when the policy is built; here it just ends
            return NOTHING
        return _bound(named[target.name], request, catalog, named, seen | {target.name}, stream)
    if isinstance(target, DirectSpec):
        return _call(target.target, request, catalog)
    if isinstance(target, FallbackSpec):
        total = NOTHING
        for t in target.chain:
            total += sub(t)
            if stream and target.retries:  # each retry may be a stream broken before its first token: its prompt
                prompt_only = _bound(t, replace(request, max_tokens=0), catalog, named, seen, stream)
                total += prompt_only.times(target.retries)
        return total
    if isinstance(target, CascadeSpec):
        return _cascade(target, request, catalog)
    if isinstance(target, TaskMapSpec):
        options = [*target.tasks.values(), target.default, *(catalog.tiers if target.packaged else ())]
        return _dearest(sub(t) for t in options)
    if isinstance(target, RouterSpec):
        branches = _dearest(sub(target.per_tier.get(tier, tier)) for tier in target.thresholds.tiers)
        if target.scorer != "llm":
            return branches
        from tiered.scoring.llm import LLMScorer

        return _call(target.classifier, LLMScorer(target.classifier).classify_request(request), catalog) + branches
    if isinstance(target, DelegateSpec):
        return _delegate(target, request, catalog)
    if isinstance(target, BypassSpec):
        return sub(target.router)
    raise TypeError(f"route_worst_case: unknown policy spec {type(target).__name__}")  # a new spec must say


def _cascade(spec: CascadeSpec, request: Request, catalog: Catalog) -> Bound:
    from tiered.policies.cascade import _draft_note
    from tiered.scoring.confidence import can_ask_report, with_report_tool

    tiers = spec.tiers
    if spec.stop.at_tier is not None:  # the climb never goes past its ceiling tier
        tiers = tiers[: tiers.index(spec.stop.at_tier) + 1]
    total = NOTHING
    for i, tier in enumerate(tiers):
        sent, grown = request, 0
        if i and spec.share_reasoning:  # the cheaper tier's draft (at most its max_tokens) is appended
            sent = request.with_appended_user_text(_draft_note(tiers[i - 1], _empty_reading()))
            grown = request.max_tokens
        if spec.self_report and i < len(spec.tiers) - 1 and can_ask_report(request):
            sent = with_report_tool(sent)
        total += _call(tier, sent, catalog, grown)
    return total


def _delegate(spec: DelegateSpec, request: Request, catalog: Catalog) -> Bound:
    from tiered.policies.delegate import Delegate, PlanStep

    agents = _agents(spec.agents_dir) if spec.agents_dir else {}
    d = Delegate(spec.planner, spec.worker, spec.synthesizer, agents=agents, step_tiers=spec.step_tiers,
                 max_steps=spec.max_steps, warm_prefix=spec.warm_prefix)
    plan = d.plan_request(request)
    planner = _call(spec.planner, plan, catalog)
    instructions = plan.max_tokens  # every step's instruction comes out of the one plan
    # A step: the request and its (empty) instruction, under the worker prompt or the longest agent prompt.
    step_input = max(count_input_tokens(d._step_call(request, 1, PlanStep("", agent=a)).request.to_body())
                     for a in [None, *agents])
    names = {spec.worker, *spec.step_tiers, *(catalog.tiers if spec.step_tasks else ()),
             *(a.target(inherit=spec.planner) for a in agents.values())}
    if spec.step_fallback:
        names.add(spec.step_fallback)
    models = [catalog.resolve(n) for n in sorted(names)]
    dearest = max(models, key=lambda m: call_cost_bound(m, step_input, request.max_tokens))
    one_step = call_cost_bound(dearest, step_input, request.max_tokens)
    plan_text = max(call_cost_bound(m, instructions, 0) for m in models)
    steps = Bound(spec.max_steps * one_step + plan_text, spec.max_steps, dearest, one_step)
    if spec.warm_prefix:  # at most one max_tokens 0 warm-up per two steps (it needs two sharing a model)
        warms = spec.max_steps // 2
        steps = steps + Bound(warms * call_cost_bound(dearest, step_input, 0), warms, dearest,
                              call_cost_bound(dearest, step_input, 0))
    # The synthesizer: the request plus the results block (each step's result, its instruction, the markup).
    markup = _results_markup(spec.max_steps)
    synth = _call(spec.synthesizer, request, catalog,
                  markup + spec.max_steps * request.max_tokens + instructions)
    return planner + steps + synth


def _results_markup(steps: int) -> int:
    """Tokens of the synthesizer's results block without its results and instructions: each step's entry
    in its longer form (ok with a result, or failed with an error name), the wrapper and the closing note."""
    from tiered.policies.delegate import _SYNTH

    ok = f'<step index="{steps}" status="ok">\n<instruction></instruction>\n<result>\n\n</result>\n</step>'
    failed = (f'<step index="{steps}" status="failed" error="{"x" * RESULT_ERROR_CHARS}">\n'
              "<instruction></instruction>\n<result>(no result)</result>\n</step>")
    entry = max(len(ok), len(failed)) + 1  # each part is joined by a newline
    return estimate_tokens("<step_results>\n</step_results>\n" + _SYNTH) + steps * estimate_tokens("x" * entry) + 1


@functools.lru_cache(maxsize=32)
def _agents(directory: str) -> Mapping[str, Agent]:
    """The agents a delegate's folder holds, read once (the built policy reads them once too)."""
    from tiered.policies.agents import load_agents

    return load_agents(directory)


def _empty_reading() -> Reading:
    from tiered.scoring.confidence import Features, Reading

    return Reading(0.0, "", "", Features(None, False, False, (), False, 0, False))
