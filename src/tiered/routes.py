"""A loaded config made runnable: each route's policy, the models its calls go to, and the sinks.

    routes = Routes(load_config("tiered.toml"))          # or Routes.default()
    run = await routes.run(Request.user("hi"), route="code")
    run.response.text, run.record

Models are built on demand, the first time a policy calls a target, so a route that never reaches
Opus never builds an Opus client, and the replay book is loaded once and only when replay answers.
The backend (`[backend] kind`) decides where each call goes; see `tiered.models.registry`. Keys are
read from the environment at that moment and go only to the SDK client.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from tiered.catalog import Catalog
from tiered.config import Config, parse_config_text
from tiered.errors import ConfigError, TieredError
from tiered.models.base import Model
from tiered.policies.base import Policy
from tiered.policy_registry import BuildContext
from tiered.runtime.driver import Run, run
from tiered.telemetry.configured import OpenSink, open_sinks
from tiered.types import Request

DEFAULT_CONFIG = """
# tiered's built-in route, used when no config file is given: the task map picks the tier when the
# caller names a task; otherwise the shipped learned router scores the prompt (its default cuts send
# about 44% / 31% / 25% of the training prompts to haiku / sonnet / opus); a fallback chain keeps it
# answering when a tier is overloaded. Offline: answers come from the packaged replay sample.
[backend]
kind = "replay"

[routes.default]
policy = "fallback"
retries = 1
chain = [
  { policy = "taskmap", packaged = true, default = { policy = "router", scorer = "learned" } },
  "sonnet",
  "haiku",
]
"""


class OnDemandModels:
    """A `Resolver` for the driver that builds each catalog model the first time it is called."""

    def __init__(self, config: Config, *, env: Mapping[str, str] | None = None) -> None:
        self.config = config
        self.catalog: Catalog = config.catalog
        self._env = env
        self._models: dict[str, Model] = {}
        self._book: Any = None

    def resolve(self, target: str) -> Model:
        from tiered.models.effort import at_effort
        from tiered.models.registry import build_model, choose_backend, key_env

        info = self.catalog.resolve(target)
        if info.id not in self._models:
            b = self.config.backend
            env = os.environ if self._env is None else self._env
            chosen = choose_backend(info, b.kind, has_key=bool(env.get(key_env(info))), base_url=b.base_url)
            own_dataset = info.provider == "replay" and info.api_base is not None  # it loads its own book
            book = self.book() if chosen == "replay" and not own_dataset else None
            self._models[info.id] = build_model(info.id, self.catalog, backend=b.kind, base_url=b.base_url,
                                                env=self._env, book=book, on_miss=b.on_miss)
        return at_effort(self._models[info.id], target)

    def warm(self) -> list[tuple[str, TieredError]]:
        """Build the ladder's models now (an SDK import, a replay book and its index: seconds on a small
        machine), so the first request's latency is its own; returns the tiers that could not be built."""
        failed: list[tuple[str, TieredError]] = []
        for tier in self.catalog.tiers:
            try:
                self.resolve(tier)
            except TieredError as e:  # reported when a request asks for it
                failed.append((tier, e))
        return failed

    def tier(self, target: str) -> str:
        from tiered.models.effort import rung

        return rung(self.catalog.resolve(target).tier, target)

    def book(self) -> Any:
        """The replay book, loaded once (the dataset named in `[backend]`, else the packaged sample)."""
        if self._book is None:
            from tiered.models.registry import default_book
            from tiered.models.replay import DEFAULT_DATASET

            self._book = default_book(self.catalog, self.config.backend.dataset or DEFAULT_DATASET)
        return self._book

    async def aclose(self) -> None:
        for model in self._models.values():
            await model.aclose()
        self._models.clear()


class Routes:
    def __init__(self, config: Config, *, sinks: Sequence[OpenSink] | None = None,
                 env: Mapping[str, str] | None = None) -> None:
        """`sinks` default to the ones `[telemetry]` names, opened on first use; pass [] for none."""
        self.config = config
        self.models = OnDemandModels(config, env=env)
        self._sinks: list[OpenSink] | None = None if sinks is None else list(sinks)
        self._env = env
        self._build = BuildContext(config.catalog, config.policies)
        self._policies: dict[str, Policy] = {}

    @classmethod
    def default(cls, **kw: Any) -> Routes:
        return cls(parse_config_text(DEFAULT_CONFIG, source="<built-in default>"), **kw)

    def name(self, route: str | None) -> str:
        name = route or self.config.default_route
        if name not in self.config.routes:
            raise ConfigError(f"no route named {name!r}; routes: {', '.join(self.config.routes)}")
        return name

    def policy(self, route: str | None = None) -> Policy:
        """The route's policy, built once (so breakers and affinity persist across requests)."""
        name = self.name(route)
        if name not in self._policies:
            self._policies[name] = self._build.policy(self.config.routes[name])
        return self._policies[name]

    @property
    def sinks(self) -> list[OpenSink]:
        if self._sinks is None:
            self._sinks = open_sinks(self.config.telemetry, env=self._env)
        return self._sinks

    async def run(self, request: Request, route: str | None = None, *, trace_id: str | None = None) -> Run:
        """Run `request` through `route` (default: the config's default route); returns the driver's `Run`."""
        name = self.name(route)
        return await run(self.policy(name), request, self.models, route=name, sinks=self.sinks,
                         catalog=self.config.catalog, trace_id=trace_id)

    async def aclose(self) -> None:
        await self.models.aclose()
        for sink in self._sinks or ():
            sink.close()
        self._sinks = []
