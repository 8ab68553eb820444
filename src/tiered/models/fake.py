"""`FakeModel(fn)`: a `Model` whose answers come from a Python function, for tests and examples.

A documented fake that lives in the package (like httpx's `MockTransport`), so tests of policies and
of the driver need no test hooks in production code. `fn` gets the request and returns a `Response`,
a plain string (wrapped as a one-block text answer), or raises a `ProviderError` to play a failure;
it may be async. `stream` replays the answer as the Messages API would stream it; a function may
return `FakeStream(events)` to script a stream exactly (for example, one that breaks mid-way).

    model = FakeModel(lambda req: "4", name="claude-haiku-4-5")
    ModelSet(catalog, {"claude-haiku-4-5": model})
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from itertools import count

from tiered.errors import ProviderError
from tiered.models.events import accumulate, response_events
from tiered.types import Request, Response, StreamEvent, Usage


@dataclass(frozen=True, slots=True)
class FakeStream:
    """Exact events to stream; an item that is a `ProviderError` is raised at that point."""

    events: Sequence[StreamEvent | ProviderError]


Answer = Response | str | FakeStream
FakeFn = Callable[[Request], Answer | Awaitable[Answer]]


def text_response(text: str, *, model: str, input_tokens: int = 10, output_tokens: int | None = None) -> Response:
    """A one-block text response with plausible usage (output tokens ~ 4 characters each)."""
    out = output_tokens if output_tokens is not None else max(1, len(text) // 4)
    return Response(id="msg_fake", model=model, content=({"type": "text", "text": text},), stop_reason="end_turn",
                    usage=Usage(input_tokens=input_tokens, output_tokens=out))


class FakeModel:
    def __init__(self, fn: FakeFn, *, name: str = "fake") -> None:
        self._fn = fn
        self._name = name
        self._ids = count(1)
        self.requests: list[Request] = []
        """Every request received, in order (what a test asserts on)."""

    @property
    def name(self) -> str:
        return self._name

    async def _answer(self, request: Request) -> Answer:
        self.requests.append(request)
        value = self._fn(request)
        if inspect.isawaitable(value):
            value = await value
        assert isinstance(value, Response | str | FakeStream)
        return value

    def _response(self, value: Answer) -> Response:
        if isinstance(value, str):
            resp = text_response(value, model=self._name)
            return Response(f"msg_fake_{next(self._ids)}", resp.model, resp.content, resp.stop_reason, resp.usage)
        if isinstance(value, FakeStream):
            return accumulate([e for e in value.events if not isinstance(e, ProviderError)], model=self._name)
        return value

    async def complete(self, request: Request) -> Response:
        value = await self._answer(request)
        if isinstance(value, FakeStream):
            for e in value.events:
                if isinstance(e, ProviderError):
                    raise e
        return self._response(value)

    async def stream(self, request: Request) -> AsyncIterator[StreamEvent]:
        value = await self._answer(request)
        events = value.events if isinstance(value, FakeStream) else tuple(response_events(self._response(value)))
        for event in events:
            if isinstance(event, ProviderError):
                raise event
            yield event

    async def aclose(self) -> None:
        return None

    def __repr__(self) -> str:
        return f"FakeModel(name={self._name!r})"
