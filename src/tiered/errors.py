"""tiered's error hierarchy. Providers turn their SDK's errors into these; policies match on types.

    TieredError
     ├ ConfigError                 a bad config file or argument (names the key)
     ├ CatalogError                an unknown model or alias
     ├ ProviderError(model, status, error_type, retry_after, request_id)
     │   ├ RateLimited      429    retryable; carries retry_after
     │   ├ Overloaded       529    retryable
     │   ├ ServerError      5xx    retryable
     │   ├ UpstreamTimeout          retryable
     │   ├ ConnectionFailed         retryable
     │   ├ BadRequest       400/404/413/422   not retryable (same request fails everywhere)
     │   │   └ Unsupported  400  this model cannot serve the request (catalog capabilities); skipped by Fallback
     │   ├ AuthFailed       401/403           not retryable
     │   ├ SpendLimit       402, or 429 enforced_spend_limit_reached   not retryable
     │   ├ NoAnswer                 the replay backend has no recorded answer
     │   └ ModelUnavailable  500    the model cannot be built here (config, key, catalog); not retryable
     └ AllFailed(ExceptionGroup)   every attempt of a composite failed

`ProviderError.retryable` says whether another attempt, on this model or another, may succeed.
`midstream` marks an error that arrived as an `error` event inside a stream (HTTP status 200).
"""

from __future__ import annotations

from collections.abc import Sequence


class TieredError(Exception):
    """Base of every error tiered raises on purpose."""


class ConfigError(TieredError):
    """A configuration file or argument is wrong. The message names the key."""


class CatalogError(TieredError):
    """A model id or alias is not in the catalog."""


class ProviderError(TieredError):
    retryable: bool = False
    error_type: str = "api_error"
    default_status: int = 500

    def __init__(
        self,
        message: str,
        *,
        model: str = "",
        status: int | None = None,
        error_type: str | None = None,
        retry_after: float | None = None,
        request_id: str | None = None,
        midstream: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.model = model
        self.status = status if status is not None else self.default_status
        if error_type is not None:
            self.error_type = error_type
        self.retry_after = retry_after
        self.request_id = request_id
        self.midstream = midstream

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, model={self.model!r}, status={self.status})"


class RateLimited(ProviderError):
    retryable = True
    error_type = "rate_limit_error"
    default_status = 429


class Overloaded(ProviderError):
    retryable = True
    error_type = "overloaded_error"
    default_status = 529


class ServerError(ProviderError):
    retryable = True
    error_type = "api_error"
    default_status = 500


class UpstreamTimeout(ProviderError):
    retryable = True
    error_type = "timeout_error"
    default_status = 504


class ConnectionFailed(ProviderError):
    retryable = True
    error_type = "api_error"
    default_status = 502


class BadRequest(ProviderError):
    error_type = "invalid_request_error"
    default_status = 400


class Unsupported(BadRequest):
    """The model cannot serve this request (a capability the catalog says it lacks, e.g. a tool type),
    found before any call: a fallback chain skips to its next option, other policies return it."""


class AuthFailed(ProviderError):
    error_type = "authentication_error"
    default_status = 401


class SpendLimit(ProviderError):
    error_type = "billing_error"
    default_status = 429


class NoAnswer(ProviderError):
    """The replay backend has no recorded answer for this prompt and model."""

    error_type = "not_found_error"
    default_status = 404


class ModelUnavailable(ProviderError):
    """The driver could not build the model a policy called (a missing key, a bad backend or catalog
    entry): a server-side configuration problem, the same on every retry, so not retryable."""

    error_type = "api_error"
    default_status = 500


class AllFailed(ExceptionGroup[ProviderError], TieredError):
    """Every attempt failed; `exceptions` holds them in order."""

    def __new__(cls, message: str, errors: Sequence[ProviderError]) -> AllFailed:
        return super().__new__(cls, message, list(errors))

    @property
    def last(self) -> ProviderError:
        last = self.exceptions[-1]
        assert isinstance(last, ProviderError)
        return last


def error_for_status(status: int, error_type: str | None = None) -> type[ProviderError]:
    """The error class for an HTTP status and API `error.type` (also used for mid-stream errors)."""
    by_type: dict[str, type[ProviderError]] = {
        "rate_limit_error": RateLimited,
        "overloaded_error": Overloaded,
        "api_error": ServerError,
        "timeout_error": UpstreamTimeout,
        "invalid_request_error": BadRequest,
        "not_found_error": BadRequest,
        "request_too_large": BadRequest,
        "authentication_error": AuthFailed,
        "permission_error": AuthFailed,
        "billing_error": SpendLimit,
    }
    if status == 200 and error_type is not None:
        return by_type.get(error_type, ServerError)
    if status == 429:
        return RateLimited
    if status == 529:
        return Overloaded
    if status in (408, 504):
        return UpstreamTimeout
    if status >= 500:
        return ServerError
    if status in (401, 403):
        return AuthFailed
    if status == 402:
        return SpendLimit
    return BadRequest
