"""What POST /v1/messages/count_tokens answers: the upstream's exact count when it can give one, else
the character estimate, and which of the two (`x-tiered-token-count: exact | estimate`).

The count is for one model, the one whose context the prompt must fit:

    model/<id>   (a requested model) that model
    a route      its dearest callable model (`tiered.gateway.worst_case.route_models`, ranked by the
                 catalog's tier ladder, then by price): a route's context limit is that of the model
                 that may answer, and the dearest is the one a long prompt is escalated to

That model is built as every call builds it (`Core.models_for`: the shared models, or in pass-through
mode the caller's own key). When it implements `tiered.models.base.TokenCounter` (the Anthropic
provider) the request goes to its count_tokens, which the API does not bill; otherwise (replay, fakes,
OpenAI-compatible) the answer is `tiered.emulator.tokens.count_input_tokens`, the estimate the emulator
and the budget holds use. An upstream failure that may pass (429, 529, 5xx, a timeout, a lost
connection) is logged as a warning (no key: error messages are scrubbed by the provider) and answered
with the estimate; one that will not (400, 401, 403, 404, 413, a spend limit) is the caller's error,
passed back with its status and type in the API's shape.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Literal

from tiered.catalog import Catalog
from tiered.emulator.tokens import count_input_tokens
from tiered.errors import ProviderError, TieredError
from tiered.gateway.core import Context, Core
from tiered.gateway.wire import provider_error
from tiered.gateway.worst_case import route_models
from tiered.models.base import TokenCounter
from tiered.types import Request

log = logging.getLogger("tiered.gateway")
Kind = Literal["exact", "estimate"]
HEADER = "x-tiered-token-count"


def counting_model(core: Core, route: str) -> str | None:
    """The catalog id of the model a count on `route` (a `Selected.route`) is for; None if it has none."""
    if route.startswith("model/"):
        return route.removeprefix("model/")
    spec = core.config.routes.get(route)
    if spec is None:
        return None
    return dearest(route_models(spec, core.catalog, core.config.policies), core.catalog)


def dearest(ids: frozenset[str], catalog: Catalog) -> str | None:
    """The highest tier of the catalog's ladder among `ids` (models off the ladder rank below it), then
    the highest price; the id breaks exact ties, so the choice never depends on set order."""
    def rank(model_id: str) -> tuple[int, Any, Any, str]:
        info = catalog.models[model_id]
        on_ladder = info.tier in catalog.tiers
        return (catalog.tier_rank(info.tier) if on_ladder else -1, info.prices.input, info.prices.output, model_id)

    return max(ids, key=rank, default=None)


async def count(core: Core, ctx: Context, route: str, request: Request, body: Mapping[str, Any]) -> tuple[int, Kind]:
    """The input tokens of `body` (checked) and whether they are the upstream's exact count; raises the
    `HttpError` of an upstream failure that is the caller's (see the module docstring)."""
    exact = await _upstream_count(core, ctx, route, request)
    return (exact, "exact") if exact is not None else (count_input_tokens(body), "estimate")


async def _upstream_count(core: Core, ctx: Context, route: str, request: Request) -> int | None:
    """The counting model's exact count, or None when the estimate must answer."""
    model_id = counting_model(core, route)
    if model_id is None:
        return None
    try:
        model = core.models_for(ctx).resolve(model_id)
    except TieredError as e:  # ConfigError / CatalogError: the model cannot be built here
        log.warning("count_tokens: %s cannot be built (%s); answering the estimate (trace %s)",
                    model_id, e, ctx.trace_id)
        return None
    if not isinstance(model, TokenCounter):
        return None
    try:
        return await model.count_tokens(request)
    except ProviderError as e:
        if not e.retryable:
            raise provider_error(e) from None
        log.warning("count_tokens: the upstream count failed (%s); answering the estimate (trace %s)",
                    e.message, ctx.trace_id)
        return None
