"""`AnthropicModel`: one Claude model through the official SDK, its errors turned into tiered's.

The SDK client runs with `max_retries=0`: exactly one layer of tiered (the Fallback policy) retries,
and it reads `ProviderError.retry_after`, parsed here from `retry-after-ms` / `retry-after`.

SDK 2.x has no kwargs for several body fields (temperature, top_p, ...), so only `model`,
`max_tokens`, `messages` and `stream` go as kwargs and everything else in `Request.to_body()`
travels in `extra_body`, which the SDK merges into the JSON as is: fields the SDK does not know
pass through. Per-request headers (`Request.headers`, e.g. `anthropic-beta`) go as `extra_headers`
over the model's `default_headers`.

A whole answer (`complete`) is POSTed with the SDK client's own HTTP client, base URL, auth and default
headers, and its error responses become the SDK's own exceptions (`_make_status_error_from_response`),
mapped as below; only the SDK's per-call request building is skipped, which cost a gateway more CPU
than all of its own work (issue 13: ~40% less client CPU per call, measured in bench/gateway_cpu.py).

Streams yield the SDK's raw events as plain dicts, in order (the SDK drops `ping`). An `error` event
mid-stream arrives from the SDK as `APIStatusError` with status 200 and becomes the matching error
with `midstream=True`; so does a stream that ends without `message_stop`. The API key never appears
in an error message or a repr: messages are built here from the status and error type, any
upstream text is scrubbed of the key, and an SDK error that quotes it is not chained as the cause.

`count_tokens` (the `TokenCounter` capability) asks the API's free /v1/messages/count_tokens for the
exact input tokens of a request: it sends only the fields that endpoint takes (model, messages, and
system, tools, tool_choice, thinking when present; not max_tokens, temperature, ...), with the same
headers, and its errors become tiered's errors exactly as `complete`'s do.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Mapping
from typing import Any, cast

import anthropic
import httpx2

from tiered.errors import (
    BadRequest,
    ConnectionFailed,
    ProviderError,
    ServerError,
    SpendLimit,
    UpstreamTimeout,
    error_for_status,
)
from tiered.models.retry_after import retry_after_seconds
from tiered.types import Request, Response, StreamEvent

DEFAULT_TIMEOUT_S = 600.0
SPEND_LIMIT_CODE = "enforced_spend_limit_reached"
COUNTED_FIELDS = ("system", "tools", "tool_choice", "thinking")
"""The optional body fields sent to count_tokens (with model and messages); the endpoint refuses the rest."""


class AnthropicModel:
    """A Claude model behind the Messages API (api.anthropic.com, a gateway, or tiered's emulator).

    Args:
        name: the catalog id this model answers as.
        upstream_model: the id sent upstream when it differs from `name`.
        base_url: without `/v1` (the SDK appends `/v1/messages`).
        default_headers: sent with every request; `Request.headers` override them per request.
    """

    def __init__(
        self,
        name: str,
        *,
        api_key: str,
        base_url: str | None = None,
        upstream_model: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        default_headers: Mapping[str, str] | None = None,
    ) -> None:
        self._name = name
        self._upstream = upstream_model or name
        self._base_url = base_url
        self._timeout_s = timeout_s
        self._key = api_key
        self._client = anthropic.AsyncAnthropic(
            api_key=api_key,
            base_url=base_url,
            max_retries=0,
            timeout=timeout_s,
            default_headers=dict(default_headers or {}),
        )
        self._url = str(self._client.base_url).rstrip("/") + "/v1/messages"
        self._headers = {k: v for k, v in self._client.default_headers.items()
                         if isinstance(v, str) and k != "X-Stainless-Async"}

    @property
    def name(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"AnthropicModel({self._name!r}, base_url={self._base_url!r})"

    async def complete(self, request: Request) -> Response:
        """POST the body with the SDK's own HTTP client (its connection pool, base URL, auth and default
        headers) and read the JSON: the SDK's per-call request building (options models, deep copies) cost
        more CPU than the gateway's own work. Errors are the SDK's own, built from the response by the SDK."""
        body = request.to_body(self._upstream)
        headers = {**self._headers, **request.headers} if request.headers else self._headers
        try:
            raw = await self._client._client.post(self._url, content=json.dumps(body).encode(), headers=headers,
                                                 timeout=self._timeout_s)
        except httpx2.TimeoutException as e:
            raise UpstreamTimeout(f"{self._name}: request timed out", model=self._name) from e
        except httpx2.TransportError as e:
            raise ConnectionFailed(f"{self._name}: connection failed (Connection error.)", model=self._name) from e
        if raw.status_code >= 400:
            await raw.aread()
            error = self._client._make_status_error_from_response(raw)
            raise self._error(error) from self._cause(error)
        try:
            answer = raw.json()
        except ValueError as e:
            raise ServerError(f"{self._name}: response is not JSON", model=self._name) from e
        return Response.from_api(answer, request_id=raw.headers.get("request-id"))

    async def _raw_json(self, what: str, call: Awaitable[Any]) -> tuple[Any, Any]:
        """Await an SDK `with_raw_response` call: the raw response and its JSON body, errors as tiered's."""
        try:
            raw = await call
            return raw, raw.http_response.json()
        except anthropic.APIError as e:
            raise self._error(e) from self._cause(e)
        except UnicodeEncodeError as e:  # the request's own text (a lone surrogate): its fault, not the model's
            raise _not_unicode(self._name, e) from None
        except ValueError as e:
            raise ServerError(f"{self._name}: {what} is not JSON", model=self._name) from e

    async def stream(self, request: Request) -> AsyncIterator[StreamEvent]:
        request_id: str | None = None
        finished = False
        try:
            model, max_tokens, messages, extra = self._split(request)
            events = await self._client.messages.create(
                model=model, max_tokens=max_tokens, messages=messages, stream=True, extra_body=extra,
                extra_headers=dict(request.headers) or None, timeout=self._timeout_s,
            )
            request_id = events.response.headers.get("request-id")
            async with events:
                async for event in events:
                    data = event.to_dict(mode="json")
                    finished = data.get("type") == "message_stop"
                    yield data
        except anthropic.APIError as e:
            raise self._error(e) from self._cause(e)
        except UnicodeEncodeError as e:
            raise _not_unicode(self._name, e) from None
        except httpx2.TimeoutException as e:
            raise UpstreamTimeout(f"{self._name}: timed out mid-stream", model=self._name,
                                  request_id=request_id, midstream=True) from e
        except httpx2.TransportError as e:
            raise ConnectionFailed(f"{self._name}: connection lost mid-stream ({type(e).__name__})",
                                   model=self._name, request_id=request_id, midstream=True) from e
        if not finished:
            raise ServerError(f"{self._name}: stream ended before message_stop (truncated)", model=self._name,
                              request_id=request_id, midstream=True)

    async def count_tokens(self, request: Request) -> int:
        """The API's exact count of `request`'s input tokens (see the module docstring)."""
        body = request.to_body(self._upstream)
        optional: dict[str, Any] = {k: body[k] for k in COUNTED_FIELDS if k in body}
        call = self._client.messages.with_raw_response.count_tokens(
            model=str(body["model"]), messages=cast(Any, body["messages"]), **optional,
            extra_headers=dict(request.headers) or None, timeout=self._timeout_s,
        )
        raw, counted = await self._raw_json("count_tokens response", call)
        tokens = counted.get("input_tokens") if isinstance(counted, Mapping) else None
        if not isinstance(tokens, int) or isinstance(tokens, bool) or tokens < 0:
            raise ServerError(f"{self._name}: count_tokens response has no input_tokens", model=self._name,
                              request_id=raw.headers.get("request-id"))
        return tokens

    async def aclose(self) -> None:
        await self._client.close()

    def _split(self, request: Request) -> tuple[str, int, Any, dict[str, Any] | None]:
        """The SDK's required kwargs, and the rest of the body for `extra_body` (passed through as is)."""
        body = request.to_body(self._upstream)
        model, max_tokens, messages = str(body.pop("model")), int(body.pop("max_tokens")), body.pop("messages")
        return model, max_tokens, cast(Any, messages), body or None

    def _error(self, e: anthropic.APIError) -> ProviderError:
        """tiered's error for an SDK error; never carries the key."""
        if isinstance(e, anthropic.APITimeoutError):
            return UpstreamTimeout(f"{self._name}: request timed out", model=self._name)
        if isinstance(e, anthropic.APIConnectionError):
            return ConnectionFailed(f"{self._name}: connection failed ({self._scrub(e.message)})", model=self._name)
        if not isinstance(e, anthropic.APIStatusError):
            return ServerError(f"{self._name}: unexpected response ({type(e).__name__})", model=self._name)
        status = e.status_code
        error_type = e.type or _body_error_type(e.body)
        cls = error_for_status(status, error_type)
        if e.error_code == SPEND_LIMIT_CODE or status == 402:
            cls = SpendLimit
        detail = self._scrub(e.api_message or "")
        where = "mid-stream" if status == 200 else f"HTTP {status}"
        return cls(
            f"{self._name}: {where} {error_type or 'error'}{': ' + detail if detail else ''}",
            model=self._name,
            status=None if status == 200 else status,
            error_type=error_type,
            retry_after=retry_after_seconds(e.response.headers),
            request_id=e.request_id,
            midstream=status == 200,
        )

    def _scrub(self, text: str) -> str:
        return text.replace(self._key, "[redacted]") if self._key else text

    def _cause(self, e: BaseException) -> BaseException | None:
        """The SDK error to chain, unless its text carries the key (an upstream echoing it back)."""
        return None if self._key and (self._key in str(e) or self._key in repr(getattr(e, "body", None))) else e


def _not_unicode(model: str, e: UnicodeEncodeError) -> BadRequest:
    """A request whose text cannot be encoded (a lone surrogate) is a 400: never retried, never a breaker's."""
    return BadRequest(f"{model}: the request has text that is not valid Unicode ({e.reason})", model=model)


def _body_error_type(body: object) -> str | None:
    if isinstance(body, Mapping):
        err = body.get("error")
        if isinstance(err, Mapping) and isinstance(err.get("type"), str):
            return str(err["type"])
    return None
