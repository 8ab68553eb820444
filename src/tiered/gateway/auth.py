"""Who is calling: the gateway key from `x-api-key` or `Authorization: Bearer`, checked in constant time.

Both headers are accepted because the clients differ: the 0.x SDKs and Claude Code with
ANTHROPIC_API_KEY send `x-api-key`; SDK 2.x, Claude Code with ANTHROPIC_AUTH_TOKEN and every OpenAI
client send a bearer token. A caller is identified downstream (rate limits, budgets) by `caller_id`,
a short SHA-256 digest of its key, so the key itself never reaches a log line, a metric label, Redis
or the request log. The key is never sent upstream: upstream keys come from the environment.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

from tiered.gateway.wire import HttpError, Scope, header

ANONYMOUS = "anonymous"
"""The caller id of every request to an open gateway (no keys configured)."""


def caller_id(key: str) -> str:
    return "key_" + hashlib.sha256(key.encode()).hexdigest()[:16]


def presented_key(scope: Scope) -> str | None:
    """The key the request carries, from x-api-key or a Bearer token; None when there is none."""
    key = header(scope, b"x-api-key")
    if key:
        return key.strip()
    auth = header(scope, b"authorization") or ""
    if auth[:7].lower() == "bearer " and auth[7:].strip():
        return auth[7:].strip()
    return None


class Authenticator:
    def __init__(self, keys: Iterable[str]) -> None:
        # Digests only: compare_digest over equal-length digests leaks nothing about the keys.
        self._digests = tuple(hashlib.sha256(k.encode()).digest() for k in keys)

    @property
    def open(self) -> bool:
        return not self._digests

    def authenticate(self, scope: Scope) -> str:
        """The caller id of the request; `HttpError` 401 when keys are required and it has none that fits."""
        if self.open:
            return ANONYMOUS
        key = presented_key(scope)
        if key is None:
            raise HttpError(401, "authentication_error", "x-api-key or Authorization: Bearer header is required")
        digest = hashlib.sha256(key.encode()).digest()
        if not any(hmac.compare_digest(digest, d) for d in self._digests):
            raise HttpError(401, "authentication_error", "invalid gateway key")
        return caller_id(key)

    def __repr__(self) -> str:
        return f"Authenticator({len(self._digests)} keys)"
