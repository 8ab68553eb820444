"""The one small protocol at the centre: a `Model` answers a request, whole or as a stream.

Providers (Anthropic, OpenAI-compatible, replay), fakes, and composites that run a policy all
satisfy it, so they nest. `stream` yields Anthropic SSE events as dicts, in the API's order
(`message_start` ... `message_stop`); an error mid-stream is raised as a `ProviderError` with
`midstream=True`, never swallowed, so a truncated stream is never passed off as complete.

`TokenCounter` is an optional capability beside it: a model that can count a request's input tokens
exactly, as its upstream would bill them (the Anthropic provider, through the API's free
count_tokens endpoint). Models that cannot count (replay, fakes, OpenAI-compatible) simply do not
implement it; callers check with `isinstance(model, TokenCounter)` and estimate otherwise.
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


@runtime_checkable
class TokenCounter(Protocol):
    async def count_tokens(self, request: Request) -> int:
        """The request's input tokens as the upstream counts them (system, tools and thinking included);
        its failures raise the same `ProviderError`s as `Model.complete`."""
        ...
