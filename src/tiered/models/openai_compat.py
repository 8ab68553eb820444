"""`OpenAICompatModel`: any OpenAI-compatible chat-completions endpoint (vLLM, Ollama, OpenAI) as a `Model`.

Requests and answers keep the Messages shapes the rest of tiered speaks; `openai_translate` does the
mapping, this module only the I/O. The `openai` SDK is an optional extra (`tiered[openai]`) and is
imported when the first model is built, never at import time. Like `AnthropicModel`, the client runs
with `max_retries=0` (the Fallback policy owns retries), its errors become tiered's (with
`retry_after` from `retry-after-ms` / `retry-after`), the key never appears in an error or a repr,
and a stream that breaks off, or ends without a `finish_reason`, raises with `midstream=True`.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx2

from tiered.errors import (
    ConfigError,
    ConnectionFailed,
    ProviderError,
    ServerError,
    UpstreamTimeout,
    error_for_status,
)
from tiered.models.openai_translate import ChunkTranslator, chat_request, messages_response
from tiered.models.retry_after import retry_after_seconds
from tiered.types import Request, Response, StreamEvent

DEFAULT_TIMEOUT_S = 600.0


def _openai() -> Any:
    try:
        return importlib.import_module("openai")
    except ImportError as e:
        raise ConfigError("OpenAI-compatible models need the openai extra: pip install 'tiered[openai]'") from e


class OpenAICompatModel:
    """A model behind `POST {base_url}/chat/completions`, answering as the catalog id `name`.

    Args:
        base_url: including the version prefix, as the openai SDK expects (`http://host:8000/v1`).
        api_key: local servers ignore it; the SDK requires a non-empty one, so "" sends a placeholder.
        upstream_model: the id the server knows the model by (default `name`).
    """

    def __init__(
        self,
        name: str,
        *,
        base_url: str,
        api_key: str = "",
        upstream_model: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        default_headers: Mapping[str, str] | None = None,
    ) -> None:
        openai = _openai()
        self._openai = openai
        self._name = name
        self._upstream = upstream_model or name
        self._base_url = base_url
        self._key = api_key
        self._timeout_s = timeout_s
        self._client = openai.AsyncOpenAI(
            api_key=api_key or "unused", base_url=base_url, max_retries=0, timeout=timeout_s,
            default_headers=dict(default_headers or {}),
        )

    @property
    def name(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"OpenAICompatModel({self._name!r}, base_url={self._base_url!r}, upstream={self._upstream!r})"

    async def complete(self, request: Request) -> Response:
        body = chat_request(request, self._upstream)
        try:
            raw = await self._client.chat.completions.with_raw_response.create(**self._kwargs(body, request))
            data = raw.http_response.json()
        except self._openai.APIError as e:
            raise self._error(e, midstream=False) from self._cause(e)
        except ValueError as e:
            raise ServerError(f"{self._name}: response is not JSON", model=self._name) from e
        return messages_response(data, model=self._name, request_id=raw.headers.get("x-request-id"))

    async def stream(self, request: Request) -> AsyncIterator[StreamEvent]:
        body = chat_request(request, self._upstream, stream=True)
        translator = ChunkTranslator(self._name)
        started = False
        try:
            chunks = await self._client.chat.completions.create(**self._kwargs(body, request))
            started = True
            async with chunks:
                async for chunk in chunks:
                    for event in translator.feed(chunk.to_dict(mode="json")):
                        yield event
            events = translator.finish()
        except self._openai.APIError as e:
            raise self._error(e, midstream=started) from self._cause(e)
        except httpx2.TimeoutException as e:
            raise UpstreamTimeout(f"{self._name}: timed out mid-stream", model=self._name, midstream=True) from e
        except httpx2.TransportError as e:
            raise ConnectionFailed(f"{self._name}: connection lost mid-stream ({type(e).__name__})",
                                   model=self._name, midstream=True) from e
        for event in events:
            yield event

    async def aclose(self) -> None:
        await self._client.close()

    def _kwargs(self, body: dict[str, Any], request: Request) -> dict[str, Any]:
        """Model and messages as kwargs; the rest as `extra_body`, so fields pass as the translation made them."""
        kwargs = {"model": body.pop("model"), "messages": body.pop("messages")}
        if body.pop("stream", False):
            kwargs["stream"] = True
        return {**kwargs, "extra_body": body, "extra_headers": dict(request.headers) or None,
                "timeout": self._timeout_s}

    def _error(self, e: Any, *, midstream: bool) -> ProviderError:
        openai = self._openai
        if isinstance(e, openai.APITimeoutError):
            return UpstreamTimeout(f"{self._name}: request timed out", model=self._name, midstream=midstream)
        if isinstance(e, openai.APIConnectionError):
            return ConnectionFailed(f"{self._name}: connection failed", model=self._name, midstream=midstream)
        if isinstance(e, openai.APIStatusError):
            status = int(e.status_code)
            return error_for_status(status)(
                f"{self._name}: HTTP {status}: {self._scrub(str(getattr(e, 'message', '')))}",
                model=self._name, status=status, retry_after=retry_after_seconds(e.response.headers),
                request_id=e.request_id,
            )
        body = e.body if isinstance(e.body, Mapping) else {}
        return ServerError(f"{self._name}: error mid-stream: {self._scrub(str(body.get('message', '')))}",
                           model=self._name, midstream=True)

    def _scrub(self, text: str) -> str:
        return text.replace(self._key, "[redacted]") if self._key else text

    def _cause(self, e: BaseException) -> BaseException | None:
        """The SDK error to chain, unless its text carries the key (an upstream echoing it back)."""
        return None if self._key and (self._key in str(e) or self._key in repr(getattr(e, "body", None))) else e
