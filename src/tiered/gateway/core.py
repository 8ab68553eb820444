"""What every endpoint shares: the routes, the models, the limits, the record keeping.

The gateway is an adapter: it turns HTTP into a `Request`, asks `Selector` for the policy, runs it
with the library's driver (`tiered.runtime.driver.run` / `tiered.runtime.streaming.stream`), and
turns the `Run` back into HTTP. Nothing here routes, retries or prices; the policies and the driver
do, exactly as they do for a library caller, so the gateway and the library cannot disagree.

Per request: the caller is authenticated (`auth`), its requests-per-minute and USD-per-day are
checked (`limits`, or `redis_limits` for a fleet), the policy runs, and the record goes to the sinks
through one background writer (`recorder`) and to the Prometheus counters (`metrics`), once.

The daily budget is held, not just checked: before the policy runs, `reserve` holds the request's
worst-case cost (`tiered.gateway.worst_case`: summed over every call its route can make) against the
caller's budget in one atomic step, and refuses with 429 when today's spend plus every hold in flight
plus this one would pass the budget.
When the request ends, by whatever path (an answer, an upstream error, a broken stream, a client
that left, a bug), `settle` releases the hold and charges the record's exact cost, once.
"""

from __future__ import annotations

import asyncio
import decimal
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tiered.config import Config
from tiered.errors import ConfigError, TieredError
from tiered.gateway.auth import Authenticator
from tiered.gateway.learning import Learning
from tiered.gateway.limits import Limits, MemoryLimits, seconds_to_midnight
from tiered.gateway.metrics import Metrics
from tiered.gateway.recorder import Recorder
from tiered.gateway.selection import Selector
from tiered.gateway.settings import GatewaySettings
from tiered.gateway.wire import HttpError, Scope, header, retry_after_headers
from tiered.gateway.worst_case import Bound, callable_chain, route_worst_case
from tiered.pricing import format_usd
from tiered.records import Attempt, Record
from tiered.routes import OnDemandModels
from tiered.types import Request

log = logging.getLogger("tiered.gateway")
PASS_THROUGH_CLIENTS = 256
FORWARDED = (b"anthropic-version", b"anthropic-beta")
"""Client headers sent upstream unchanged (Claude Code needs both). Nothing else is forwarded."""


@dataclass
class Context:
    """One request as the gateway sees it."""

    trace_id: str
    caller: str = "anonymous"
    route: str = ""
    started: float = 0.0
    recorded: bool = False
    """A policy ran, so the request has a record (the metrics counted it; the app must not again)."""
    upstream_key: str | None = field(default=None, repr=False)
    """The caller's key, kept only in pass-through mode, to call the upstream with."""
    hold: str | None = None
    """The id of this request's budget hold while it is outstanding (`Core.reserve` .. `Core.settle`)."""

    @property
    def request_id(self) -> str:
        return f"req_tiered_{self.trace_id}"


class Core:
    def __init__(self, config: Config, settings: GatewaySettings, *, sinks: list[Any] | None = None,
                 env: Mapping[str, str] | None = None) -> None:
        """`sinks` default to the ones `[telemetry]` names; pass [] to keep no request log."""
        self.config = config
        self.settings = settings
        self.catalog = config.catalog
        self.auth = Authenticator(settings.keys)
        self.metrics = Metrics()
        self.models = OnDemandModels(config, env=env)
        self._keyed: dict[str, OnDemandModels] = {}
        self._closing: set[asyncio.Future[None]] = set()
        if sinks is None:
            from tiered.telemetry.configured import open_sinks

            sinks = open_sinks(config.telemetry, env=env)
        self.learning = _learning(config, settings, sinks)
        self.recorder = Recorder([*sinks, *self.learning.sinks] if self.learning else sinks)
        self.limits: Limits
        health: Any = None
        if settings.redis_url:
            import redis

            from tiered.gateway.redis_limits import RedisLimits
            from tiered.runtime.redis_state import RedisBreakers

            self.limits = RedisLimits(settings.redis_url)
            client = redis.Redis.from_url(settings.redis_url, socket_timeout=1.0, socket_connect_timeout=1.0)
            health = lambda cfg: RedisBreakers(client, cfg)  # noqa: E731 - a one-line factory
        else:
            self.limits = MemoryLimits()
        self.selector = Selector(config, settings, health=health)
        self.selector.check()
        if self.learning is not None:
            self.learning.bind(self)

    def models_for(self, ctx: Context) -> OnDemandModels:
        """The models that answer this caller: the shared ones, or in pass-through mode ones built with
        the caller's own key (kept for the most recent `PASS_THROUGH_CLIENTS` callers)."""
        if not self.settings.pass_through_key:
            return self.models
        if not ctx.upstream_key:
            raise HttpError(401, "authentication_error", "x-api-key or Authorization: Bearer header is required")
        keyed = self._keyed.pop(ctx.caller, None)
        if keyed is None:
            var = self.config.backend.api_key_env or "ANTHROPIC_API_KEY"
            keyed = OnDemandModels(self.config, env={var: ctx.upstream_key})
        self._keyed[ctx.caller] = keyed  # most recent last
        while len(self._keyed) > PASS_THROUGH_CLIENTS:  # close the least recent caller's clients
            old = self._keyed.pop(next(iter(self._keyed)))
            self._closing = {t for t in self._closing if not t.done()}
            self._closing.add(asyncio.ensure_future(old.aclose()))
        return keyed

    @property
    def sinks(self) -> tuple[Any, ...]:
        """What the driver hands each record to: the request log (off-loop) and the counters."""
        return (self.recorder, self.metrics)

    def note(self, ctx: Context, route: str, request: Request) -> None:
        """Before a policy runs: remember who made the request, and what it asked on a learning route."""
        if self.learning is not None:
            self.learning.note(ctx.trace_id, ctx.caller, route, request)

    def wants_answer_text(self, route: str) -> bool:
        """Whether the learning loop may compare this route's answers in the shadow (a stream then keeps its text)."""
        return self.learning is not None and self.learning.shadows(route)

    def after(self, ctx: Context, route: str, request: Request, text: str, record: Record) -> None:
        """After the answer (its text) went out: the learning loop may compare it in the shadow (never delays it)."""
        if self.learning is not None:
            self.learning.after(ctx.trace_id, route, request, text, record)

    async def admit(self, ctx: Context) -> None:
        """Refuse with 429 rate_limit_error when the caller is over its rate (the budget is `reserve`'s)."""
        s = self.settings
        if s.requests_per_minute is not None:
            verdict = await self.limits.hit(ctx.caller, s.requests_per_minute)
            if not verdict.allowed:
                raise HttpError(429, "rate_limit_error",
                                f"rate limit of {s.requests_per_minute} requests per minute exceeded for this key",
                                retry_after_headers(verdict.retry_after_s))

    async def reserve(self, ctx: Context, route: str, request: Request, *, stream: bool = False) -> None:
        """Hold the request's worst-case cost against the caller's daily budget, or refuse with 429
        rate_limit_error when spent + held by requests in flight + this worst case would pass it.

        `route` is the `Selected.route` the request runs on; `stream`, whether the client streams. Call right
        before the policy runs, and `settle` on every path after it (see the module docstring).
        """
        budget = self.settings.usd_per_day
        if budget is None:
            return
        bound = self.worst_case(route, request, stream=stream)
        worst, model = bound.usd, bound.dearest
        hold = await self.limits.reserve(ctx.caller, ctx.trace_id, worst, budget)
        if hold.granted:
            ctx.hold = ctx.trace_id
            return
        # The SDKs honour any retry-after: without x-should-retry: false they would sleep until midnight.
        tomorrow = [*retry_after_headers(seconds_to_midnight(time.time())), (b"x-should-retry", b"false")]
        if hold.spent >= budget:
            raise HttpError(429, "rate_limit_error", f"daily budget of ${budget} used up for this key", tomorrow)
        left = budget - hold.spent - hold.held
        calls = "" if bound.calls == 1 else f"{bound.calls} calls, "
        message = (f"daily budget of ${budget} would be exceeded by this request's worst case "
                   f"(${_usd(worst)}: {calls}its prompt and max_tokens={request.max_tokens}, the dearest call at "
                   f"{model.id if model else 'its route'}'s prices); ${_usd(max(left, Decimal(0)))} remaining "
                   f"for this key today (${_usd(hold.spent)} spent, ${_usd(hold.held)} held by requests in flight)")
        if hold.spent + worst > budget:  # no request ending in flight makes room today: ask for less
            raise HttpError(429, "rate_limit_error", message, tomorrow)
        raise HttpError(429, "rate_limit_error", message, retry_after_headers(1.0))  # room once others end

    def worst_case(self, route: str, request: Request, *, stream: bool = False) -> Bound:
        """The most `request` can cost on `route` (a `Selected.route`): summed over the calls its route can
        make (`tiered.gateway.worst_case.route_worst_case`; a requested model: its fallback chain)."""
        spec = self.config.routes.get(route)
        if spec is not None:
            return route_worst_case(spec, request, self.catalog, self.config.policies, stream=stream)
        return callable_chain(self.selector.fallback_chain(route.removeprefix("model/")), request, self.catalog,
                              retries=self.settings.fallback_retries, stream=stream)

    async def settle(self, ctx: Context, record: Record | None) -> None:
        """Release the request's hold and charge its record's exact cost (nothing without a record).
        Once: the hold id is taken off the context first, and the limits ignore an id settled before."""
        hold, ctx.hold = ctx.hold, None
        if hold is None:
            return
        cost = record.cost_usd if record is not None else Decimal(0)
        try:
            await self.limits.settle(ctx.caller, hold, cost)
        except Exception:  # the answer went out; a lost charge is logged (its hold expires), not an error
            log.exception("could not settle %s to the caller's budget (trace %s)", cost, ctx.trace_id)

    def request(self, body: Mapping[str, Any], scope: Scope, *, forward: bool = True) -> Request:
        """The library `Request` for a checked Messages body, with the task header and forwarded headers."""
        req = Request.from_body(body)
        return self.decorate(req, scope, forward=forward)

    def decorate(self, req: Request, scope: Scope, *, forward: bool = True) -> Request:
        from dataclasses import replace

        task = header(scope, b"x-tiered-task")
        upstream = {k.decode(): v for k in FORWARDED if (v := header(scope, k)) is not None} if forward else {}
        return replace(req, task=task or req.task, headers=upstream)

    def served_headers(self, record: Record) -> dict[str, str]:
        return {"x-tiered-model": record.model or "", "x-tiered-tier": record.tier or "",
                "x-tiered-degraded": "true" if record.degraded else "false",
                "x-tiered-cost-usd": format(record.cost_usd, "f")}

    def stream_headers(self, model: str, before: tuple[Attempt, ...]) -> dict[str, str]:
        """Headers for a stream, sent with its first event: the record does not exist yet, so the tier
        comes from the catalog and `degraded` from the attempts that failed before it (a stronger tier)."""
        info = self.catalog.get(model)
        tier = info.tier if info else ""
        meant = next((a.tier for a in before if a.tier), None)
        degraded = bool(tier and meant and self.catalog.tier_rank(tier) < self.catalog.tier_rank(meant))
        return {"x-tiered-model": info.id if info else model, "x-tiered-tier": tier,
                "x-tiered-degraded": "true" if degraded else "false"}

    def start(self) -> None:
        """At startup, on the running loop: the learning loop's background tasks (router watch, schedule)."""
        if self.learning is not None:
            self.learning.start()

    def warm(self) -> None:
        """Build the ladder's models before the first request: the SDK import and client set-up (or the
        replay book's load) take seconds on a small machine, and would otherwise stall the first callers."""
        if self.settings.pass_through_key:
            return  # models are built per caller key
        for tier in self.catalog.tiers:
            try:
                self.models.resolve(tier)
            except TieredError as e:  # a model this config cannot build is reported when it is asked for
                log.warning("model for tier %s not prepared: %s", tier, e)

    def check_backend(self, env: Mapping[str, str] | None = None) -> None:
        """Fail at start when the anthropic backend is forced without a key (not on the first request)."""
        b = self.config.backend
        env = os.environ if env is None else env
        var = b.api_key_env or "ANTHROPIC_API_KEY"
        if b.kind == "anthropic" and not self.settings.pass_through_key and not env.get(var):
            raise ConfigError(f"backend 'anthropic' needs ${var} (or [gateway] pass_through_key = true)")

    async def aclose(self) -> None:
        if self.learning is not None:
            await self.learning.aclose()
        await self.models.aclose()
        for keyed in self._keyed.values():
            await keyed.aclose()
        self._keyed.clear()
        await self.limits.aclose()
        self.recorder.close()


def _learning(config: Config, settings: GatewaySettings, sinks: list[Any]) -> Learning | None:
    """The learning side (feedback, prompts, shadow judge) when the request log can hold labels."""
    from tiered.gateway.learning import Learning, label_store

    store = label_store(sinks)
    return None if store is None else Learning(config, settings.learning, store)


def _usd(amount: Decimal) -> str:
    """Micro-dollars, for messages (the exact figures are in the records)."""
    return format_usd(amount.quantize(Decimal("0.000001"), context=decimal.Context(prec=60)))
