"""Which complexity router a name in a config means: the table `tiered calibrate` writes cuts into.

`find_router(config, name)` accepts a route whose policy is a router (`[routes.NAME]`), a named
router policy (`[policies.NAME]`), or a route that reaches exactly one named router through its
chain, task map or bypass (the example config's `default` route reaches `by_complexity`). Anything
else is a `ConfigError` that lists the names that would work.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from tiered.config import Config
from tiered.errors import ConfigError
from tiered.policy_specs import BypassSpec, FallbackSpec, Ref, RouterSpec, Target, TaskMapSpec


@dataclass(frozen=True, slots=True)
class RouterTable:
    table: str
    """Where the router is declared: "routes.NAME" or "policies.NAME"."""
    spec: RouterSpec


def _children(target: Target) -> Iterator[Target]:
    if isinstance(target, FallbackSpec):
        yield from target.chain
    elif isinstance(target, TaskMapSpec):
        yield from target.tasks.values()
        yield target.default
    elif isinstance(target, BypassSpec):
        yield target.router
    elif isinstance(target, RouterSpec):
        yield from target.per_tier.values()


def _reached(config: Config, target: Target, seen: set[str]) -> Iterator[tuple[str | None, RouterSpec]]:
    """(policy name or None when inline, spec) of every router `target` can send a request through."""
    if isinstance(target, Ref):
        if target.name in seen:
            return
        seen.add(target.name)
        spec = config.policies.get(target.name)
        if isinstance(spec, RouterSpec):
            yield target.name, spec
        for child in _children(spec) if spec is not None else ():
            yield from _reached(config, child, seen)
        return
    if isinstance(target, RouterSpec):
        yield None, target
    for child in _children(target):
        yield from _reached(config, child, seen)


def router_names(config: Config) -> list[str]:
    """Every name `find_router` accepts directly: routes that are routers, then router policies."""
    return ([n for n, t in config.routes.items() if isinstance(t, RouterSpec)]
            + [n for n, s in config.policies.items() if isinstance(s, RouterSpec)])


def find_router(config: Config, name: str | None) -> RouterTable:
    """The router `name` (default: the config's default route) means; see the module docstring."""
    name = name or config.default_route
    accepted = ", ".join(router_names(config)) or "none (declare a policy = \"router\")"
    route = config.routes.get(name)
    if isinstance(route, RouterSpec):
        return RouterTable(f"routes.{name}", route)
    policy = config.policies.get(name)
    if isinstance(policy, RouterSpec):
        return RouterTable(f"policies.{name}", policy)
    if route is None and policy is None:
        raise ConfigError(f"--route: no route or router policy named {name!r} in {config.source}; "
                          f"routers: {accepted}")
    start: Target | None = route if route is not None else policy
    assert start is not None
    found = list(_reached(config, start, set()))
    named = sorted({n for n, _ in found if n is not None})
    if len(named) == 1 and all(n is not None for n, _ in found):
        only = config.policies[named[0]]
        assert isinstance(only, RouterSpec)
        return RouterTable(f"policies.{named[0]}", only)
    kind = "route" if route is not None else "policy"
    what = ("no router" if not found else f"{len(found)} routers" if len(found) > 1 or named
            else "an inline router, which has no name")
    raise ConfigError(f"--route: {kind} {name!r} uses {what}; name the router whose cuts to fit: {accepted}")
