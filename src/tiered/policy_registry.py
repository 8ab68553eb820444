"""The one registry from a policy's config name to how it is parsed and how it is built.

    KINDS["fallback"] = Kind(FallbackSpec.parse, build_fallback)

Parsing turns a table into a frozen spec (`tiered.policy_specs`); building turns a spec into a
policy object (`tiered.policies`). Nothing else maps strings to policies: no model names are split
apart, no kwargs are passed through. Adding a pattern is one spec class, one builder, one line here.
Policy classes are imported inside the builders, so reading a config costs no policy imports.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tiered.catalog import Catalog
from tiered.config_tables import Table
from tiered.errors import ConfigError, ProviderError
from tiered.policies.base import Policy
from tiered.policy_specs import (
    BypassSpec,
    CascadeSpec,
    DelegateSpec,
    DirectSpec,
    FallbackSpec,
    ParseContext,
    Ref,
    RouterSpec,
    Spec,
    Target,
    TaskMapSpec,
)


@dataclass(frozen=True, slots=True)
class Kind:
    parse: Callable[[Table, ParseContext], Spec]
    build: Callable[[Any, BuildContext], Policy]


@dataclass
class SpecReader:
    """The `ParseContext` the config loader uses: nested targets go back through `KINDS`."""

    catalog: Catalog
    policy_names: frozenset[str] = frozenset()
    base_dir: Path | None = None

    def file(self, value: str | None) -> str | None:
        if value is None:
            return None
        path = Path(value).expanduser()
        return str(path if path.is_absolute() or self.base_dir is None else self.base_dir / path)

    def model(self, value: object, path: str) -> str:
        if not isinstance(value, str):
            raise ConfigError(f"{path}: must be a model name (a string)")
        if self.catalog.get(value) is None:
            raise ConfigError(f"{path}: unknown model {value!r}")
        return value

    def target(self, value: object, path: str) -> Target:
        if isinstance(value, str):
            if value in self.policy_names:
                return Ref(value)
            return self.model(value, path)
        return self.policy(Table(value, path))

    def policy(self, t: Table) -> Spec:
        kind = t.choice("policy", tuple(KINDS))
        spec = KINDS[kind].parse(t, self)
        t.done()
        return spec


@dataclass
class BuildContext:
    """What builders share: the catalog and the named policies (each built once, then reused)."""

    catalog: Catalog
    named: Mapping[str, Spec] = field(default_factory=dict)
    health: Callable[[Any], Any] | None = None
    """Makes each fallback's breakers from its BreakerConfig (the gateway's Redis ones); None: in memory."""
    _built: dict[str, Policy] = field(default_factory=dict)
    _building: set[str] = field(default_factory=set)

    def build(self, target: Target) -> Policy | str:
        """A policy for `target`; a plain model name stays a string (policies read it as `Direct`)."""
        if isinstance(target, str):
            return target
        if isinstance(target, Ref):
            return self.named_policy(target.name)
        return KINDS[kind_of(target)].build(target, self)

    def policy(self, target: Target) -> Policy:
        from tiered.policies.direct import as_policy

        return as_policy(self.build(target))

    def named_policy(self, name: str) -> Policy:
        if name in self._built:
            return self._built[name]
        if name in self._building:
            raise ConfigError(f"policies.{name}: refers to itself (a cycle of named policies)")
        self._building.add(name)
        try:
            policy = self.policy(self.named[name])
        finally:
            self._building.discard(name)
        self._built[name] = policy
        return policy


def _error_types(names: tuple[str, ...]) -> tuple[type[ProviderError], ...]:
    from tiered import errors

    by_name: dict[str, type[ProviderError]] = {
        "rate_limit": errors.RateLimited, "overloaded": errors.Overloaded, "server_error": errors.ServerError,
        "timeout": errors.UpstreamTimeout, "connection": errors.ConnectionFailed,
    }
    return tuple(by_name[n] for n in names)


def build_direct(spec: DirectSpec, ctx: BuildContext) -> Policy:
    from tiered.policies.direct import Direct

    return Direct(spec.target, timeout_s=spec.timeout_s)


def build_fallback(spec: FallbackSpec, ctx: BuildContext) -> Policy:
    from tiered.policies.fallback import Backoff, Fallback
    from tiered.policies.triggers import on, retryable
    from tiered.runtime.health import BreakerConfig, Breakers

    b = spec.backoff
    fallback_on = retryable() if "retryable" in spec.fallback_on else on(*_error_types(spec.fallback_on))
    return Fallback(
        *(ctx.build(t) for t in spec.chain),
        retries=spec.retries,
        backoff=Backoff(b.base_s, b.max_s, b.jitter),
        max_retry_after_s=spec.max_retry_after_s,
        fallback_on=fallback_on,
        health=(ctx.health or Breakers)(BreakerConfig(spec.breaker.failure_threshold, spec.breaker.cooldown_s)),
        catalog=ctx.catalog,
    )


def build_cascade(spec: CascadeSpec, ctx: BuildContext) -> Policy:
    from tiered.policies.cascade import Cascade
    from tiered.policies.taskmap import load_task_floors
    from tiered.policies.triggers import (
        Condition,
        Progress,
        at_tier,
        elapsed_over,
        hedged,
        invalid_report,
        low_confidence,
        never,
        refused,
        spent_over,
    )
    from tiered.scoring.confidence import ConfidenceEstimator, Reading

    e = spec.escalate_when

    def trigger(i: int) -> Condition[Reading]:
        escalate: list[Condition[Reading]] = []
        bar = e.bar(i)
        if bar is not None:
            escalate.append(low_confidence(bar))
        if e.hedged:
            escalate.append(hedged(e.hedged))
        if e.refused:
            escalate.append(refused())
        if e.invalid_report:
            escalate.append(invalid_report())
        return _any(escalate) if escalate else never()

    per_tier = isinstance(e.confidence_below, tuple)
    escalate_when = {t: trigger(i) for i, t in enumerate(spec.tiers[:-1])} if per_tier else trigger(0)
    stops: list[Condition[Progress]] = []
    if spec.stop.spent_over_usd is not None:
        stops.append(spent_over(spec.stop.spent_over_usd))
    if spec.stop.elapsed_over_s is not None:
        stops.append(elapsed_over(spec.stop.elapsed_over_s))
    if spec.stop.at_tier is not None:
        stops.append(at_tier(spec.stop.at_tier))
    confidence = None
    if spec.confidence == "learned":
        from tiered.scoring.calibrator import load_calibrator

        confidence = ConfidenceEstimator(calibrator=load_calibrator(spec.calibrator_path))
    return Cascade(
        spec.tiers,
        escalate_when=escalate_when,
        stop=_any(stops) if stops else None,
        confidence=confidence,
        self_report=spec.self_report,
        share_reasoning=spec.share_reasoning,
        floors=_floors_on(load_task_floors(), spec.tiers, ctx.catalog) if spec.floors is None else spec.floors,
    )


def _any(conditions: list[Any]) -> Any:
    out = conditions[0]
    for c in conditions[1:]:
        out = out | c
    return out


def build_taskmap(spec: TaskMapSpec, ctx: BuildContext) -> Policy:
    from tiered.policies.taskmap import TaskMap

    tasks = {name: ctx.build(t) for name, t in spec.tasks.items()}
    if spec.packaged:
        return TaskMap.default_map(default=ctx.build(spec.default), overrides=tasks)
    return TaskMap(tasks, default=ctx.build(spec.default))


def build_router(spec: RouterSpec, ctx: BuildContext) -> Policy:
    from tiered.policies.affinity import MemoryAffinity
    from tiered.policies.cache_aware import CacheAware
    from tiered.policies.router import ComplexityRouter
    from tiered.policies.taskmap import load_task_floors
    from tiered.scoring.base import Thresholds
    from tiered.scoring.stepwise import ScorerLike

    scorer: ScorerLike
    if spec.scorer == "learned":
        from tiered.scoring.learned import load_router

        scorer = load_router(spec.scorer_path)
    elif spec.scorer == "llm":
        from tiered.scoring.llm import LLMScorer

        scorer = LLMScorer(target=spec.classifier)
    else:
        from tiered.scoring.heuristic import HeuristicScorer

        scorer = HeuristicScorer()
    return ComplexityRouter(
        scorer,
        Thresholds.of(spec.thresholds.tiers, spec.thresholds.cuts),
        tiers={name: ctx.build(t) for name, t in spec.per_tier.items()},
        affinity=MemoryAffinity() if spec.affinity else None,
        affinity_ttl_s=spec.affinity_ttl_s,
        floors=_floors_on(load_task_floors(), spec.thresholds.tiers, ctx.catalog) if spec.floors is None
        else spec.floors,
        cache=CacheAware(ctx.catalog) if spec.cache_aware else None,
    )


def _floors_on(floors: Mapping[str, str], tiers: tuple[str, ...], catalog: Catalog) -> dict[str, str]:
    """The packaged floors (tier names) as the router's own tiers (which may be aliases or ids): each floor
    becomes the cheapest of them at least as strong; a floor above all of them is dropped."""
    ranks = [catalog.tier_rank(catalog.resolve(t).tier) for t in tiers]
    out: dict[str, str] = {}
    for task, floor in floors.items():
        info = catalog.get(floor)
        if info is None:
            continue
        need = catalog.tier_rank(info.tier)
        fit = next((t for t, r in zip(tiers, ranks, strict=True) if r >= need), None)
        if fit is not None:
            out[task] = fit
    return out


def build_delegate(spec: DelegateSpec, ctx: BuildContext) -> Policy:
    from tiered.policies.agents import load_agents
    from tiered.policies.delegate import Delegate
    from tiered.policies.taskmap import TaskMap

    return Delegate(
        spec.planner, spec.worker, spec.synthesizer,
        agents=load_agents(spec.agents_dir) if spec.agents_dir else None,
        tasks=TaskMap.default_map(default=spec.worker) if spec.step_tasks else None,
        step_tiers=spec.step_tiers, concurrency=spec.concurrency, step_timeout_s=spec.step_timeout_s,
        max_steps=spec.max_steps, step_retries=spec.step_retries, step_fallback=spec.step_fallback,
        max_retry_after_s=spec.max_retry_after_s, warm_prefix=spec.warm_prefix,
    )


def build_bypass(spec: BypassSpec, ctx: BuildContext) -> Policy:
    from tiered.policies.bypass import Bypass
    from tiered.policies.router import ComplexityRouter

    router = ctx.policy(spec.router)
    if not isinstance(router, ComplexityRouter):
        raise ConfigError(f"bypass: {spec.router!r} is not a router policy")
    return Bypass(router, share=spec.share, window=spec.window, min_samples=spec.min_samples,
                  probe_every=spec.probe_every, baseline=spec.baseline, latency_usd_per_s=spec.latency_usd_per_s,
                  catalog=ctx.catalog)


KINDS: dict[str, Kind] = {
    "direct": Kind(DirectSpec.parse, build_direct),
    "fallback": Kind(FallbackSpec.parse, build_fallback),
    "cascade": Kind(CascadeSpec.parse, build_cascade),
    "taskmap": Kind(TaskMapSpec.parse, build_taskmap),
    "router": Kind(RouterSpec.parse, build_router),
    "delegate": Kind(DelegateSpec.parse, build_delegate),
    "bypass": Kind(BypassSpec.parse, build_bypass),
}
_SPEC_KIND: dict[type[Any], str] = {
    DirectSpec: "direct", FallbackSpec: "fallback", CascadeSpec: "cascade", TaskMapSpec: "taskmap",
    RouterSpec: "router", DelegateSpec: "delegate", BypassSpec: "bypass",
}


def kind_of(spec: Spec) -> str:
    return _SPEC_KIND[type(spec)]
