"""Bytes on the wire: JSON encoding, ids, the headers every response carries, error bodies.

Every response carries `request-id` and the `anthropic-ratelimit-*` family (generous fixed limits,
reset a minute ahead, refreshed once a second so the hot path only formats an id). Errors always
have the API's shape, {"type": "error", "error": {"type", "message"}, "request_id"}.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import time
from collections.abc import Callable
from typing import Any

Headers = list[tuple[bytes, bytes]]

_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
JSON_CONTENT = (b"content-type", b"application/json")
SSE_CONTENT = (b"content-type", b"text/event-stream; charset=utf-8")
REQUESTS_LIMIT = 4000
TOKENS_LIMIT = 2_000_000


def dumps(value: Any) -> bytes:
    return _encoder.encode(value).encode()


class Ids:
    """request/message/tool-use ids, unique per instance (random tag) and ordered (counter)."""

    def __init__(self) -> None:
        self._tag = os.urandom(4).hex()
        self._next: Callable[[], int] = itertools.count(1).__next__

    def make(self, prefix: str) -> str:
        return f"{prefix}_01emu{self._tag}{self._next():010x}"


class RateLimitHeaders:
    """The anthropic-ratelimit-* headers, recomputed at most once a second."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._second = -1
        self._headers: Headers = []

    def get(self) -> Headers:
        now = int(self._clock())
        if now != self._second:
            self._second = now
            reset = dt.datetime.fromtimestamp(now + 60, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ").encode()
            self._headers = []
            for family, limit in (
                ("requests", REQUESTS_LIMIT),
                ("tokens", TOKENS_LIMIT),
                ("input-tokens", TOKENS_LIMIT),
                ("output-tokens", TOKENS_LIMIT // 5),
            ):
                prefix = f"anthropic-ratelimit-{family}-".encode()
                self._headers += [
                    (prefix + b"limit", str(limit).encode()),
                    (prefix + b"remaining", str(limit - 1).encode()),
                    (prefix + b"reset", reset),
                ]
        return self._headers


def error_body(kind: str, message: str, request_id: str) -> bytes:
    return dumps({"type": "error", "error": {"type": kind, "message": message}, "request_id": request_id})


def sse_event(kind: str, data: dict[str, Any]) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + dumps(data) + b"\n\n"
