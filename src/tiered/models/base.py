"""The one small protocol at the centre: a `Model` answers a request, whole or as a stream.

Providers (Anthropic, OpenAI-compatible, replay), fakes, and composites that run a policy all
satisfy it, so they nest. `stream` yields Anthropic SSE events as dicts, in the API's order
(`message_start` ... `message_stop`); an error mid-stream is raised as a `ProviderError` with
`midstream=True`, never swallowed, so a truncated stream is never passed off as complete.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol, runtime_checkable

from tiered.types import Request, Response, StreamEvent


@runtime_checkable
class Model(Protocol):
    @property
    def name(self) -> str:
        """The model id this answers as (what the catalog and records call it)."""
        ...

    async def complete(self, request: Request) -> Response: ...

    def stream(self, request: Request) -> AsyncIterator[StreamEvent]: ...

    async def aclose(self) -> None: ...
