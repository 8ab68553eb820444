"""/v1/messages/batches on the gateway: every request of a client batch routed by its route's policy,
sent as one upstream batch (models may be mixed), recorded at the batch price, held against the budget.

    POST   /v1/messages/batches                 route each request, hold the worst case, create upstream
    GET    /v1/messages/batches[?limit]         the caller's batches (upstream views)
    GET    /v1/messages/batches/{id}            the upstream view; once ended, results are recorded
    POST   /v1/messages/batches/{id}/cancel     passed upstream
    DELETE /v1/messages/batches/{id}            passed upstream (ended batches)
    GET    /v1/messages/batches/{id}/results    the upstream JSONL; recorded first if not yet

Routing: the route's policy runs sans-I/O up to its first step. When that is the answering call (a
router's tier, a fallback chain's first model, a task map's target) on the request as sent, its model
answers the request in the batch; a route whose first call is something else (an llm scorer's
classification, a cascade's self-report, a delegate's plan) needs several calls per request and is
refused with a 400 naming why. Each request's decision is kept and goes into its record.

Money: the batch's worst case (each request's prompt and max_tokens at its model's prices, less the
batch discount) is held against the caller's daily budget when it is created; when the batch has
ended (seen by a get or a results call), each result becomes one record priced with `batch=True`
(errored and canceled results cost nothing and are recorded with their error type, never as ok),
and the hold is settled with the exact sum, once. The gateway's batch table is in memory (one
replica); holds expire after `HOLD_TTL_S`, so a batch still running after that no longer holds.
Upstream failures come back in the API's error shape with their status.

Deadlines: with `[gateway] batch_deadline_s = N`, a whole POST /v1/messages whose header
`x-tiered-deadline-s` allows at least N seconds is answered through a one-request batch at the
discount, the call waiting for it (`answer_by_batch`); past the deadline the batch is canceled and
the request answered 504 timeout_error.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
import uuid
import weakref
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tiered.emulator.tokens import count_input_tokens
from tiered.emulator.validation import InvalidRequest, check_messages_body
from tiered.gateway.core import Context, Core
from tiered.gateway.wire import HttpError, Receive, Scope, Send, dumps, header, read_json, retry_after_headers
from tiered.gateway.worst_case import call_cost_bound
from tiered.models.registry import EMULATOR_KEY, key_env
from tiered.policies.base import Call
from tiered.pricing import cost_usd
from tiered.records import Attempt, Decision, Record
from tiered.runtime.driver import emit
from tiered.types import Usage

log = logging.getLogger("tiered.gateway")
PREFIX = "/v1/messages/batches"


@dataclass(frozen=True, slots=True)
class Routed:
    route: str
    policy: str
    model: str
    tier: str | None
    reason: str
    requested: str
    task: str | None


@dataclass
class Entry:
    caller: str
    routed: dict[str, Routed]
    hold: str | None
    settled: bool = False
    cost_usd: Decimal = Decimal(0)
    """What its results cost at the batch price, once settled."""
    created: float = field(default_factory=time.time)


class BatchBook:
    """The batches this gateway created, by upstream id."""

    def __init__(self) -> None:
        self.entries: dict[str, Entry] = {}


async def handle(core: Core, ctx: Context, scope: Scope, receive: Receive, send: Send) -> None:
    path = scope["path"].rstrip("/")
    method = scope["method"]
    parts = path[len(PREFIX):].strip("/").split("/") if path != PREFIX else []
    if not parts:
        if method == "POST":
            await _reply(send, ctx, dumps(await create(core, ctx, scope, receive)))
            return
        if method == "GET":
            await _reply(send, ctx, dumps(await listing(core, ctx)))
            return
        raise HttpError(405, "invalid_request_error", f"Method {method} not allowed for {path}; use GET or POST",
                        [(b"allow", b"GET, POST")])
    entry = _book(core).entries.get(parts[0])
    if entry is None or entry.caller != ctx.caller or len(parts) > 2:
        raise HttpError(404, "not_found_error", f"message batch not found: {parts[0]}")
    action = parts[1] if len(parts) == 2 else ""
    client = _client(core)
    batches = client.messages.batches
    if (method, action) == ("GET", ""):
        view = await _upstream(batches.retrieve(parts[0]))
        if view.get("processing_status") == "ended" and not entry.settled:
            await _settle(core, ctx, parts[0], entry)
        await _reply(send, ctx, dumps(_local(view, scope)))
    elif (method, action) == ("POST", "cancel"):
        await _reply(send, ctx, dumps(_local(await _upstream(batches.cancel(parts[0])), scope)))
    elif (method, action) == ("DELETE", ""):
        current = await _upstream(batches.retrieve(parts[0]))
        if current.get("processing_status") == "ended" and not entry.settled:
            await _settle(core, ctx, parts[0], entry)  # its results go with it: record them first
        view = await _upstream(batches.delete(parts[0]))
        del _book(core).entries[parts[0]]
        await _reply(send, ctx, dumps(view))
    elif (method, action) == ("GET", "results"):
        lines = await _settle(core, ctx, parts[0], entry)
        body = b"".join(dumps(line) + b"\n" for line in lines)
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", b"application/x-jsonl"), (b"content-length", str(len(body)).encode()),
            (b"request-id", ctx.request_id.encode())]})
        await send({"type": "http.response.body", "body": body})
    else:
        raise HttpError(404, "not_found_error", f"Not found: {method} {path}")


DEADLINE_HEADER = b"x-tiered-deadline-s"
_STATUS = {"invalid_request_error": 400, "authentication_error": 401, "permission_error": 403,
           "not_found_error": 404, "request_too_large": 413, "rate_limit_error": 429, "api_error": 500,
           "timeout_error": 504, "overloaded_error": 529}


def deadline_allows(core: Core, scope: Scope) -> float | None:
    """The caller's declared deadline (seconds) when it lets this request wait for a batch, else None."""
    least = core.settings.batch_deadline_s
    raw = header(scope, DEADLINE_HEADER)
    if least is None or raw is None:
        return None
    try:
        deadline = float(raw)
    except ValueError:
        raise HttpError(400, "invalid_request_error", f"x-tiered-deadline-s: expected seconds, got {raw!r}") from None
    return deadline if deadline >= least else None


async def answer_by_batch(core: Core, ctx: Context, scope: Scope, body: dict[str, Any],
                          deadline_s: float) -> tuple[dict[str, Any], dict[str, str]]:
    """Answer one whole Messages request through a one-request upstream batch, waiting up to `deadline_s`.

    Returns the message and the x-tiered headers. An errored result is raised with its type and status; a
    batch not ended by the deadline is canceled and answered 504 timeout_error, never a made-up success."""
    choice, sent = _route(core, scope, body, "request")
    ctx.route = choice.route
    info = core.catalog.resolve(choice.model)
    worst = call_cost_bound(info, count_input_tokens(sent), int(sent["max_tokens"])) * (1 - info.batch_discount)
    hold = await _hold(core, ctx, worst)
    entry = Entry(ctx.caller, {"request": choice}, hold)
    batches = _client(core).messages.batches
    try:
        view = await _upstream(batches.create(requests=[{"custom_id": "request", "params": sent}]))
    except BaseException:
        if hold is not None:
            await core.limits.settle(ctx.caller, hold, Decimal(0))
        raise
    _book(core).entries[view["id"]] = entry
    ends = time.monotonic() + deadline_s
    poll = 0.05  # doubling up to 5 s: a quick batch is seen quickly, a slow one is not polled hard
    while view.get("processing_status") != "ended":
        if time.monotonic() + poll > ends:
            await _upstream(batches.cancel(view["id"]))
            raise HttpError(504, "timeout_error", f"batch {view['id']} did not end within the request's deadline of "
                            f"{deadline_s:g}s; it was canceled")
        await asyncio.sleep(poll)
        poll = min(poll * 2, 5.0)
        view = await _upstream(batches.retrieve(view["id"]))
    lines = await _settle(core, ctx, view["id"], entry)
    ctx.recorded = True  # its record went to the sinks (and the metrics) with the batch's results
    result = (lines[0].get("result") if lines else None) or {}
    if result.get("type") != "succeeded":
        err = (result.get("error") or {}).get("error") or {}
        kind = str(err.get("type") or "api_error")
        raise HttpError(_STATUS.get(kind, 502), kind,
                        str(err.get("message") or f"the batch request was {result.get('type') or 'lost'}"))
    cost = cost_usd(info, Usage.from_api(result["message"].get("usage")), batch=True)
    extra = {"x-tiered-model": info.id, "x-tiered-tier": info.tier, "x-tiered-degraded": "false",
             "x-tiered-cost-usd": format(cost, "f"), "x-tiered-batch": view["id"]}
    return result["message"], extra


async def create(core: Core, ctx: Context, scope: Scope, receive: Receive) -> dict[str, Any]:
    body = await read_json(receive, scope, core.settings.max_body_bytes)
    requests = body.get("requests") if isinstance(body, dict) else None
    if not isinstance(requests, list) or not requests:
        raise HttpError(400, "invalid_request_error", "requests: a non-empty list is required")
    routed: dict[str, Routed] = {}
    upstream: list[dict[str, Any]] = []
    worst = Decimal(0)
    for i, item in enumerate(requests):
        where = f"requests.{i}"
        if not isinstance(item, dict) or not isinstance(item.get("custom_id"), str):
            raise HttpError(400, "invalid_request_error", f"{where}.custom_id: a string is required")
        params = item.get("params")
        if isinstance(params, dict) and params.get("stream"):
            raise HttpError(400, "invalid_request_error", f"{where}.params.stream: batches do not stream")
        try:
            checked = check_messages_body(params)
        except InvalidRequest as e:
            raise HttpError(400, "invalid_request_error", f"{where}.params.{e}") from e
        choice, sent = _route(core, scope, checked, where)
        routed[item["custom_id"]] = choice
        upstream.append({"custom_id": item["custom_id"], "params": sent})
        info = core.catalog.resolve(choice.model)
        worst += call_cost_bound(info, count_input_tokens(sent), int(sent["max_tokens"])) * (1 - info.batch_discount)
    hold = await _hold(core, ctx, worst)
    try:
        view = await _upstream(_client(core).messages.batches.create(requests=upstream))
    except BaseException:
        if hold is not None:
            await core.limits.settle(ctx.caller, hold, Decimal(0))
        raise
    _book(core).entries[view["id"]] = Entry(ctx.caller, routed, hold)
    return _local(view, scope)


def _route(core: Core, scope: Scope, params: dict[str, Any], where: str) -> tuple[Routed, dict[str, Any]]:
    """The model the request's route answers it with (the policy's first step), and the body to send."""
    selected = core.selector.select(params["model"], header(scope, b"x-tiered-route"))
    request = core.request(params, scope)
    flow = selected.policy.flow(request)
    try:
        step = next(flow)
    except StopIteration:
        step = None
    finally:
        flow.close()
    if not isinstance(step, Call) or step.purpose != "answer" or step.request.tools != request.tools \
            or step.request.tool_choice != request.tool_choice:
        what = f"its first call is {step.purpose!r}" if isinstance(step, Call) else "it does not start with one call"
        raise HttpError(400, "invalid_request_error",
                        f"{where}: route {selected.route!r} cannot answer in a batch ({what}, and a batch request "
                        "gets one call); use a route that picks its model without a model call (router with a "
                        "local scorer, fallback, task map, or a model)")
    info = core.catalog.resolve(step.target)
    sent = step.request.to_body(info.upstream_model or info.id)
    return Routed(selected.route, repr(selected.policy), info.id, info.tier or None, step.reason,
                  params["model"], request.task), sent


async def _hold(core: Core, ctx: Context, worst: Decimal) -> str | None:
    budget = core.settings.usd_per_day
    if budget is None:
        return None
    hold_id = f"batch-{uuid.uuid4().hex}"
    verdict = await core.limits.reserve(ctx.caller, hold_id, worst, budget)
    if not verdict.granted:
        raise HttpError(429, "rate_limit_error",
                        f"daily budget of ${budget} would be exceeded by this batch's worst case (${worst:.6f} at "
                        f"batch prices); ${max(budget - verdict.spent - verdict.held, Decimal(0)):.6f} remaining",
                        [*retry_after_headers(1.0), (b"x-should-retry", b"false")])
    return hold_id


async def _settle(core: Core, ctx: Context, batch_id: str, entry: Entry) -> list[dict[str, Any]]:
    """The batch's result lines; the first time, each becomes a record and the hold is settled."""
    decoder = await _upstream_raw(_client(core).messages.batches.results(batch_id))
    lines = [item.model_dump(mode="json", exclude_none=False) async for item in decoder]
    if entry.settled:
        return lines
    entry.settled = True
    total = Decimal(0)
    for line in lines:
        choice = entry.routed.get(str(line.get("custom_id")))
        if choice is None:
            continue
        record = _record(core, batch_id, choice, line.get("result") or {})
        total += record.cost_usd
        emit(record, core.sinks)
    entry.cost_usd = total
    if entry.hold is not None:
        await core.limits.settle(ctx.caller, entry.hold, total)
    return lines


def _record(core: Core, batch_id: str, choice: Routed, result: dict[str, Any]) -> Record:
    kind = result.get("type")
    info = core.catalog.get(choice.model)
    message = result.get("message") if kind == "succeeded" else None
    usage = Usage.from_api(message.get("usage")) if isinstance(message, dict) else Usage()
    cost = cost_usd(info, usage, batch=True) if info is not None and message is not None else Decimal(0)
    error = ((result.get("error") or {}).get("error") or {}).get("type") if kind == "errored" else None
    outcome = "ok" if message is not None else (error or str(kind or "error"))
    attempt = Attempt(model=choice.model, tier=choice.tier, purpose="answer", outcome=outcome,
                      input_tokens=usage.input_tokens, output_tokens=usage.output_tokens,
                      cache_read_input_tokens=usage.cache_read_input_tokens,
                      cache_creation_input_tokens=usage.cache_creation_input_tokens, cost_usd=cost,
                      status=200 if message is not None else None, reason=f"batch {batch_id}")
    return Record(trace_id=uuid.uuid4().hex, route=choice.route, policy=choice.policy,
                  decision=Decision(choice.policy, choice.tier, f"batch {batch_id}: {choice.reason}"),
                  attempts=(attempt,), cost_usd=cost, latency_ms=0.0, degraded=False, created_at=time.time(),
                  model=choice.model if message is not None else None,
                  tier=choice.tier if message is not None else None, requested_model=choice.requested,
                  task=choice.task, outcome=outcome)


async def listing(core: Core, ctx: Context) -> dict[str, Any]:
    mine = [bid for bid, e in _book(core).entries.items() if e.caller == ctx.caller]
    views = [await _upstream(_client(core).messages.batches.retrieve(bid)) for bid in reversed(mine)]
    return {"data": views, "has_more": False, "first_id": mine[-1] if mine else None,
            "last_id": mine[0] if mine else None}


def _local(view: dict[str, Any], scope: Scope) -> dict[str, Any]:
    """The upstream view with its results_url pointing at this gateway."""
    if view.get("results_url"):
        host = header(scope, b"host") or "127.0.0.1"
        view = {**view, "results_url": f"http://{host}{PREFIX}/{view['id']}/results"}
    return view


async def _reply(send: Send, ctx: Context, body: bytes) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"request-id", ctx.request_id.encode())]})
    await send({"type": "http.response.body", "body": body})


@dataclass
class _State:
    book: BatchBook = field(default_factory=BatchBook)
    client: Any = None


_STATES: weakref.WeakKeyDictionary[Core, _State] = weakref.WeakKeyDictionary()


def _state(core: Core) -> _State:
    if core not in _STATES:
        _STATES[core] = _State()
    return _STATES[core]


def batch_cost(core: Core, batch_id: str) -> Decimal | None:
    """What a batch this gateway created cost at the batch price, once its results were recorded."""
    entry = _book(core).entries.get(batch_id)
    return entry.cost_usd if entry is not None and entry.settled else None


def _book(core: Core) -> BatchBook:
    return _state(core).book


def _client(core: Core) -> Any:
    """The upstream SDK client for batches (max_retries=0: one layer retries), built once per gateway."""
    state = _state(core)
    if state.client is not None:
        return state.client
    import anthropic

    backend = core.config.backend
    info = core.catalog.resolve(next(iter(core.catalog.tiers)))
    key = os.environ.get(backend.api_key_env or key_env(info))
    if backend.kind == "replay" or (backend.kind == "auto" and not backend.base_url and not key):
        raise HttpError(400, "invalid_request_error", "message batches need an upstream with the Batches API "
                        "(backend anthropic or emulator); this gateway answers from recorded data")
    state.client = anthropic.AsyncAnthropic(api_key=key or EMULATOR_KEY, base_url=backend.base_url, max_retries=0)
    return state.client


async def _upstream_raw(call: Any) -> Any:
    import anthropic

    try:
        return await call
    except anthropic.APIStatusError as e:
        body: dict[str, Any] = e.body if isinstance(e.body, dict) else {}
        found = body.get("error")
        err: dict[str, Any] = found if isinstance(found, dict) else {}
        raise HttpError(e.status_code, str(err.get("type") or "api_error"),
                        str(err.get("message") or e.message)) from e
    except anthropic.APIError as e:
        raise HttpError(502, "api_error", f"upstream batches API unreachable: {type(e).__name__}") from e


async def _upstream(call: Any) -> dict[str, Any]:
    value = await _upstream_raw(call)
    dumped: dict[str, Any] = json.loads(value.model_dump_json())
    return dumped
