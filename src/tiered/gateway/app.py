"""The gateway as a raw ASGI app: one table of routes, one place where errors become responses.

    POST /v1/messages                 Anthropic Messages, whole or streamed      (messages.py)
    POST /v1/messages/count_tokens    {"input_tokens": N}, exact or estimated    (messages.py, token_count.py)
    POST /v1/chat/completions         OpenAI chat completions, whole or streamed (openai_chat.py)
    /v1/messages/batches[...]         Message Batches, each request routed       (batches.py)
    GET  /v1/models[/{id}]            routes and catalog models                  (selection.py)
    GET  /healthz                     liveness, no auth
    GET  /metrics                     Prometheus text, no auth                   (metrics.py)
    POST /v1/tiered/feedback          a label for an answer, from its key        (feedback.py)
    GET  /v1/tiered/...               spend figures, dashboard data; admin key   (admin.py)
    GET  /ui                          the operator's dashboard (static files)    (ui.py)

No framework: the handlers need a bounded JSON body, a JSON answer and an SSE stream, and the
gateway's added latency is measured against the emulator's (bench/gateway_overhead.py). Every
request gets a trace id (also its `request-id`), sent as `x-tiered-trace-id` only with requests the
log records (not a refusal before the policy ran, nor count_tokens); auth and the rate limit
(count_tokens, free and unrecorded, is not counted) run before the body is read, the budget hold
(`Core.reserve`) once the body says what the request could cost; any
`HttpError` becomes the error body of the API the route speaks; anything unexpected is a 500 api_error
with the trace id, logged here with its traceback and never sent to the client.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

from tiered.gateway import admin, batches, feedback, messages, openai_chat
from tiered.gateway.auth import caller_id, presented_key
from tiered.gateway.core import Context, Core
from tiered.gateway.selection import openai_model, openai_models, page
from tiered.gateway.wire import Dialect, HttpError, Receive, Scope, Send, dumps, error_body, header, send_bytes

log = logging.getLogger("tiered.gateway")
Handler = Callable[[Core, Context, Scope, Receive, Send], Awaitable[None]]

_ROUTES: dict[str, tuple[str, Dialect, Handler | None]] = {
    "/v1/messages": ("POST", "anthropic", messages.create),
    "/v1/messages/count_tokens": ("POST", "anthropic", messages.count_tokens),
    "/v1/chat/completions": ("POST", "openai", openai_chat.create),
    "/v1/models": ("GET", "anthropic", None),
    "/healthz": ("GET", "anthropic", None),
    "/metrics": ("GET", "anthropic", None),
    "/v1/tiered/feedback": ("POST", "anthropic", feedback.create),
}
_OPEN = ("/healthz", "/metrics")


class Gateway:
    """The ASGI callable. `core` holds the state; the app only dispatches and shapes errors."""

    def __init__(self, core: Core, *, clock: Callable[[], float] = time.perf_counter) -> None:
        self.core = core
        self._clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.core.warm()
                self.core.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.core.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        ctx = Context(trace_id=uuid.uuid4().hex, started=self._clock(), traceparent=header(scope, b"traceparent"))
        path: str = scope["path"].rstrip("/") or "/"
        entry = _ROUTES.get(path)
        if entry is None and path.startswith(batches.PREFIX):
            entry = (scope["method"], "anthropic", batches.handle)  # the handler checks methods per path
        if entry is None and path.startswith("/v1/models/"):
            entry = ("GET", "anthropic", None)
        dialect: Dialect = entry[1] if entry is not None else "anthropic"
        try:
            if (path.startswith(admin.PREFIX) and entry is None) or path == "/ui" or path.startswith("/ui/"):
                await self._operator(path, scope, ctx, send)
                return
            if entry is None:
                raise HttpError(404, "not_found_error", f"Not found: {scope['method']} {path}")
            if scope["method"] != entry[0]:
                raise HttpError(405, "invalid_request_error", f"Method {scope['method']} not allowed for {path}; "
                                f"use {entry[0]}", [(b"allow", entry[0].encode())])
            if path not in _OPEN:
                await self.core.authenticate(ctx, scope)
                if self.core.settings.pass_through_key and (key := presented_key(scope)):
                    ctx.caller, ctx.upstream_key = caller_id(key), key
                    ctx.key_name = ctx.caller
            handler = entry[2]
            if handler is None:
                await self._get(path, scope, ctx, send)
                return
            if path != "/v1/messages/count_tokens":  # free, unrecorded: not a request against the rate limit
                await self.core.admit(ctx)
            await handler(self.core, ctx, scope, receive, send)
        except HttpError as e:
            await self._refuse(send, ctx, dialect, e)
        except Exception:  # the caller gets the API's error shape and the trace id; the traceback stays here
            log.exception("gateway error (trace %s)", ctx.trace_id)
            err = HttpError(500, "api_error", f"internal gateway error (trace {ctx.trace_id})")
            await self._refuse(send, ctx, dialect, err)

    async def _operator(self, path: str, scope: Scope, ctx: Context, send: Send) -> None:
        """The dashboard's static files (no data in them, so no key) and the admin endpoints (`admin`)."""
        if path == "/ui" or path.startswith("/ui/"):
            from tiered.gateway import ui

            await ui.serve(path, scope, send)
            return
        await self.core.authenticate(ctx, scope, admin=True)
        await admin.handle(self.core, path, scope, send, [(b"request-id", ctx.request_id.encode())])

    async def _refuse(self, send: Send, ctx: Context, dialect: Dialect, e: HttpError) -> None:
        if not ctx.recorded:
            self.core.metrics.refused(ctx.route, e.error_type, self._clock() - ctx.started)
        headers = [(b"request-id", ctx.request_id.encode()), *e.headers]
        if ctx.recorded:  # the trace id names a record of the request log; a refusal before the policy ran has none
            headers.append((b"x-tiered-trace-id", ctx.trace_id.encode()))
        try:
            await send_bytes(send, e.status, error_body(dialect, e, ctx.request_id), headers)
        except Exception:  # noqa: BLE001 - the response had already started (a stream); nothing more to say
            log.debug("could not send error %s (trace %s): response already started", e.status, ctx.trace_id)

    async def _get(self, path: str, scope: Scope, ctx: Context, send: Send) -> None:
        headers = [(b"request-id", ctx.request_id.encode())]
        if path == "/metrics":
            body = self.core.metrics.render() + self.core.recorder.render_metrics().encode()
            await send({"type": "http.response.start", "status": 200, "headers": [
                (b"content-type", b"text/plain; version=0.0.4; charset=utf-8"),
                (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        body_obj: Any
        if path == "/healthz":
            body_obj = {"status": "ok", "routes": list(self.core.config.routes),
                        "default_route": self.core.config.default_route, "backend": self.core.config.backend.kind}
        elif path == "/v1/models":
            query = {k: v[-1] for k, v in parse_qs(scope.get("query_string", b"").decode("latin-1")).items()}
            body_obj = page(self.core.selector.listing(), query)
            if header(scope, b"anthropic-version") is None:  # an OpenAI client (theirs never send it)
                body_obj = openai_models(body_obj["data"])
        else:
            wanted = path[len("/v1/models/"):]
            found = [m for m in self.core.selector.listing() if m["id"] == wanted]
            if not found:
                info = self.core.catalog.get(wanted)
                found = [m for m in self.core.selector.listing() if info is not None and m["id"] == info.id]
            if not found:
                raise HttpError(404, "not_found_error", f"model: {wanted}")
            body_obj = found[0] if header(scope, b"anthropic-version") is not None else openai_model(found[0])
        await send_bytes(send, 200, dumps(body_obj), headers)
