"""Reading a JSON request body from ASGI, once for the emulator and the gateway.

Both must answer a bad body with the API's own error and never a 500: 413 past the size limit (the
body is still drained, so the client reads the answer instead of a reset), 400 when it is not JSON
(Python's parser accepts NaN and Infinity, JSON does not) or nests too deeply for the parser.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]


class BodyError(Exception):
    """Why a body was refused: the HTTP status, the API error type and a message for the caller."""

    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error_type, self.message = status, error_type, message


async def read_json_body(receive: Receive, declared_length: str | None, limit: int) -> Any:
    """The body parsed as JSON, or `BodyError`. `declared_length` is the content-length header, if any."""
    too_large = declared_length is not None and declared_length.isdigit() and int(declared_length) > limit
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise BodyError(400, "invalid_request_error", "the client disconnected before sending the body")
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        too_large = too_large or size > limit
        if not too_large:
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    if too_large:
        raise BodyError(413, "request_too_large", f"Request exceeds the maximum allowed number of bytes ({limit})")
    try:
        return json.loads(b"".join(chunks), parse_constant=_not_json)
    except RecursionError as e:
        raise BodyError(400, "invalid_request_error", "The request body is nested too deeply") from e
    except (ValueError, UnicodeDecodeError) as e:
        raise BodyError(400, "invalid_request_error", f"The request body is not valid JSON: {e}") from e


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")
