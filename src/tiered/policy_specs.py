"""What a policy table in the config says, as frozen dataclasses: parsed and checked before anything is built.

Each routing pattern has one spec, read from a table whose `policy` key names it:

    direct    target, timeout_s
    fallback  chain = [target, ...], retries, max_retry_after_s, fallback_on, backoff{}, breaker{}
    cascade   tiers = [model, ...], escalate_when{}, stop{}, self_report, share_reasoning, confidence,
              calibrator_path, floors = {task = tier}
    taskmap   tasks = {task = target}, default = target, packaged
    router    scorer, scorer_path, classifier, thresholds = {tiers, cuts}, per_tier = {tier = target}, affinity,
              floors = {task = tier}, cache_aware
    delegate  planner, worker, synthesizer, agents_dir, step_tasks, concurrency, max_steps, step_*, warm_prefix
    bypass    router = router target, share, window, min_samples, probe_every, baseline

A *target* is a model (tier name, alias or id; checked against the catalog at load time), the name of
a policy declared under `[policies]`, or a nested policy table. That is how the patterns compose:
`fallback(cascade(...), "opus")`, `taskmap(default = router(...))`. The specs hold no objects, so a
config can be compared, printed and tested without building a model or reading a key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, TypeAlias

from tiered.config_tables import Table
from tiered.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Ref:
    """A reference to a policy declared under `[policies]`, by name."""

    name: str


class ParseContext(Protocol):
    """What a spec parser needs from outside: how to read a nested target and check a model name."""

    def target(self, value: object, path: str) -> Target: ...

    def model(self, value: object, path: str) -> str: ...

    def file(self, value: str | None) -> str | None:
        """A path as written in the config, made relative to the config file's folder."""
        ...


@dataclass(frozen=True, slots=True)
class DirectSpec:
    target: str
    timeout_s: float | None = None

    @classmethod
    def parse(cls, t: Table, ctx: ParseContext) -> DirectSpec:
        return cls(ctx.model(t.raw("target"), t.at("target")), t.number("timeout_s", None))


@dataclass(frozen=True, slots=True)
class BackoffSpec:
    base_s: float = 0.5
    max_s: float = 8.0
    jitter: float = 0.25

    @classmethod
    def parse(cls, t: Table | None) -> BackoffSpec:
        if t is None:
            return cls()
        spec = cls(t.number("base_s", 0.5), t.number("max_s", 8.0), t.number("jitter", 0.25))
        t.done()
        if spec.jitter > 1:
            raise ConfigError(f"{t.at('jitter')}: must be at most 1, got {spec.jitter:g}")
        return spec


@dataclass(frozen=True, slots=True)
class BreakerSpec:
    failure_threshold: int = 5
    cooldown_s: float = 30.0

    @classmethod
    def parse(cls, t: Table | None) -> BreakerSpec:
        if t is None:
            return cls()
        spec = cls(t.integer("failure_threshold", 5, minimum=1),
                   t.number("cooldown_s", 30.0))
        t.done()
        return spec


FALLBACK_ON = ("retryable", "rate_limit", "overloaded", "server_error", "timeout", "connection")
"""Names for `fallback_on`: error kinds (matched on tiered's error types), or "retryable" for all of them."""


@dataclass(frozen=True, slots=True)
class FallbackSpec:
    chain: tuple[Target, ...]
    retries: int = 2
    max_retry_after_s: float = 30.0
    fallback_on: tuple[str, ...] = ("retryable",)
    backoff: BackoffSpec = field(default_factory=BackoffSpec)
    breaker: BreakerSpec = field(default_factory=BreakerSpec)

    @classmethod
    def parse(cls, t: Table, ctx: ParseContext) -> FallbackSpec:
        raw = t.raw("chain")
        if not isinstance(raw, list) or not raw:
            raise ConfigError(f"{t.at('chain')}: must be a non-empty list of models or policies")
        chain = tuple(ctx.target(v, f"{t.at('chain')}[{i}]") for i, v in enumerate(raw))
        on = t.texts("fallback_on", ("retryable",), non_empty=True)
        for name in on:
            if name not in FALLBACK_ON:
                raise ConfigError(f"{t.at('fallback_on')}: unknown error kind {name!r}; "
                                  f"known: {', '.join(FALLBACK_ON)}")
        return cls(chain, t.integer("retries", 2), t.number("max_retry_after_s", 30.0), on,
                   BackoffSpec.parse(t.table("backoff")), BreakerSpec.parse(t.table("breaker")))


@dataclass(frozen=True, slots=True)
class EscalateSpec:
    """When a cascade moves up a tier: any of these that is set triggers it."""

    confidence_below: float | tuple[float, ...] | None = 0.7
    """One bar for every tier, or one per tier but the last (the design note's `[0.85, 0.8]`)."""
    hedged: int = 0
    """Escalate when the answer hedges at least this many times (0: never on hedging alone)."""
    refused: bool = True
    invalid_report: bool = True

    @classmethod
    def parse(cls, t: Table | None) -> EscalateSpec:
        if t is None:
            return cls()
        below: float | tuple[float, ...] = (t.numbers("confidence_below")
                                            if isinstance(t.raw("confidence_below", None), list)
                                            else t.number("confidence_below", 0.7))
        spec = cls(below, t.integer("hedged", 0), t.flag("refused", True), t.flag("invalid_report", True))
        t.done()
        bars = below if isinstance(below, tuple) else (below,)
        if not bars or any(not 0 <= b <= 1 for b in bars):
            raise ConfigError(f"{t.at('confidence_below')}: a confidence is between 0 and 1")
        return spec

    def bar(self, i: int) -> float | None:
        """The confidence bar of the cascade's i-th tier."""
        b = self.confidence_below
        return b[i] if isinstance(b, tuple) else b


@dataclass(frozen=True, slots=True)
class StopSpec:
    """When a cascade stops climbing early: a cost cap, a deadline, or a ceiling tier."""

    spent_over_usd: float | None = None
    elapsed_over_s: float | None = None
    at_tier: str | None = None

    @classmethod
    def parse(cls, t: Table | None, ctx: ParseContext) -> StopSpec:
        if t is None:
            return cls()
        tier = t.text("at_tier", None)
        spec = cls(t.number("spent_over_usd", None), t.number("elapsed_over_s", None),
                   None if tier is None else ctx.model(tier, t.at("at_tier")))
        t.done()
        return spec


CONFIDENCES = ("heuristic", "learned")


@dataclass(frozen=True, slots=True)
class CascadeSpec:
    tiers: tuple[str, ...]
    escalate_when: EscalateSpec = field(default_factory=EscalateSpec)
    stop: StopSpec = field(default_factory=StopSpec)
    self_report: bool = True
    share_reasoning: bool = True
    """Pass the cheaper tier's draft (answer and reasoning) up when escalating, as the design note does."""
    confidence: str = "heuristic"
    """heuristic (self-report combined with hand-set heuristics) or learned (a fitted calibrator reads the
    same signals: `calibrator_path`, or the packaged one)."""
    calibrator_path: str | None = None
    floors: Mapping[str, str] | None = None
    """task -> the tier the climb starts at for that task (declared or recognised); None: the packaged
    floors; `floors = {}` for none."""

    @classmethod
    def parse(cls, t: Table, ctx: ParseContext) -> CascadeSpec:
        tiers = t.texts("tiers", non_empty=True)
        spec = cls(tuple(ctx.model(m, f"{t.at('tiers')}[{i}]") for i, m in enumerate(tiers)),
                   EscalateSpec.parse(t.table("escalate_when")), StopSpec.parse(t.table("stop"), ctx),
                   t.flag("self_report", True), t.flag("share_reasoning", True),
                   t.choice("confidence", CONFIDENCES, "heuristic"), ctx.file(t.text("calibrator_path", None)),
                   _floors(t, ctx))
        if spec.stop.at_tier is not None and spec.stop.at_tier not in spec.tiers:
            raise ConfigError(f"{t.at('stop.at_tier')}: {spec.stop.at_tier!r} is not one of the cascade's tiers")
        below = spec.escalate_when.confidence_below
        if isinstance(below, tuple) and len(below) != len(spec.tiers) - 1:
            raise ConfigError(f"{t.at('escalate_when.confidence_below')}: {len(spec.tiers)} tiers need "
                              f"{len(spec.tiers) - 1} bars (one per tier but the last), got {len(below)}")
        for name, tier in (spec.floors or {}).items():
            if tier not in spec.tiers:
                raise ConfigError(f"{t.at('floors')}.{name}: {tier!r} is not one of the cascade's tiers")
        if spec.calibrator_path is not None and spec.confidence != "learned":
            raise ConfigError(f"{t.at('calibrator_path')}: only the learned confidence reads a file")
        return spec


@dataclass(frozen=True, slots=True)
class TaskMapSpec:
    """Task-specific routing: the caller's declared task picks the target; anything else goes to `default`."""

    tasks: Mapping[str, Target]
    default: Target
    packaged: bool = False
    """Start from tiered's packaged task map (commit-message -> haiku, code-review -> opus, ...)."""

    @classmethod
    def parse(cls, t: Table, ctx: ParseContext) -> TaskMapSpec:
        tasks = t.table("tasks")
        mapped = {name: ctx.target(tasks.raw(name), tasks.at(name)) for name in tasks.names()} if tasks else {}
        packaged = t.flag("packaged", False)
        if not mapped and not packaged:
            raise ConfigError(f"{t.at('tasks')}: map at least one task, or set packaged = true")
        return cls(mapped, ctx.target(t.raw("default"), t.at("default")), packaged)


SCORERS = ("heuristic", "learned", "llm")
DEFAULT_CUTS: Mapping[str, tuple[float, ...]] = {
    "heuristic": (0.3, 0.6),
    "llm": (1 / 3, 2 / 3),
    # The shipped learned router's scores are standardised difficulties, not [0, 1]: these cuts split the
    # 13,142 prompts it was trained on about 44% haiku / 31% sonnet / 25% opus. `tiered calibrate` fits
    # cuts to a cost or quality target instead.
    "learned": (0.0, 0.55),
}


@dataclass(frozen=True, slots=True)
class ThresholdsSpec:
    tiers: tuple[str, ...] = ("haiku", "sonnet", "opus")
    cuts: tuple[float, ...] = (0.3, 0.6)

    @classmethod
    def parse(cls, t: Table | None, ctx: ParseContext, default_cuts: tuple[float, ...]) -> ThresholdsSpec:
        if t is None:
            return cls(cuts=default_cuts)
        tiers = t.texts("tiers", ("haiku", "sonnet", "opus"), non_empty=True)
        spec = cls(tuple(ctx.model(m, f"{t.at('tiers')}[{i}]") for i, m in enumerate(tiers)), t.numbers("cuts"))
        t.done()
        if len(spec.cuts) != len(spec.tiers) - 1:
            raise ConfigError(f"{t.at('cuts')}: {len(spec.tiers)} tiers need {len(spec.tiers) - 1} cuts, "
                              f"got {len(spec.cuts)}")
        if list(spec.cuts) != sorted(spec.cuts):
            raise ConfigError(f"{t.at('cuts')}: must not decrease")
        return spec


@dataclass(frozen=True, slots=True)
class RouterSpec:
    """Pre-classification: a scorer gives the request a difficulty; thresholds map it to a tier."""

    thresholds: ThresholdsSpec = field(default_factory=ThresholdsSpec)
    scorer: str = "heuristic"
    """heuristic (cheap text cues), learned (a trained scorer; `scorer_path` or the packaged one), or
    llm (a cheap model labels the request: one extra call, which the record shows)."""
    scorer_path: str | None = None
    classifier: str = "haiku"
    """The model the llm scorer asks."""
    per_tier: Mapping[str, Target] = field(default_factory=dict)
    """A child policy per tier (default: that tier, directly)."""
    affinity: bool = False
    """Keep a conversation's follow-up turns at least at the tier it reached."""
    affinity_ttl_s: float = 3600.0
    floors: Mapping[str, str] | None = None
    """task -> the lowest tier that task may go to, applied to a declared task and to one recognised
    from the text (a code review request says so). None: the packaged floors (code review at least on
    sonnet, as the design note says); `floors = {}` turns them off."""
    cache_aware: bool = False
    """Weigh each tier's prompt-cache reads and writes: the scored tier is a floor, and a stronger tier
    whose cache is warm answers when that is cheaper (`tiered.policies.cache_aware`)."""

    @classmethod
    def parse(cls, t: Table, ctx: ParseContext) -> RouterSpec:
        scorer = t.choice("scorer", SCORERS, "heuristic")
        default_cuts = DEFAULT_CUTS[scorer]
        thresholds = ThresholdsSpec.parse(t.table("thresholds"), ctx, default_cuts)
        per = t.table("per_tier")
        per_tier = {name: ctx.target(per.raw(name), per.at(name)) for name in per.names()} if per else {}
        for name in per_tier:
            if name not in thresholds.tiers:
                raise ConfigError(f"{t.at('per_tier')}.{name}: not one of the thresholds' tiers")
        path = ctx.file(t.text("scorer_path", None))
        if path is not None and scorer != "learned":
            raise ConfigError(f"{t.at('scorer_path')}: only the learned scorer reads a file")
        floors = _floors(t, ctx)
        for name, tier in (floors or {}).items():
            if tier not in thresholds.tiers:
                raise ConfigError(f"{t.at('floors')}.{name}: {tier!r} is not one of the thresholds' tiers")
        return cls(thresholds, scorer, path, ctx.model(t.raw("classifier", "haiku"), t.at("classifier")),
                   per_tier, t.flag("affinity", False), t.number("affinity_ttl_s", 3600.0), floors,
                   t.flag("cache_aware", False))


def _floors(t: Table, ctx: ParseContext) -> dict[str, str] | None:
    """A `floors = {task = tier}` table, or None when absent (the packaged floors then apply)."""
    table = t.table("floors")
    return None if table is None else {name: ctx.model(table.raw(name), table.at(name)) for name in table.names()}


@dataclass(frozen=True, slots=True)
class DelegateSpec:
    """Orchestrator/workers: plan on a strong tier, run the steps on cheap ones in parallel, synthesise."""

    planner: str = "opus"
    worker: str = "haiku"
    synthesizer: str = "opus"
    agents_dir: str | None = None
    """A folder of Claude Code style agent files (markdown + front matter) the planner may assign."""
    step_tasks: bool = False
    """Send a step whose plan names a task type to that task's tier in the packaged task map."""
    step_tiers: tuple[str, ...] = ("haiku", "sonnet", "opus")
    concurrency: int = 4
    step_timeout_s: float | None = 120.0
    max_steps: int = 8
    step_retries: int = 1
    step_fallback: str | None = "sonnet"
    max_retry_after_s: float = 10.0
    warm_prefix: bool = False
    """Warm the prefix steps share with one max_tokens 0 call per model before fanning out."""

    @classmethod
    def parse(cls, t: Table, ctx: ParseContext) -> DelegateSpec:
        def model(key: str, default: str) -> str:
            return ctx.model(t.raw(key, default), t.at(key))

        fallback = t.raw("step_fallback", "sonnet")
        tiers = t.texts("step_tiers", ("haiku", "sonnet", "opus"), non_empty=True)
        return cls(
            model("planner", "opus"), model("worker", "haiku"), model("synthesizer", "opus"),
            ctx.file(t.text("agents_dir", None)), t.flag("step_tasks", False),
            tuple(ctx.model(m, f"{t.at('step_tiers')}[{i}]") for i, m in enumerate(tiers)),
            t.integer("concurrency", 4, minimum=1), t.number("step_timeout_s", 120.0),
            t.integer("max_steps", 8, minimum=1), t.integer("step_retries", 1),
            None if fallback == "" else ctx.model(fallback, t.at("step_fallback")),
            t.number("max_retry_after_s", 10.0), t.flag("warm_prefix", False),
        )


@dataclass(frozen=True, slots=True)
class BypassSpec:
    """Skip a router's scoring while one tier takes most of the traffic, or scoring costs more than it saves."""

    router: RouterSpec | Ref
    share: float = 0.8
    window: int = 200
    min_samples: int | None = None
    probe_every: int = 10
    baseline: str | None = None
    """The tier the route would use with no router (default: the router's top tier), to price savings."""
    latency_usd_per_s: float = 0.0

    @classmethod
    def parse(cls, t: Table, ctx: ParseContext) -> BypassSpec:
        router = ctx.target(t.raw("router"), t.at("router"))
        if not isinstance(router, RouterSpec | Ref):
            raise ConfigError(f"{t.at('router')}: bypass wraps a router policy (policy = \"router\")")
        share = t.number("share", 0.8)
        if share > 1:
            raise ConfigError(f"{t.at('share')}: a share is at most 1, got {share:g}")
        baseline = t.raw("baseline", None)
        return cls(router, share, t.integer("window", 200, minimum=1), t.integer("min_samples", None, minimum=1),
                   t.integer("probe_every", 10, minimum=1),
                   None if baseline is None else ctx.model(baseline, t.at("baseline")),
                   t.number("latency_usd_per_s", 0.0))


Spec: TypeAlias = (
    DirectSpec | FallbackSpec | CascadeSpec | TaskMapSpec | RouterSpec | DelegateSpec | BypassSpec
)
Target: TypeAlias = str | Ref | Spec
"""A model name, a named policy, or a nested policy spec."""
