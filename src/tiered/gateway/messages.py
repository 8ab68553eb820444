"""POST /v1/messages (whole or streamed) and POST /v1/messages/count_tokens, in the API's own terms.

count_tokens answers the upstream's exact count when the model its route may answer with can count
(the Anthropic provider), else the character estimate, and says which in `x-tiered-token-count`
(`tiered.gateway.token_count`).

Bodies are checked by the emulator's validator (`tiered.emulator.validation`), so the gateway
rejects exactly what the emulator, and as far as it knows the API, rejects: a 400
invalid_request_error whose message names the field by its path.

Whole answers: the policy runs to the end (`tiered.runtime.driver.run`); success is the Messages
JSON with the x-tiered-* headers, failure is the status and error type of the last upstream error
(a 529 stays a 529 with its retry-after), never a 200; except the upstream refusing the gateway's own
key, a 502 that names that key (`upstream_error`), not a 401 the client would take for its own.

Streams (`tiered.runtime.streaming.stream`) hold events back until the answering call produced its
first content, so a failure before that is still a proper HTTP error and a fallback stays invisible.
Once bytes went out, a failure ends the stream with an `error` event and no `message_stop` (the
SDKs raise); a client that disconnects cancels the upstream call, and the request is recorded as
cancelled. Either way exactly one record is written.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from tiered.emulator.validation import InvalidRequest, check_messages_body
from tiered.errors import AllFailed, AuthFailed, ProviderError, ServerError
from tiered.gateway import batches, token_count
from tiered.gateway.core import Context, Core
from tiered.gateway.selection import Selected
from tiered.gateway.wire import (
    HttpError,
    Receive,
    Scope,
    Send,
    dumps,
    header,
    provider_error,
    read_json,
    send_bytes,
    send_chunk,
    sse,
    start_stream,
)
from tiered.records import Record
from tiered.runtime.driver import run
from tiered.runtime.streaming import StreamRun, stream
from tiered.types import Request, Response, StreamEvent

log = logging.getLogger("tiered.gateway")


def checked(body: Any, *, count_only: bool = False) -> dict[str, Any]:
    try:
        return check_messages_body(body, count_only=count_only)
    except InvalidRequest as e:
        raise HttpError(400, "invalid_request_error", str(e)) from e


def head(core: Core, ctx: Context, extra: dict[str, str]) -> list[tuple[bytes, bytes]]:
    values = {"request-id": ctx.request_id, "x-tiered-route": ctx.route, **extra}
    if ctx.recorded:  # only a request the log records gets the id of its record
        values["x-tiered-trace-id"] = ctx.trace_id
    return [(k.encode(), v.encode()) for k, v in values.items()]


async def create(core: Core, ctx: Context, scope: Scope, receive: Receive, send: Send) -> None:
    body = checked(await read_json(receive, scope, core.settings.max_body_bytes))
    selected = core.selector.select(body["model"], header(scope, b"x-tiered-route"))
    ctx.route = selected.route
    core.allow(ctx, selected)
    if not body.get("stream") and (deadline := batches.deadline_allows(core, scope)) is not None:
        message, extra = await batches.answer_by_batch(core, ctx, scope, body, deadline)
        await send_bytes(send, 200, dumps(message), head(core, ctx, extra))
        return
    request = core.request(body, scope)
    if body.get("stream"):
        await relay(core, ctx, policy_stream(core, ctx, selected, request), receive, send, encode=sse)
        return
    response, record = await answer(core, ctx, selected, request)
    await send_bytes(send, 200, dumps(response.to_api()), head(core, ctx, core.served_headers(record)))
    core.after(ctx, selected.route, request, response.text, record)


def policy_stream(core: Core, ctx: Context, selected: Selected, request: Request) -> StreamRun:
    """The streaming run of the selected policy (both endpoints relay it in their own wire format)."""
    return stream(selected.policy, request, core.tracked(core.models_for(ctx)), route=selected.route,
                  sinks=core.sinks_for(ctx), catalog=core.catalog, trace_id=ctx.trace_id)


async def answer(core: Core, ctx: Context, selected: Selected, request: Request) -> tuple[Response, Record]:
    """Run the selected policy to the end within a budget hold (`Core.reserve` / `Core.settle`), and
    return the answer or raise the upstream error."""
    models = core.tracked(core.models_for(ctx))
    await core.reserve(ctx, selected.route, request)
    core.note(ctx, selected.route, request)
    record: Record | None = None
    try:
        ctx.recorded = True  # from here the driver writes the record, even if something raises
        result = await run(selected.policy, request, models, route=selected.route, sinks=core.sinks_for(ctx),
                           catalog=core.catalog, trace_id=ctx.trace_id)
        record = result.record
    finally:  # whatever happened: release the budget hold, charge what the record cost
        await core.settle(ctx, record)
    if result.response is None:
        raise upstream_error(core, result.error or ServerError("every attempt failed"))
    return result.response, result.record


def upstream_error(core: Core, error: ProviderError) -> HttpError:
    """The response for the upstream error that ended a request: its own status and type, except that
    the upstream refusing the gateway's own key (401/403) is a 502 that says so; a client answered 401
    authentication_error would blame its own credentials for the gateway (Claude Code asks to log in)."""
    if not isinstance(error, AuthFailed) or core.settings.pass_through_key:
        return provider_error(error)
    var = core.config.backend.api_key_env or "ANTHROPIC_API_KEY"
    return HttpError(502, "api_error", f"the upstream refused this gateway's own API key (${var}, set by the "
                     f"gateway's operator; your key for the gateway was accepted): {error.message}")


async def count_tokens(core: Core, ctx: Context, scope: Scope, receive: Receive, send: Send) -> None:
    """The upstream's exact count for the model the request's route may answer with, when that model can
    count, else the character estimate (`tiered.gateway.token_count`); `x-tiered-token-count` says which.
    The model must be one the gateway serves, as the API checks it. Free: no budget hold, no record."""
    body = checked(await read_json(receive, scope, core.settings.max_body_bytes), count_only=True)
    body.pop("max_tokens", None)  # not a count_tokens field: whatever a client sent (null, "8") counts nothing
    selected = core.selector.select(body["model"], header(scope, b"x-tiered-route"))
    ctx.route = selected.route
    core.allow(ctx, selected)
    tokens, kind = await token_count.count(core, ctx, ctx.route, core.request(body, scope), body)
    await send_bytes(send, 200, dumps({"input_tokens": tokens}), head(core, ctx, {token_count.HEADER: kind}))


Encode = Callable[[StreamEvent], bytes]
"""Shapes one Anthropic event as the bytes the client's API expects (empty: nothing to send)."""


async def relay(core: Core, ctx: Context, s: StreamRun, receive: Receive, send: Send, *,
                encode: Encode, end: bytes = b"") -> None:
    """Send a policy's stream as SSE (`encode` shapes each event); see the module docstring.

    `end` is written after a complete stream (OpenAI's `data: [DONE]`), never after a failed one.
    The caller's budget hold is taken first and settled with the record's cost however the relay ends;
    the event iterator is closed before that, so the record exists (a client gone, a send that failed).
    """
    await core.reserve(ctx, s.route, s.request, stream=True)
    core.note(ctx, s.route, s.request)
    events = s.__aiter__()
    text: list[str] | None = [] if core.wants_answer_text(s.route) else None  # for the learning loop's shadow
    relayed = events if text is None else _collecting(events, text)
    try:
        await _relay(core, ctx, s, relayed, receive, send, encode=encode, end=end)
    finally:
        for it in (relayed, events) if relayed is not events else (events,):
            aclose = getattr(it, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()
        await core.settle(ctx, s.record)
    if text is not None and s.record is not None and s.record.outcome == "ok":
        core.after(ctx, s.route, s.request, "".join(text), s.record)


async def _collecting(events: AsyncIterator[StreamEvent], into: list[str]) -> AsyncIterator[StreamEvent]:
    """The same events, with the answer's text deltas appended to `into` as they pass."""
    async for event in events:
        if event.get("type") == "content_block_delta":
            delta = event.get("delta") or {}
            if delta.get("type") == "text_delta":
                into.append(str(delta.get("text", "")))
        yield event


async def _relay(core: Core, ctx: Context, s: StreamRun, events: AsyncIterator[StreamEvent], receive: Receive,
                 send: Send, *, encode: Encode, end: bytes) -> None:
    ctx.recorded = True  # once iteration starts, the driver writes the record whatever happens
    try:
        first = await events.__anext__()
    except AllFailed as e:
        raise upstream_error(core, e.last) from None
    except StopAsyncIteration:
        raise HttpError(502, "api_error", "the upstream stream ended before any event") from None
    if s.record is not None:  # a policy that answered whole (a cascade stopped early): all is known
        extra = core.served_headers(s.record)
    else:
        extra = core.stream_headers(str((first.get("message") or {}).get("model", "")), s.attempts)
    await start_stream(send, head(core, ctx, extra))
    pump = asyncio.ensure_future(_pump(first, events, send, encode, end))
    gone = asyncio.ensure_future(_disconnected(receive))
    try:
        await asyncio.wait({pump, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (pump, gone):
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
    if pump.done() and not pump.cancelled() and pump.exception() is not None:
        log.error("stream relay failed (trace %s)", ctx.trace_id, exc_info=pump.exception())


async def _pump(first: StreamEvent, events: AsyncIterator[StreamEvent], send: Send, encode: Encode,
                end: bytes) -> None:
    ok = True
    try:
        await send_chunk(send, encode(first))
        async for event in events:
            if event.get("type") == "error":
                ok = False
            await send_chunk(send, encode(event))
    except Exception as e:  # after the headers, only an error event can tell the client
        log.error("stream failed after it began: %s", e, exc_info=e)
        ok = False
        await send_chunk(send, encode({"type": "error", "error": {"type": "api_error", "message": "stream failed"}}))
    await send_chunk(send, end if ok else b"", more=False)


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
