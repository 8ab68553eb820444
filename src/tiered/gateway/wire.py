"""Raw ASGI on both sides of the gateway: reading a bounded JSON body, sending JSON or SSE, and the
errors a request can end in, shaped as the API the caller speaks.

`HttpError` is raised anywhere in a handler and turned into a response in one place (the app), in
the Anthropic shape (`{"type": "error", "error": {"type", "message"}, "request_id"}`) on Anthropic
routes and the OpenAI shape (`{"error": {"message", "type", "param", "code"}}`) on
/v1/chat/completions. `provider_error` maps an upstream failure (tiered's `ProviderError`, e.g. the
last error of an `AllFailed`) to the same status and type the upstream gave, with its retry-after,
so a failed upstream is never reported as a success.
"""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any, Literal

from tiered.asgi_body import BodyError, read_json_body
from tiered.errors import ProviderError
from tiered.gateway.body_limits import SeparatorCount, check_structure

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]
Dialect = Literal["anthropic", "openai"]

_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
JSON_CONTENT = (b"content-type", b"application/json")
SSE_CONTENT = (b"content-type", b"text/event-stream; charset=utf-8")


def dumps(value: Any) -> bytes:
    return _encoder.encode(value).encode()


class HttpError(Exception):
    """A request that ends in an error response: status, API error type, message, extra headers."""

    def __init__(self, status: int, error_type: str, message: str, headers: Headers | None = None) -> None:
        super().__init__(message)
        self.status, self.error_type, self.message = status, error_type, message
        self.headers = headers or []


def retry_after_headers(seconds: float | None) -> Headers:
    """`retry-after` (whole seconds, rounded up) and `retry-after-ms`, which the SDKs read first."""
    if seconds is None or seconds < 0:
        return []
    return [(b"retry-after", str(max(1, math.ceil(seconds))).encode()),
            (b"retry-after-ms", str(max(1, math.ceil(seconds * 1000))).encode())]


def provider_error(error: ProviderError) -> HttpError:
    """The response for an upstream failure: its own status and type; 502 when it has no HTTP status."""
    status = error.status if 400 <= error.status <= 599 else 502
    return HttpError(status, error.error_type, error.message, retry_after_headers(error.retry_after))


def error_body(dialect: Dialect, error: HttpError, request_id: str) -> bytes:
    if dialect == "openai":
        return dumps({"error": {"message": error.message, "type": error.error_type, "param": None,
                                "code": error.error_type}})
    return dumps({"type": "error", "error": {"type": error.error_type, "message": error.message},
                  "request_id": request_id})


def header(scope: Scope, name: bytes) -> str | None:
    """The value of request header `name` (lowercase bytes), or None. Later duplicates win."""
    found: bytes | None = None
    for key, value in scope["headers"]:
        if key == name:
            found = value
    return found.decode("latin-1") if found is not None else None


async def read_json(receive: Receive, scope: Scope, limit: int) -> Any:
    """The request body parsed as JSON; 413 past `limit` bytes, 400 when it is not JSON (NaN and
    Infinity included) or nested too deeply for the parser (`tiered.asgi_body`); 413/400 past the
    structural limits that keep any one body cheap (`tiered.gateway.body_limits`)."""
    try:
        body = await read_json_body(receive, header(scope, b"content-length"), limit, check=SeparatorCount().feed)
        check_structure(body)
        return body
    except BodyError as e:
        raise HttpError(e.status, e.error_type, e.message) from e


async def send_bytes(send: Send, status: int, body: bytes, headers: Headers) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [JSON_CONTENT, (b"content-length", str(len(body)).encode()), *headers]})
    await send({"type": "http.response.body", "body": body})


async def start_stream(send: Send, headers: Headers) -> None:
    await send({"type": "http.response.start", "status": 200,
                "headers": [SSE_CONTENT, (b"cache-control", b"no-cache"), *headers]})


async def send_chunk(send: Send, data: bytes, *, more: bool = True) -> None:
    await send({"type": "http.response.body", "body": data, "more_body": more})


def sse(event: Mapping[str, Any]) -> bytes:
    """One named Anthropic SSE event (the SDK skips events without an `event:` line)."""
    return b"event: " + str(event.get("type", "message")).encode() + b"\ndata: " + dumps(event) + b"\n\n"
