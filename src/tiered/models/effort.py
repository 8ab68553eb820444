"""A model asked at one `output_config.effort`: how a `model@effort` target (e.g. `sonnet@low`) is called.

Effort changes how long and how hard a model works on the same prices, so `sonnet@low` is a rung of the
ladder between `haiku` and `sonnet` (or `sonnet@high`). The catalog says which efforts a model accepts
(`efforts = [...]`); `Catalog.resolve` refuses any other. The wrapper sets `output_config.effort` on
every request it sends (keeping any other `output_config` fields, such as a JSON-schema format) and
is otherwise the model itself: same name, same prices.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import replace

from tiered.catalog import split_effort
from tiered.models.base import Model
from tiered.types import Request, Response, StreamEvent


def with_effort(request: Request, effort: str) -> Request:
    """`request` with `output_config.effort` set to `effort`."""
    config = request.extra.get("output_config")
    merged = {**(dict(config) if isinstance(config, Mapping) else {}), "effort": effort}
    return replace(request, extra={**request.extra, "output_config": merged})


class EffortModel:
    def __init__(self, inner: Model, effort: str) -> None:
        self.inner = inner
        self.effort = effort

    @property
    def name(self) -> str:
        return self.inner.name

    async def complete(self, request: Request) -> Response:
        return await self.inner.complete(with_effort(request, self.effort))

    def stream(self, request: Request) -> AsyncIterator[StreamEvent]:
        return self.inner.stream(with_effort(request, self.effort))

    async def aclose(self) -> None:
        return None  # the inner model belongs to the set it came from

    def __repr__(self) -> str:
        return f"EffortModel({self.inner.name!r}, {self.effort!r})"


def at_effort(model: Model, target: str) -> Model:
    """`model` as `target` asks for it: wrapped at the target's effort when it names one."""
    effort = split_effort(target)[1]
    return model if effort is None else EffortModel(model, effort)


def rung(tier: str, target: str) -> str:
    """The rung a target stands on: its tier, with the effort when it names one ("sonnet@low")."""
    effort = split_effort(target)[1]
    return tier if effort is None or not tier else f"{tier}@{effort}"
