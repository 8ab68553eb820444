"""Reading a JSON request body from ASGI, once for the emulator and the gateway.

Both must answer a bad body with the API's own error and never a 500: 413 past the size limit (the
body is still drained, so the client reads the answer instead of a reset), 400 when it is not JSON
(Python's parser accepts NaN and Infinity, JSON does not), has a number no float can hold (`1e999`,
which Python would read as infinity), a string with a lone UTF-16 surrogate (`"\\ud800"`: not Unicode,
so no upstream could be sent it), or nests too deeply for the parser. `check` (the gateway's
structural limits) sees each chunk of raw bytes as it arrives, so it can refuse a body before the rest
of it is read (the caller then answers at once; see `tiered.gateway.body_limits`).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]


class BodyError(Exception):
    """Why a body was refused: the HTTP status, the API error type and a message for the caller."""

    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error_type, self.message = status, error_type, message


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
"""A `\\uD800`-`\\uDFFF` escape: a surrogate, which is only valid as half of a pair."""


async def read_json_body(receive: Receive, declared_length: str | None, limit: int,
                         check: Callable[[bytes], None] | None = None) -> Any:
    """The body parsed as JSON, or `BodyError`. `declared_length` is the content-length header, if any;
    `check(chunk)` is called on each chunk as it is received and may raise `BodyError`, which stops the
    reading there (the rest of the body is left unread)."""
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
            if check is not None:
                check(chunk)
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    if too_large:
        raise BodyError(413, "request_too_large", f"Request exceeds the maximum allowed number of bytes ({limit})")
    raw = b"".join(chunks)
    try:
        body = json.loads(raw, parse_constant=_not_json, parse_float=_finite)
    except RecursionError as e:
        raise BodyError(400, "invalid_request_error", "The request body is nested too deeply") from e
    except (ValueError, UnicodeDecodeError) as e:
        raise BodyError(400, "invalid_request_error", f"The request body is not valid JSON: {e}") from e
    if _SURROGATE_ESCAPE.search(raw) is not None:  # rare: only then look (valid pairs were joined by the parser)
        where = lone_surrogate(body)
        if where is not None:
            raise BodyError(400, "invalid_request_error", f"{where or 'the body'}: the string has a lone UTF-16 "
                            "surrogate (an unpaired \\ud800-\\udfff escape), which is not valid Unicode")
    return body


def lone_surrogate(value: Any) -> str | None:
    """The dotted path of the first string (value or key) in `value` holding a lone surrogate, or None."""
    try:
        json.dumps(value, ensure_ascii=False).encode()
        return None
    except UnicodeEncodeError:
        pass
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            if not _encodes(item):
                return path
        elif isinstance(item, dict):
            for k, v in item.items():
                if not _encodes(str(k)):
                    return path
                stack.append((f"{path}.{k}" if path else str(k), v))
        elif isinstance(item, list):
            stack.extend((f"{path}.{i}" if path else str(i), v) for i, v in enumerate(item))
    return ""


def _encodes(text: str) -> bool:
    try:
        text.encode()
        return True
    except UnicodeEncodeError:
        return False


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text} is out of range for a JSON number")
    return number


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")
