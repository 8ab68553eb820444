"""Which policy answers a request: chosen by the `model` the client sends, or by headers.

In order:

1. the header `x-tiered-route: NAME` picks a route of the config;
2. `model` naming a route: `NAME`, `tiered/NAME`, or `claude-tiered-NAME` (Claude Code's model
   picker keeps only ids that start with "claude"); `auto` and `tiered` mean the default route;
3. `model` naming a catalog model (id, alias or tier): that model, wrapped in the configured fallback
   chain (`[gateway] fallback`; by default the cheaper tiers nearest first, then the dearer), so a
   client that pins a model still gets an answer when that model is overloaded, and the answer says it
   was degraded;
4. anything else is a 404 not_found_error naming what may be asked for. A Claude id the catalog does not
   list (a newer or older model) is refused the same way, saying how to add it (a user catalog): it is
   never served by another model in its place.

Route policies are built once (their breakers and affinity persist across requests) through the
config's registry; per-model fallbacks are built once per model. When `[state] redis` is set, every
fallback's breakers live in Redis (`health` factory), shared by the replicas.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tiered.config import Config
from tiered.errors import CatalogError
from tiered.gateway.settings import GatewaySettings
from tiered.gateway.wire import HttpError
from tiered.policies.base import Policy
from tiered.policy_registry import BuildContext

ROUTE_PREFIXES = ("tiered/", "claude-tiered-")
DEFAULT_NAMES = ("auto", "tiered", "tiered/auto")
CREATED_AT = "2025-01-01T00:00:00Z"
CREATED_UNIX = 1_735_689_600
"""`CREATED_AT` as UNIX seconds, OpenAI's `created`."""


@dataclass(frozen=True, slots=True)
class Selected:
    route: str
    """The route's name, or `model/<catalog id>` for a catalog model."""
    policy: Policy


class Selector:
    def __init__(self, config: Config, settings: GatewaySettings,
                 health: Callable[[Any], Any] | None = None) -> None:
        self.config = config
        self.catalog = config.catalog
        self.settings = settings
        self._health = health
        self._build = BuildContext(config.catalog, config.policies, health=health)
        self._routes: dict[str, Policy] = {}
        self._models: dict[str, Policy] = {}

    def select(self, model: str, route_header: str | None = None) -> Selected:
        if route_header:
            name = self._route_name(route_header)
            if name is None:
                raise HttpError(404, "not_found_error",
                                f"x-tiered-route: no route named {route_header!r}; routes: {self._route_list()}")
            return Selected(name, self._route(name))
        name = self._route_name(model)
        if name is not None:
            return Selected(name, self._route(name))
        info = self.catalog.get(model)
        if info is None and model.startswith("claude-"):
            raise HttpError(404, "not_found_error", f"model: {model!r} is not in tiered's model catalog, and "
                            "tiered does not serve another model in its place; add it to a user catalog "
                            "($TIERED_CATALOG, see docs/models.md) or ask for a listed one (GET /v1/models)")
        if info is None:
            raise HttpError(404, "not_found_error", f"model: {model!r} is neither a route ({self._route_list()}) "
                            "nor a model in the catalog (GET /v1/models lists both)")
        return Selected(f"model/{info.id}", self._model(info.id))

    def _route_name(self, name: str) -> str | None:
        if name in DEFAULT_NAMES:
            return self.config.default_route
        for prefix in ("", *ROUTE_PREFIXES):
            if name.startswith(prefix) and name[len(prefix):] in self.config.routes:
                return name[len(prefix):]
        return None

    def _route_list(self) -> str:
        return ", ".join(f"tiered/{r}" for r in self.config.routes)

    def route_policy(self, name: str) -> Policy:
        """The route's policy, built once (the learning loop installs promoted routers into it)."""
        return self._route(name)

    def _route(self, name: str) -> Policy:
        if name not in self._routes:
            self._routes[name] = self._build.policy(self.config.routes[name])
        return self._routes[name]

    def fallback_chain(self, model_id: str) -> tuple[str, ...]:
        """The requested model first, then the configured chain without it (catalog ids)."""
        chain = self.settings.fallback
        if chain is None:  # the cheaper tiers, nearest first (degraded but cheap), then the dearer ones
            tiers = list(self.catalog.tiers)
            tier = self.catalog.models[model_id].tier
            r = tiers.index(tier) if tier in tiers else len(tiers)
            chain = (*reversed(tiers[:r]), *tiers[r + 1:])
        ids = [model_id]
        for name in chain:
            try:
                other = self.catalog.resolve(name).id
            except CatalogError:
                continue  # checked at start by the app; a stale name is skipped, not fatal
            if other not in ids:
                ids.append(other)
        return tuple(ids)

    def _model(self, model_id: str) -> Policy:
        if model_id not in self._models:
            from tiered.policies.fallback import Fallback
            from tiered.runtime.health import BreakerConfig, Breakers

            health = (self._health or Breakers)(BreakerConfig())
            self._models[model_id] = Fallback(*self.fallback_chain(model_id), retries=self.settings.fallback_retries,
                                              health=health, catalog=self.catalog)
        return self._models[model_id]

    def listing(self) -> list[dict[str, Any]]:
        """The /v1/models `data`: each route (as `claude-tiered-NAME`, so Claude Code keeps it), then the
        catalog's models."""
        out: list[dict[str, Any]] = []
        for name in self.config.routes:
            out.append(_info(f"claude-tiered-{name}", f"tiered route {name}", 200_000, 64_000))
        for info in self.catalog.models.values():
            out.append(_info(info.id, info.display_name or info.id, info.context_window, info.max_output))
        return out

    def check(self) -> None:
        """Fail at start, not on the first request, when the fallback chain names an unknown model."""
        for name in self.settings.fallback or ():
            self.catalog.resolve(name)


def _info(model_id: str, display: str, context: int, max_output: int) -> dict[str, Any]:
    return {"type": "model", "id": model_id, "display_name": display, "created_at": CREATED_AT,
            "max_input_tokens": context, "max_tokens": max_output}


def page(data: list[dict[str, Any]], query: Mapping[str, str]) -> dict[str, Any]:
    """The /v1/models page for `limit` / `after_id` / `before_id`, as the API pages it."""
    try:
        limit = int(query.get("limit", "1000"))
    except ValueError as e:
        raise HttpError(400, "invalid_request_error", "limit: Input should be a valid integer") from e
    if not 1 <= limit <= 1000:
        raise HttpError(400, "invalid_request_error", "limit: Input should be between 1 and 1000")
    ids = [d["id"] for d in data]
    start, end = 0, len(data)
    if "after_id" in query and query["after_id"] in ids:
        start = ids.index(query["after_id"]) + 1
    if "before_id" in query and query["before_id"] in ids:
        end = ids.index(query["before_id"])
        start = max(start, end - limit)
    chunk = data[start:end][:limit]
    return {"data": chunk, "has_more": start + len(chunk) < end, "first_id": chunk[0]["id"] if chunk else None,
            "last_id": chunk[-1]["id"] if chunk else None}


def openai_model(info: Mapping[str, Any]) -> dict[str, Any]:
    """A /v1/models entry in OpenAI's shape (`object`, `created`, `owned_by`), keeping the Anthropic fields so a
    client of either kind that sends no `anthropic-version` still finds what it reads."""
    return {"id": info["id"], "object": "model", "created": CREATED_UNIX, "owned_by": "tiered", **info}


def openai_models(data: list[dict[str, Any]]) -> dict[str, Any]:
    """OpenAI's model list: `{"object": "list", "data": [...]}`."""
    return {"object": "list", "data": [openai_model(d) for d in data]}
