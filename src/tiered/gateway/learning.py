"""The gateway's side of the learning loop: noting who asked what, feedback, and the shadow judge.

Built by `Core` when the request log is a SQL database (SQLite or PostgreSQL; the JSONL sink cannot be
labelled). Without `[learning]` it only records which key made each request, so that feedback works;
with it, the prompts of learning routes are kept, cascades leave weak labels, a sample of requests is
judged in the shadow (`tiered.online.shadow`), and promoted routers are picked up (`tiered.online.registry`).

Everything that touches the database runs on a worker thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tiered.config import Config
from tiered.gateway.wire import HttpError
from tiered.online.feedback import Feedback
from tiered.online.install import Installer, router_from_bytes
from tiered.online.ownership import Note, SideRows, served
from tiered.online.registry import Pointer, RouterRegistry
from tiered.online.settings import LearningSettings
from tiered.online.shadow import LearningBudget, Served, Shadow
from tiered.records import Record
from tiered.types import Request

if TYPE_CHECKING:
    from tiered.gateway.core import Core
    from tiered.online.cycle import Outcome

log = logging.getLogger("tiered.gateway")
POLL_S = 1.0
"""How often a gateway looks for a newly promoted router (one small Redis GET, or one file read, per route)."""


def label_store(sinks: Sequence[Any]) -> Any | None:
    """The first sink that can hold labels (a SQL sink), or None."""
    for sink in sinks:
        if callable(getattr(sink, "add_label", None)) and callable(getattr(sink, "record_quality", None)):
            return sink
    return None


class Learning:
    def __init__(self, config: Config, settings: LearningSettings | None, store: Any) -> None:
        self.config = config
        self.settings = settings
        self.store = store
        self.rows = SideRows(store)
        self._core: Core | None = None
        self.shadow: Shadow | None = None
        self._tasks: set[asyncio.Future[None]] = set()
        self.registry: RouterRegistry | None = None
        self.installers: dict[str, Installer] = {}
        self._stamps: dict[str, str] = {}
        self._background: list[asyncio.Task[None]] = []
        self.poll_s = POLL_S
        self.cycles: list[Outcome] = []
        self._redis: Any = None

    # -- promoted routers ----------------------------------------------------------------------------------

    def refresh(self) -> list[str]:
        """Install each learning route's current router version if it changed; the routes changed.

        Blocking (Redis or the registry's files): at start, or from a worker thread through `watch`."""
        changed = []
        for route, stamp, pointer in self._changed():
            self._install(route, pointer)
            self._stamps[route] = stamp
            changed.append(route)
        return changed

    def _changed(self) -> list[tuple[str, str, Pointer]]:
        """(route, stamp, pointer) of each route whose current version differs from the one installed."""
        out: list[tuple[str, str, Pointer]] = []
        if self.registry is None:
            return out
        for route in self.installers:
            stamp = self.registry.stamp(route)
            if stamp != self._stamps.get(route, ""):
                out.append((route, stamp, self.registry.pointer(route)))
        return out

    def _install(self, route: str, pointer: Pointer) -> None:
        installer = self.installers[route]
        scorer = None if pointer.data is None else router_from_bytes(pointer.data)
        n = installer.install(scorer, pointer.cuts, pointer.id)
        log.info("route %s now runs router %s (%d router%s)", route, pointer.id or "as configured", n,
                 "" if n == 1 else "s")

    async def watch(self) -> None:
        """Poll the registry (or Redis) and install promoted versions, until cancelled."""
        while True:
            await asyncio.sleep(self.poll_s)
            try:
                found = await asyncio.to_thread(self._changed)
                for route, stamp, pointer in found:  # installed here, on the event loop, between requests
                    self._install(route, pointer)
                    self._stamps[route] = stamp
            except Exception:  # a bad file or an unreachable Redis: keep the router running now, try again
                log.exception("could not refresh the promoted routers")

    async def learn_on_schedule(self, interval_s: float) -> None:
        """Run train -> verify -> promote for every learning route every `interval_s`, until cancelled."""
        while True:
            await asyncio.sleep(interval_s)
            for route in list(self.installers):
                try:
                    if not await asyncio.to_thread(self._claim, route, interval_s):
                        continue  # another replica runs this turn
                    outcome = await asyncio.to_thread(self._cycle, route)
                    self.cycles.append(outcome)
                    log.info("learning on route %s: %s", route, outcome.reason)
                except Exception:
                    log.exception("learning on route %s failed", route)

    def _claim(self, route: str, interval_s: float) -> bool:
        """With Redis, one replica per turn learns a route (the others would train the same router again)."""
        if self._redis is None:
            return True
        key = f"tiered:learning:turn:{route}"
        return bool(self._redis.set(key, "1", nx=True, ex=max(1, int(interval_s * 0.9))))

    def _cycle(self, route: str) -> Outcome:
        from tiered.online.cycle import learn_cycle  # numpy and the fit: loaded only when learning runs

        assert self.registry is not None and self.settings is not None and self._core is not None
        tiers = self.installers[route].routers[0].thresholds.tiers
        return learn_cycle(self.store, self.registry, route, tiers, self.settings.target, self._core.catalog)

    def start(self) -> None:
        """Start the background tasks (watching the registry, learning on schedule); on the running loop."""
        if self.registry is None or self._background:
            return
        self._background.append(asyncio.get_running_loop().create_task(self.watch()))
        if self.settings is not None and self.settings.interval_s is not None:
            self._background.append(asyncio.get_running_loop().create_task(
                self.learn_on_schedule(self.settings.interval_s)))

    def bind(self, core: Core) -> None:
        """The gateway this serves: its recorder (to wait for a record), its models (for the shadow), its routes
        (to install promoted routers in)."""
        self._core = core
        s = self.settings
        if s is None:
            return
        redis = None
        if core.settings.redis_url:
            import redis as redis_lib

            redis = redis_lib.Redis.from_url(core.settings.redis_url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self._redis = redis
        for route in core.config.routes:
            if s.learns(route):
                installer = Installer(core.selector.route_policy(route))
                if installer.routers:
                    self.installers[route] = installer
        if s.registry is not None:
            self.registry = RouterRegistry(s.registry, redis=redis)
            self.refresh()
        if s.shadow_rate <= 0:
            return
        if core.settings.pass_through_key:  # shadow calls would go out on the caller's own key: never
            log.warning("[learning] shadow_rate ignored: with pass_through_key the callers' keys pay upstream")
            return
        budget = LearningBudget(s.shadow_budget_usd_per_day, redis=redis)
        self.shadow = Shadow(core.catalog, core.models, self.store, budget, rate=s.shadow_rate, judge=s.judge,
                             judge_twice=s.judge_twice)

    def shadows(self, route: str) -> bool:
        return self.shadow is not None and self.learns(route)

    def after(self, trace_id: str, route: str, request: Request, text: str, record: Record) -> None:
        """After the client's answer (`text`) went out: maybe compare it in the shadow (a task; never awaited)."""
        shadow = self.shadow
        if shadow is None or not self.learns(route) or record.tier is None or record.model is None:
            return
        if not text or not shadow.sample():
            return
        served = Served(trace_id, record.tier, record.model, text)
        installer = self.installers.get(route)
        tiers = installer.routers[0].thresholds.tiers if installer is not None else None
        task = asyncio.ensure_future(self._compare(shadow, request, served, tiers))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _compare(self, shadow: Shadow, request: Request, served: Served,
                       tiers: Sequence[str] | None) -> None:
        try:
            await shadow.compare(request, served, tiers)
        except Exception:  # a shadow comparison must never disturb the gateway; its failure is logged
            log.exception("shadow comparison failed (trace %s)", served.trace_id)

    async def idle(self) -> None:
        """Wait for every shadow comparison started so far (tests, shutdown)."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    async def aclose(self) -> None:
        """Stop: comparisons still running are cancelled (they were optional; no label is half-written)."""
        for bg in self._background:
            bg.cancel()
        self._background.clear()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(set(self._tasks))

    def _flush(self) -> None:
        if self._core is not None:
            self._core.recorder.flush()

    @property
    def sinks(self) -> list[Any]:
        """Sinks to run after the store's own, on the recorder's thread."""
        return [self.rows]

    def learns(self, route: str) -> bool:
        return self.settings is not None and self.settings.learns(route)

    def note(self, trace_id: str, caller: str, route: str, request: Request) -> None:
        """Remember, until its record is written, who made the request and (on learning routes) its prompt."""
        learns = self.learns(route)
        keep = learns and self.settings is not None and self.settings.keep_prompts
        self.rows.note(trace_id, Note(caller, request.prompt_text if keep else None, request.task, learns))

    async def feedback(self, caller: str, fb: Feedback) -> dict[str, Any]:
        """Store a feedback label for `fb.trace_id` if `caller` made that request; the stored label as JSON."""
        return await asyncio.to_thread(self._feedback, caller, fb)

    def _feedback(self, caller: str, fb: Feedback) -> dict[str, Any]:
        found, key, tier, model = served(self.store, fb.trace_id)
        if not found:  # the record may still be on its way to the log
            self._flush()
            found, key, tier, model = served(self.store, fb.trace_id)
        if not found:
            raise HttpError(404, "not_found_error", f"trace_id: no finished request {fb.trace_id!r} in this "
                            "gateway's request log")
        if key != caller:
            raise HttpError(403, "permission_error", "trace_id: only the key that made the request may label it")
        self.store.record_quality(fb.trace_id, fb.score, source="feedback", key_name=caller)
        return {"type": "feedback", "trace_id": fb.trace_id, "score": fb.score, "tier": tier, "model": model}
