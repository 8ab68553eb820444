"""The operator's endpoints, behind an admin key: spend figures and the dashboard's data.

    GET /v1/tiered/stats?by=key|team|route|tier|model|day&since=7d   what `tiered stats --by` prints, as JSON
    GET /v1/tiered/dashboard/<view>?since=7d&route=&key=             one view of the /ui dashboard

They read the request log the gateway writes (its SQLite file or PostgreSQL schema) through one
reading connection of their own, off the event loop, so a slow query never stalls the requests being
served. A caller needs an admin key (`$TIERED_ADMIN_KEYS`, or a named key with `admin = true`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs

from tiered.errors import TieredError
from tiered.gateway.core import Core
from tiered.gateway.wire import HttpError, Scope, Send, dumps, send_bytes
from tiered.telemetry.sql_sink import SqlSink

PREFIX = "/v1/tiered/"


def query(scope: Scope) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(scope.get("query_string", b"").decode("latin-1")).items()}


async def read_log(core: Core, fn: Callable[[SqlSink], Any]) -> Any:
    """Run `fn` on the gateway's reading connection to the request log, in a worker thread."""

    def call() -> Any:
        reader = core.log_reader()
        return fn(reader)

    try:
        return await asyncio.to_thread(call)
    except TieredError as e:  # a bad parameter, or a log that cannot be read (jsonl only)
        raise HttpError(400, "invalid_request_error", str(e)) from e


async def stats(core: Core, q: Mapping[str, str]) -> Any:
    from tiered.telemetry.spend import parse_since, spend_by

    by = q.get("by", "route")
    since = parse_since(q.get("since"))  # ConfigError is a TieredError: caught by the caller
    rows = await read_log(core, lambda log: spend_by(log, by, since))
    return {"by": by, "since": since, "rows": [r.to_json() for r in rows]}


async def handle(core: Core, path: str, scope: Scope, send: Send, headers: list[tuple[bytes, bytes]]) -> None:
    if scope["method"] != "GET":
        raise HttpError(405, "invalid_request_error", f"Method {scope['method']} not allowed for {path}; use GET",
                        [(b"allow", b"GET")])
    q = query(scope)
    try:
        if path == PREFIX + "stats":
            body = await stats(core, q)
        elif path.startswith(PREFIX + "dashboard/"):
            from tiered.gateway.dashboard_data import view

            body = await view(core, path.removeprefix(PREFIX + "dashboard/"), q)
        else:
            raise HttpError(404, "not_found_error", f"Not found: GET {path}")
    except TieredError as e:
        raise HttpError(400, "invalid_request_error", str(e)) from e
    await send_bytes(send, 200, dumps(body), headers)
