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
import logging
import os
import threading
import time
from collections.abc import Awaitable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from tiered.config import Config
from tiered.errors import ConfigError
from tiered.gateway.auth import Authenticator
from tiered.gateway.budgets import Budget, budgets_for, refusal
from tiered.gateway.keyring import Keyring
from tiered.gateway.keys import GatewayKey
from tiered.gateway.learning import Learning
from tiered.gateway.limits import Limits, MemoryLimits, utc_month
from tiered.gateway.metrics import Metrics
from tiered.gateway.recorder import Recorder
from tiered.gateway.selection import Selected, Selector
from tiered.gateway.settings import GatewaySettings
from tiered.gateway.wire import HttpError, Scope, header, retry_after_headers
from tiered.gateway.worst_case import Bound, callable_chain, route_worst_case
from tiered.records import Attempt, Record
from tiered.routes import OnDemandModels
from tiered.types import Request

log = logging.getLogger("tiered.gateway")
T = TypeVar("T")
PASS_THROUGH_CLIENTS = 256
FORWARDED = (b"anthropic-version", b"anthropic-beta")
"""Client headers sent upstream unchanged (Claude Code needs both). Nothing else is forwarded."""
UNPRICED_HEADER = "x-tiered-price-unknown"
"""Names the served models the catalog has no price for: their cost is unknown, not zero."""


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
    holds: list[tuple[Limits, str, str]] = field(default_factory=list)
    """This request's budget holds while they are outstanding (`Core.reserve` .. `Core.settle`): for each,
    the limits that hold it, whose budget it is, and the hold id."""
    key: GatewayKey | None = None
    """The named key the request came with (its limits and allowlists), if any."""
    key_name: str | None = None
    """What the request log records as the caller (never the secret)."""
    traceparent: str | None = None
    """The caller's W3C traceparent header, passed on to telemetry sinks."""

    @property
    def team(self) -> str | None:
        return self.key.team if self.key is not None else None

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
        self.keyring = Keyring(settings, store=_key_store(config, env) if settings.key_store else None)
        self.metrics = Metrics()
        self.models = OnDemandModels(config, env=env)
        self._keyed: dict[str, OnDemandModels] = {}
        self._closing: set[asyncio.Future[None]] = set()
        if sinks is None:
            from tiered.telemetry.configured import open_sinks

            sinks = open_sinks(config.telemetry, env=env)
        self.learning = _learning(config, settings, sinks)
        self.recorder = Recorder([*sinks, *self.learning.sinks] if self.learning else sinks, config.telemetry)
        self.limits: Limits
        self._mirror: Any = None
        """The breakers' mirror of shared state, read before each policy runs (`state_store.BreakerMirror`)."""
        health: Any = None
        if settings.redis_url:  # async client, short timeouts, a declared behaviour when Redis is down
            from tiered.gateway.state_store import monthly_state, shared_state

            names = tuple(config.catalog.models) + tuple(config.catalog.tiers)
            self.limits, self._mirror = shared_state(settings, names)
            self.monthly: Limits = monthly_state(settings, self.limits)
            self.metrics.state_store = self.limits.stats
            health = self._mirror.build
        else:
            self.limits = MemoryLimits()
            self.monthly = MemoryLimits(period=utc_month)
        self.selector = Selector(config, settings, health=health)
        self.selector.check()
        if self.learning is not None:
            self.learning.bind(self)
        self.prompt_cache = _prompt_cache_tracker(config, settings.redis_url)
        """Fills `Request.warm` and notes answers' warm prefixes, when a route routes cache-aware (else None)."""
        self._env = env
        self._reader: Any = None
        self._reader_lock = threading.Lock()

    def log_reader(self) -> Any:
        """A connection of its own to the request log, for the operator's endpoints (opened on first use,
        from a worker thread; `tiered.telemetry.log_reader`)."""
        with self._reader_lock:
            if self._reader is None:
                from tiered.telemetry.log_reader import open_log

                self._reader = open_log(self.config.telemetry, env=self._env)
            return self._reader

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

    def sinks_for(self, ctx: Context) -> tuple[Any, ...]:
        """`sinks`, behind one that stamps each record with the request's key name, team and traceparent."""
        return (Stamped(self.sinks, ctx.key_name, ctx.team, ctx.traceparent),)

    async def authenticate(self, ctx: Context, scope: Scope, *, admin: bool = False) -> None:
        """Who is calling (`tiered.gateway.keyring`); 401 (or 403 for `admin`) when the key does not fit."""
        caller = await self.keyring.authenticate(scope, admin=admin)
        ctx.caller, ctx.key, ctx.key_name = caller.id, caller.key, caller.key_name

    def allow(self, ctx: Context, selected: Selected) -> None:
        """403 permission_error when the caller's key may not use the selected route or model."""
        key = ctx.key
        if key is None:
            return
        if selected.route.startswith("model/"):
            if key.models is None:
                return
            wanted = selected.route.removeprefix("model/")
            allowed = {m for m in key.models} | {info.id for m in key.models if (info := self.catalog.get(m))}
            if wanted not in allowed:
                raise HttpError(403, "permission_error", f"key {key.name!r} may not request model {wanted!r} "
                                f"(allowed: {', '.join(key.models) or 'none'})")
        elif key.routes is not None and selected.route not in key.routes:
            raise HttpError(403, "permission_error", f"key {key.name!r} may not use route {selected.route!r} "
                            f"(allowed: {', '.join(key.routes) or 'none'})")

    async def admit(self, ctx: Context) -> None:
        """Refuse with 429 rate_limit_error when the caller (or its team) is over its rate (the budget is
        `reserve`'s), and with 503 overloaded_error while the request log's spool is full and the config says to
        refuse."""
        if self.recorder.refusing:
            raise HttpError(503, "overloaded_error", self.recorder.refusal(), retry_after_headers(5.0))
        s = self.settings
        if self._mirror is not None:
            await self._mirror.refresh()
        key = ctx.key
        rates = [(ctx.caller, key.requests_per_minute if key and key.requests_per_minute else
                  s.requests_per_minute, "this key")]
        team = s.teams.get(ctx.team) if ctx.team else None
        if team is not None and team.requests_per_minute is not None:
            rates.append((f"team:{team.name}", team.requests_per_minute, f"team {team.name!r}"))
        for who, rpm, whose in rates:
            if rpm is None:
                continue
            verdict = await _state(self.limits.hit(who, rpm))
            if not verdict.allowed:
                raise HttpError(429, "rate_limit_error",
                                f"rate limit of {rpm} requests per minute exceeded for {whose}",
                                retry_after_headers(verdict.retry_after_s))

    def budgets(self, ctx: Context) -> list[Budget]:
        """Every budget this request counts against (the key's daily and monthly, its team's)."""
        return budgets_for(ctx.caller, ctx.key, self.settings, self.limits, self.monthly)

    async def reserve(self, ctx: Context, route: str, request: Request, *, stream: bool = False) -> None:
        """Hold the request's worst-case cost against each of the caller's budgets (`budgets`), or refuse
        with 429 rate_limit_error when, for one of them, spent + held by requests in flight + this worst case
        would pass it (the holds already taken are released).

        `route` is the `Selected.route` the request runs on; `stream`, whether the client streams. Call right
        before the policy runs, and `settle` on every path after it (see the module docstring).
        """
        budgets = self.budgets(ctx)
        if not budgets:
            return
        pinned = self.catalog.get(route.removeprefix("model/")) if route.startswith("model/") else None
        if pinned is not None and not pinned.priced:
            raise HttpError(400, "invalid_request_error", f"model: {pinned.id} has no price in tiered's catalog, so "
                            "this key's daily budget cannot hold its cost; add its price in a user catalog "
                            "($TIERED_CATALOG) or ask for a priced model")
        bound = self.worst_case(route, request, stream=stream)
        for i, budget in enumerate(budgets):
            hold_id = ctx.trace_id if i == 0 else f"{ctx.trace_id}/{budget.who}/{budget.period}"
            hold = await _state(budget.limits.reserve(budget.who, hold_id, bound.usd, budget.usd))
            if hold.granted:
                ctx.holds.append((budget.limits, budget.who, hold_id))
                continue
            await self.settle(ctx, None)  # give back what the budgets before this one held
            raise refusal(budget, hold, bound, request.max_tokens, time.time())

    def worst_case(self, route: str, request: Request, *, stream: bool = False) -> Bound:
        """The most `request` can cost on `route` (a `Selected.route`): summed over the calls its route can
        make (`tiered.gateway.worst_case.route_worst_case`; a requested model: its fallback chain)."""
        spec = self.config.routes.get(route)
        if spec is not None:
            return route_worst_case(spec, request, self.catalog, self.config.policies, stream=stream)
        return callable_chain(self.selector.fallback_chain(route.removeprefix("model/")), request, self.catalog,
                              retries=self.settings.fallback_retries, stream=stream)

    async def settle(self, ctx: Context, record: Record | None) -> None:
        """Release the request's holds and charge its record's exact cost (nothing without a record) to
        each budget. Once: the holds are taken off the context first, and the limits ignore an id settled
        before."""
        holds, ctx.holds = ctx.holds, []
        cost = record.cost_usd if record is not None else Decimal(0)
        for limits, who, hold in holds:
            try:
                await limits.settle(who, hold, cost)
            except Exception:  # the answer went out; a lost charge is logged (its hold expires), not an error
                log.exception("could not settle %s to %s's budget (trace %s)", cost, who, ctx.trace_id)

    def request(self, body: Mapping[str, Any], scope: Scope, *, forward: bool = True) -> Request:
        """The library `Request` for a checked Messages body, with the task header and forwarded headers."""
        req = Request.from_body(body)
        return self.decorate(req, scope, forward=forward)

    def decorate(self, req: Request, scope: Scope, *, forward: bool = True) -> Request:
        from dataclasses import replace

        task = header(scope, b"x-tiered-task")
        upstream = {k.decode(): v for k in FORWARDED if (v := header(scope, k)) is not None} if forward else {}
        conversation = req.conversation_id or header(scope, b"x-claude-code-session-id")
        req = replace(req, task=task or req.task, headers=upstream, conversation_id=conversation)
        return self.prompt_cache.annotate(req) if self.prompt_cache is not None else req

    def tracked(self, models: Any) -> Any:
        """The models a policy runs with: noting what each answer left warm in the prompt cache, when tracked."""
        return self.prompt_cache.wrap(models) if self.prompt_cache is not None else models

    def served_headers(self, record: Record) -> dict[str, str]:
        out = {"x-tiered-model": record.model or "", "x-tiered-tier": record.tier or "",
               "x-tiered-degraded": "true" if record.degraded else "false",
               "x-tiered-cost-usd": format(record.cost_usd, "f")}
        unpriced = self.unpriced(a.model for a in record.attempts)
        if unpriced:
            out[UNPRICED_HEADER] = unpriced
        return out

    def unpriced(self, models: Iterable[str]) -> str:
        """The models among `models` the catalog has no price for, comma-separated ("" when none): their
        cost is unknown, and x-tiered-cost-usd counts only the priced calls."""
        ids = dict.fromkeys(i.id for m in models if (i := self.catalog.get(m)) is not None and not i.priced)
        return ", ".join(ids)

    def stream_headers(self, model: str, before: tuple[Attempt, ...]) -> dict[str, str]:
        """Headers for a stream, sent with its first event: the record does not exist yet, so the tier
        comes from the catalog and `degraded` from the attempts that failed before it (a stronger tier)."""
        info = self.catalog.get(model)
        tier = info.tier if info else ""
        meant = next((a.tier for a in before if a.tier), None)
        degraded = bool(tier and meant and self.catalog.tier_rank(tier) < self.catalog.tier_rank(meant))
        out = {"x-tiered-model": info.id if info else model, "x-tiered-tier": tier,
               "x-tiered-degraded": "true" if degraded else "false"}
        if info is not None and not info.priced:
            out[UNPRICED_HEADER] = info.id
        return out

    def start(self) -> None:
        """At startup, on the running loop: the learning loop's background tasks (router watch, schedule)."""
        if self.learning is not None:
            self.learning.start()

    def warm(self) -> None:
        """Build the ladder's models before the first request: the SDK import and client set-up (or the
        replay book's load) take seconds on a small machine, and would otherwise stall the first callers."""
        if self.settings.pass_through_key:
            return  # models are built per caller key
        for tier, e in self.models.warm():  # a model this config cannot build is reported when it is asked for
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
        await self.monthly.aclose()
        self.recorder.close()
        if self._reader is not None:
            self._reader.close()


def _learning(config: Config, settings: GatewaySettings, sinks: list[Any]) -> Learning | None:
    """The learning side (feedback, prompts, shadow judge) when the request log can hold labels."""
    from tiered.gateway.learning import Learning, label_store

    store = label_store(sinks)
    return None if store is None else Learning(config, settings.learning, store)


async def _state(call: Awaitable[T]) -> T:
    """A limits call; the state store down with `[state] on_failure = "closed"` is a 503 that says so."""
    from tiered.gateway.state_store import StateStoreDown

    try:
        return await call
    except StateStoreDown as e:
        raise HttpError(503, "overloaded_error", f"{e}; the gateway refuses requests until it answers "
                        "([state] on_failure = \"closed\")", retry_after_headers(e.retry_after_s)) from None


class Stamped:
    """A sink in front of the gateway's sinks that stamps each record with who called (`Core.sinks_for`)."""

    def __init__(self, sinks: tuple[Any, ...], key_name: str | None, team: str | None,
                 traceparent: str | None) -> None:
        self.sinks, self.key_name, self.team, self.traceparent = sinks, key_name, team, traceparent

    def emit(self, record: Record) -> None:
        from dataclasses import replace

        from tiered.runtime.driver import emit

        emit(replace(record, key_name=self.key_name, team=self.team, traceparent=self.traceparent), self.sinks)


def _key_store(config: Config, env: Mapping[str, str] | None) -> Any:
    """A loader of the key table in the request log's database (`[gateway] key_store = true`)."""
    from tiered.telemetry.log_reader import open_log

    def load() -> list[GatewayKey]:
        from tiered.telemetry.key_table import KeyTable

        log_db = open_log(config.telemetry, env=env)
        if log_db is None:
            raise ConfigError("[gateway] key_store = true needs a sqlite or postgres request log")
        with log_db:
            return KeyTable(log_db).list()

    return load


def _prompt_cache_tracker(config: Config, redis_url: str | None) -> Any:
    """A `PromptCacheTracker` when any route or named policy routes cache-aware (in Redis with `[state]
    redis`, shared by the replicas), else None: other routes pay nothing for it."""
    from dataclasses import fields, is_dataclass

    from tiered.policy_specs import RouterSpec

    def aware(spec: Any) -> bool:
        if isinstance(spec, RouterSpec) and spec.cache_aware:
            return True
        if isinstance(spec, tuple | list):
            return any(aware(s) for s in spec)
        if isinstance(spec, Mapping):
            return any(aware(s) for s in spec.values())
        return is_dataclass(spec) and any(aware(getattr(spec, f.name)) for f in fields(spec))

    if not aware(list(config.routes.values())) and not aware(list(config.policies.values())):
        return None
    from tiered.runtime.prompt_cache import MemoryCacheLedger, PromptCacheTracker, RedisCacheLedger

    if redis_url:
        import redis

        client = redis.Redis.from_url(redis_url, socket_timeout=1.0, socket_connect_timeout=1.0)
        return PromptCacheTracker(RedisCacheLedger(client))
    return PromptCacheTracker(MemoryCacheLedger())

