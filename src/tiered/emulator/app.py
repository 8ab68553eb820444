"""The emulator as a raw ASGI app: routing, auth, body limits, faults, pacing.

It is the upstream of gateway benchmarks, so it must never be their bottleneck: no framework, one
dict lookup to route, stdlib JSON, and the whole response in one `send` unless latency is injected.
Each `Emulator` instance owns its state (prompt cache, fault draws, ids), so tests that run several
instances side by side do not see each other.

    POST /v1/messages                 text or forced tool use, JSON or SSE
    POST /v1/messages/count_tokens    {"input_tokens": N}
    GET  /v1/models[/{id}]            the catalog (model_list.py)
    /v1/messages/batches[...]         the Message Batches API (batches.py)

Order of checks: route (404/405), auth (401), size (413), JSON and body (400), model (404),
fault headers (400 when malformed), then the injected fault if any, then the answer. Faults apply
to count_tokens too, as to a non-streaming request (a `midstream` fault is a 529 there); latency does not.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from typing import Any

from tiered.asgi_body import BodyError, read_json_body
from tiered.capabilities import refusal
from tiered.catalog import Catalog
from tiered.emulator.batches import BatchError, BatchStore
from tiered.emulator.config import EmulatorConfig
from tiered.emulator.faults import BadFaultHeader, Fault, FaultPlan, error_message, parse_fault, parse_latency
from tiered.emulator.model_list import BadQuery, ModelDirectory
from tiered.emulator.replay_lookup import ReplayAnswers
from tiered.emulator.reply import compose
from tiered.emulator.sse import stream_events
from tiered.emulator.tokens import PromptCache, count_input_tokens
from tiered.emulator.validation import InvalidRequest, check_messages_body
from tiered.emulator.wire import JSON_CONTENT, SSE_CONTENT, Headers, Ids, RateLimitHeaders, dumps, error_body

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Sleep = Callable[[float], Awaitable[None]]

_ROUTES: dict[str, tuple[str, str]] = {
    "/v1/messages": ("POST", "messages"),
    "/v1/messages/count_tokens": ("POST", "count_tokens"),
    "/v1/models": ("GET", "list_models"),
}


class ApiError(Exception):
    def __init__(self, status: int, kind: str, message: str, headers: Headers | None = None) -> None:
        super().__init__(message)
        self.status, self.kind, self.message = status, kind, message
        self.headers = headers or []


class Emulator:
    """An ASGI app that speaks the Anthropic Messages API (see the module docstring)."""

    def __init__(
        self, config: EmulatorConfig | None = None, *, catalog: Catalog | None = None, sleep: Sleep = asyncio.sleep,
        cache_clock: Callable[[], float] | None = None, clock: Callable[[], float] = time.time,
    ) -> None:
        """`cache_clock` (seconds) makes prompt-cache entries expire after their ttl; without it they never do.
        `clock` dates message batches and times their processing (`batch_seconds`)."""
        self.config = config or EmulatorConfig()
        catalog = catalog or Catalog.load()
        self.catalog = catalog
        self.models = ModelDirectory.build(catalog, self.config)
        replay = self.config.replay
        self.replay = (
            ReplayAnswers.load(replay.dataset, replay.models, catalog.tiers, self.models.names.get)
            if replay is not None
            else None
        )
        names = self.models.names
        self._behaviours = {names.get(name, name): b for name, b in self.config.per_model.items()}
        """Per-model behaviour keyed by catalog id, so `[model.haiku]` also applies to `claude-haiku-4-5`."""
        self.cache = PromptCache(clock=cache_clock)
        self.faults = FaultPlan(self.config.seed)
        self.ids = Ids()
        self.ratelimits = RateLimitHeaders()
        self.batches = BatchStore(self._batch_answer, clock=clock, processing_s=self.config.batch_seconds,
                                  ids=self.ids, check=self._batch_params)
        self.attempts: dict[str, int] = {}
        """How many requests arrived per value of x-stainless-retry-count ("0", "1", ...)."""
        self._sleep = sleep

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = self.ids.make("req")
        try:
            await self._route(scope, receive, send, request_id)
        except ApiError as e:
            await self._send(send, e.status, error_body(e.kind, e.message, request_id), request_id, e.headers)
        except Exception as e:  # noqa: BLE001 - the API answers 500 in its own shape, never a traceback
            body = error_body("api_error", f"emulator bug: {type(e).__name__}", request_id)
            with contextlib.suppress(RuntimeError):  # raised if a stream had already started: nothing to add
                await self._send(send, 500, body, request_id)

    async def _route(self, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
        path: str = scope["path"]
        method: str = scope["method"]
        if path.startswith("/v1/messages/batches"):
            await self._batch_route(scope, receive, send, request_id)
            return
        route = _ROUTES.get(path.rstrip("/") or "/")
        if route is None and path.startswith("/v1/models/"):
            route = ("GET", "get_model")
        if route is None:
            raise ApiError(404, "not_found_error", f"Not found: {method} {path}")
        if method != route[0]:
            raise ApiError(405, "invalid_request_error", f"Method {method} not allowed for {path}; use {route[0]}",
                           [(b"allow", route[0].encode())])
        headers = dict(scope["headers"])
        _authenticate(headers)
        retry = headers.get(b"x-stainless-retry-count", b"0").decode("latin-1")
        self.attempts[retry] = self.attempts.get(retry, 0) + 1
        if route[1] == "list_models":
            try:
                page = self.models.page(scope.get("query_string", b""))
            except BadQuery as e:
                raise ApiError(400, "invalid_request_error", str(e)) from e
            await self._send(send, 200, dumps(page), request_id)
        elif route[1] == "get_model":
            info = self.models.get(path[len("/v1/models/") :])
            if info is None:
                raise ApiError(404, "not_found_error", f"model: {path[len('/v1/models/'):]}")
            await self._send(send, 200, dumps(info), request_id)
        else:
            body = await self._read_json(receive, headers)
            if route[1] == "count_tokens":
                body = self._checked(body, count_only=True)
                canonical = self.models.names.get(body["model"], body["model"])
                self._fault(canonical, headers, stream=False)
                await self._send(send, 200, dumps({"input_tokens": count_input_tokens(body)}), request_id)
            else:
                await self._messages(self._checked(body, count_only=False), headers, receive, send, request_id)

    async def _read_json(self, receive: Receive, headers: dict[bytes, bytes]) -> Any:
        declared = headers.get(b"content-length")
        try:
            return await read_json_body(receive, None if declared is None else declared.decode("latin-1"),
                                        self.config.max_body_bytes)
        except BodyError as e:
            raise ApiError(e.status, e.error_type, e.message) from e

    def _checked(self, body: Any, *, count_only: bool) -> dict[str, Any]:
        try:
            checked = check_messages_body(body, count_only=count_only)
        except InvalidRequest as e:
            raise ApiError(400, "invalid_request_error", str(e)) from e
        if not self.models.knows(checked["model"]):
            raise ApiError(404, "not_found_error", f"model: {checked['model']}")
        info = self.models.get(checked["model"])
        cap = info.get("max_tokens") if info is not None else None
        if not count_only and isinstance(cap, int) and checked["max_tokens"] > cap:
            raise ApiError(400, "invalid_request_error",
                           f"max_tokens: {checked['max_tokens']} > {cap}, which is the maximum allowed number of "
                           f"output tokens for {self.models.names.get(checked['model'], checked['model'])}")
        known = self.catalog.get(checked["model"])
        refused = refusal(known, checked) if known is not None else None
        if refused is not None:  # what this model does not accept (catalog capabilities), as the API refuses it
            raise ApiError(400, "invalid_request_error", refused)
        return checked

    async def _messages(
        self, body: dict[str, Any], headers: dict[bytes, bytes], receive: Receive, send: Send, request_id: str
    ) -> None:
        model: str = body["model"]
        canonical = self.models.names.get(model, model)
        behaviour = self._behaviours.get(canonical, self.config.default)
        stream: bool = body.get("stream", False)
        try:
            latency = headers.get(b"x-tiered-latency-ms")
            ttft, tpot = parse_latency(latency.decode("latin-1")) if latency else (behaviour.ttft_ms, behaviour.tpot_ms)
        except BadFaultHeader as e:
            raise ApiError(400, "invalid_request_error", str(e)) from e
        fault = self._fault(canonical, headers, stream=stream)
        reply = compose(body, self.replay, self.ids)
        usage = {**self.cache.usage(model, body).as_dict(), "service_tier": "standard"}
        head = {"id": self.ids.make("msg"), "type": "message", "role": "assistant", "model": model, "usage": usage}
        if not stream:
            if ttft or tpot:
                await self._sleep((ttft + tpot * reply.output_tokens) / 1000)
            message = {**head, "content": list(reply.blocks), "stop_reason": reply.stop_reason,
                       "stop_sequence": reply.stop_sequence, "usage": {**usage, "output_tokens": reply.output_tokens}}
            await self._send(send, 200, dumps(message), request_id)
            return
        events = stream_events(head, reply, fail_midstream=fault is not None)
        await send({"type": "http.response.start", "status": 200, "headers": self._headers(request_id, SSE_CONTENT)})
        if not (ttft or tpot):
            await send({"type": "http.response.body", "body": b"".join(e for e, _ in events)})
            return
        await self._paced(events, ttft, tpot, receive, send)

    async def _batch_route(self, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
        headers = dict(scope["headers"])
        _authenticate(headers)
        body = await self._read_json(receive, headers) if scope["method"] == "POST" and \
            scope["path"].rstrip("/") == "/v1/messages/batches" else None
        host = headers.get(b"host", b"127.0.0.1").decode("latin-1")
        try:
            status, payload, jsonl = self.batches.handle(scope["method"], scope["path"], scope.get("query_string", b""),
                                                         body, f"http://{host}")
        except BatchError as e:
            raise ApiError(e.status, e.kind, e.message) from e
        content = (b"content-type", b"application/x-jsonl") if jsonl else JSON_CONTENT
        headers_out = [*self._headers(request_id, content), (b"content-length", str(len(payload)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers_out})
        await send({"type": "http.response.body", "body": payload})

    def _batch_params(self, params: Any, where: str) -> dict[str, Any]:
        try:
            return self._checked(params, count_only=False)
        except ApiError as e:
            raise BatchError(e.status, e.kind, f"{where}.{e.message}" if e.status == 400 else e.message) from e

    def _batch_answer(self, params: dict[str, Any]) -> dict[str, Any]:
        """One batch request's result, answered as /v1/messages would (faults drawn per model, no headers)."""
        model: str = params["model"]
        try:
            self._fault(self.models.names.get(model, model), {}, stream=False)
        except ApiError as e:
            return {"type": "errored", "error": {"type": "error", "error": {"type": e.kind, "message": e.message}}}
        reply = compose(params, self.replay, self.ids)
        usage = {**self.cache.usage(model, params).as_dict(), "service_tier": "batch",
                 "output_tokens": reply.output_tokens}
        message = {"id": self.ids.make("msg"), "type": "message", "role": "assistant", "model": model,
                   "content": list(reply.blocks), "stop_reason": reply.stop_reason,
                   "stop_sequence": reply.stop_sequence, "usage": usage}
        return {"type": "succeeded", "message": message}

    def _fault(self, canonical: str, headers: dict[bytes, bytes], *, stream: bool) -> Fault | None:
        """The request's injected fault: its `x-tiered-fault` header, else the model's seeded draw. One
        answered with an error status is raised here; a mid-stream one (streams only) is returned."""
        behaviour = self._behaviours.get(canonical, self.config.default)
        try:
            header_fault = headers.get(b"x-tiered-fault")
            fault = parse_fault(header_fault.decode("latin-1")) if header_fault is not None else None
        except BadFaultHeader as e:
            raise ApiError(400, "invalid_request_error", str(e)) from e
        if fault is None:
            fault = self.faults.draw(canonical, behaviour)
        if fault is None:
            return None
        fault = fault.for_stream(stream)
        if fault.status == 429 and fault.retry_after_ms is None and fault.retry_after_s is None:
            fault = Fault(429, retry_after_ms=behaviour.retry_after_ms)
        if not fault.midstream:
            raise ApiError(fault.status, fault.error_type, error_message(fault.error_type), fault.headers())
        return fault

    async def _paced(
        self, events: Iterator[tuple[bytes, int]], ttft: float, tpot: float, receive: Receive, send: Send
    ) -> None:
        """Send events as the latency says, and stop early when the client goes away."""
        gone = asyncio.ensure_future(receive())  # the next ASGI message after the body is http.disconnect
        try:
            await self._sleep(ttft / 1000)
            for event, tokens in events:
                if gone.done():
                    return
                if tokens and tpot:
                    await self._sleep(tpot * tokens / 1000)
                await send({"type": "http.response.body", "body": event, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            gone.cancel()

    def _headers(self, request_id: str, content: tuple[bytes, bytes], extra: Headers | None = None) -> Headers:
        return [content, (b"request-id", request_id.encode()), *self.ratelimits.get(), *(extra or ())]

    async def _send(self, send: Send, status: int, body: bytes, request_id: str, extra: Headers | None = None) -> None:
        headers = self._headers(request_id, JSON_CONTENT, extra)
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _authenticate(headers: dict[bytes, bytes]) -> None:
    if headers.get(b"x-api-key"):
        return
    auth = headers.get(b"authorization", b"")
    if auth[:7].lower() == b"bearer " and auth[7:].strip():
        return
    raise ApiError(401, "authentication_error", "x-api-key or Authorization: Bearer header is required")
