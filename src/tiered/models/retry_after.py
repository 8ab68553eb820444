"""How long an upstream asks us to wait, read from its error response's headers.

The same order as the Anthropic and OpenAI SDKs: the non-standard `retry-after-ms` first, then
`retry-after` as seconds (a float) or an HTTP-date. Our one retry layer (the Fallback policy) reads
the result from `ProviderError.retry_after`, since the SDKs themselves run with `max_retries=0`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime


def retry_after_seconds(headers: Mapping[str, str], *, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait, or None when the headers say nothing usable. Never negative."""
    lower = {k.lower(): v for k, v in headers.items()}
    ms = _float(lower.get("retry-after-ms"))
    if ms is not None:
        return max(0.0, ms / 1000.0)
    raw = lower.get("retry-after")
    if raw is None:
        return None
    seconds = _float(raw)
    if seconds is not None:
        return max(0.0, seconds)
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - now())


def _float(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if number == number and number not in (float("inf"), float("-inf")) else None
