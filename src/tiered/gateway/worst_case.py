"""The most a request can cost before it runs: what the gateway reserves from the caller's daily budget.

    worst = prompt tokens x the highest input-side price (input, 5-minute or 1-hour cache write)
          + max_tokens    x the output price                                  (per million tokens)

taken at whichever model the request's route could call makes that largest. The prompt tokens are
the count /v1/messages/count_tokens answers (`tiered.emulator.tokens.count_input_tokens`, the
emulator's character estimate); `max_tokens` caps the output (thinking included) of any one call.
A cache write can cost up to twice the plain input price, so the input side is priced at the
dearest of the three rates: without a cache marker that only makes the bound looser, never wrong.

Which models a route could call (`route_models`) is read from its spec (`tiered.policy_specs`), not
from the built policy: every model a direct, fallback chain, cascade, task map, router (its tiers,
its per-tier children, the llm scorer's classifier), delegate or bypass names, following named
policies. Where the models come from a file the spec does not hold, the set widens: a packaged
task map adds the catalog's tier ladder (the packaged map names only tiers), and a delegate's
agents folder adds every catalog model (an agent may name any model id). A model requested
directly (`model/<id>`) can call its fallback chain. Taking the priciest model of that set is the
simplest bound that holds for a single call whichever branch the policy takes.

It is a bound per *call*: a cascade that escalates, a delegate's several steps, the llm scorer's
classifier call and a stream that broke before a fallback answered each make more than one call,
and can cost more than this. Their exact cost is still what is charged when the request ends.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from tiered.catalog import Catalog, ModelInfo
from tiered.emulator.tokens import count_input_tokens
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
    """The most one call to `info` with this many prompt tokens and this `max_tokens` can cost (USD)."""
    p = info.prices
    per_input = max(p.input, p.cache_write_5m, p.cache_write_1h, p.cache_read)
    return (input_tokens * per_input + max(0, max_tokens) * p.output) / _MILLION


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
