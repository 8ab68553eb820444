"""Structural limits on request bodies, so that no body costs the event loop more than a few tens of ms.

The gateway parses and checks each body on its event loop. What that costs grows with the number of
JSON values more than with the bytes: 28 MB of one string parses in ~0.1-0.3 s, 28 MB of a million
empty text blocks in ~3 s (during which every other request waits). So while a body is received, its
separators (`,`) are counted chunk by chunk (`SeparatorCount`, one C-speed byte count per chunk): every
JSON value past the first of its array or object needs one, so they bound the parser's work; as soon
as the count passes `MAX_SEPARATORS` the body is refused with 413 request_too_large, without reading
the rest of it (uvicorn's HTTP/1.1 parser then discards the unread remainder, so the connection stays
usable and the client reads the answer, not a reset). Commas inside strings count too, but a body
with that many is several times larger than any context window.

After parsing, `check_structure` counts the content blocks and tools and walks the containers once:
more than `MAX_BLOCKS` blocks or `MAX_TOOLS` tools, or nesting deeper than `MAX_DEPTH`, is a 400
invalid_request_error naming the limit. The limits are far above what any model's context holds.

What they do not bound: a valid body's bytes. A 30 MB one-string prompt holds the loop 0.2-0.4 s in
one piece (parsing, the lone-surrogate scan, building the upstream request and the SDK encoding it
again, with no await in between; ~8-10 ms a MB, so bodies under ~10 MB stay under 100 ms).
"""

from __future__ import annotations

from typing import Any

from tiered.asgi_body import BodyError

MAX_SEPARATORS = 200_000
MAX_DEPTH = 100
MAX_BLOCKS = 20_000
MAX_TOOLS = 1_000


class SeparatorCount:
    """Counts a body's JSON separators as its chunks arrive; `feed` raises the 413 once past the limit."""

    __slots__ = ("separators",)

    def __init__(self) -> None:
        self.separators = 0

    def feed(self, chunk: bytes) -> None:
        self.separators += chunk.count(b",")
        if self.separators > MAX_SEPARATORS:
            raise BodyError(413, "request_too_large", f"the request body has more than {MAX_SEPARATORS} JSON "
                            "separators, this gateway's limit (its values would take too long to read)")


def check_structure(body: Any) -> None:
    """Refuse (400) nesting deeper than `MAX_DEPTH`, more than `MAX_BLOCKS` content blocks in the messages
    and system prompt, or more than `MAX_TOOLS` tools; one pass over the containers."""
    if not isinstance(body, dict):
        return
    tools = body.get("tools")
    if isinstance(tools, list) and len(tools) > MAX_TOOLS:
        raise BodyError(400, "invalid_request_error",
                        f"tools: {len(tools)} tools, more than this gateway's limit of {MAX_TOOLS}")
    blocks = len(body["system"]) if isinstance(body.get("system"), list) else 0
    messages = body.get("messages")
    for m in messages if isinstance(messages, list) else ():
        content = m.get("content") if isinstance(m, dict) else None
        blocks += len(content) if isinstance(content, list) else 1
    if blocks > MAX_BLOCKS:
        raise BodyError(400, "invalid_request_error", f"messages: {blocks} content blocks, more than this "
                        f"gateway's limit of {MAX_BLOCKS}")
    level: list[Any] = [body]
    depth = 1
    while level:  # level by level, containers only
        if depth > MAX_DEPTH:
            raise BodyError(400, "invalid_request_error",
                            f"the request body nests deeper than this gateway's limit of {MAX_DEPTH} levels")
        below: list[Any] = []
        for item in level:
            below += [v for v in (item.values() if type(item) is dict else item) if type(v) in _CONTAINERS]
        level = below
        depth += 1


_CONTAINERS = (dict, list)
