"""retry-after-ms, then retry-after as seconds or an HTTP-date; the answer is never negative."""

from __future__ import annotations

from email.utils import formatdate

import pytest

from tiered.models.retry_after import retry_after_seconds

NOW = 1_800_000_000.0


@pytest.mark.parametrize(("headers", "expected"), [
    ({"retry-after-ms": "250"}, 0.25),
    ({"Retry-After-Ms": "5", "retry-after": "9"}, 0.005),  # ms wins; names are case-insensitive
    ({"retry-after": "3"}, 3.0),
    ({"retry-after": "1.5"}, 1.5),
    ({"retry-after": "-4"}, 0.0),
    ({"retry-after-ms": "nan", "retry-after": "2"}, 2.0),  # an unusable ms value falls through
    ({"retry-after": formatdate(NOW + 42, usegmt=True)}, 42.0),
    ({"retry-after": formatdate(NOW - 42, usegmt=True)}, 0.0),
    ({"retry-after": "soon"}, None),
    ({"retry-after": "inf"}, None),
    ({}, None),
])
def test_retry_after(headers: dict[str, str], expected: float | None) -> None:
    result = retry_after_seconds(headers, now=lambda: NOW)
    if expected is None:
        assert result is None
    else:
        assert result == pytest.approx(expected)
