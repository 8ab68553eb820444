"""A factory for hand-made records, so sink and stats tests state exactly what they store."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from tiered.records import Attempt, Decision, Record

MakeRecord = Callable[..., Record]


@pytest.fixture
def make_record() -> MakeRecord:
    counter = itertools.count(1)

    def make(**overrides: Any) -> Record:
        n = next(counter)
        attempts = (
            Attempt(model="claude-haiku-4-5", tier="haiku", purpose="answer", outcome="overloaded_error",
                    latency_ms=12.5, status=529, reason="first"),
            Attempt(model="claude-sonnet-4-6", tier="sonnet", purpose="answer", outcome="ok",
                    input_tokens=1234, output_tokens=56, cache_read_input_tokens=1000,
                    cache_creation_input_tokens=77, cost_usd=Decimal("0.00482175"), latency_ms=431.25,
                    ttft_ms=120.0625, status=200, reason="fell back: overloaded_error on haiku", kind="fallback"),
        )
        fields: dict[str, Any] = {
            "trace_id": f"trace-{n}",
            "route": "default",
            "policy": "Fallback('haiku', 'sonnet', retries=0)",
            "decision": Decision("Fallback('haiku', 'sonnet', retries=0)", "sonnet",
                                 "fell back to sonnet: overloaded_error on haiku", {"complexity": 0.4375}),
            "attempts": attempts,
            "cost_usd": Decimal("0.00482175"),
            "latency_ms": 450.5,
            "degraded": False,
            "created_at": 1_700_000_000.0 + n,
            "model": "claude-sonnet-4-6",
            "tier": "sonnet",
            "requested_model": "tiered/default",
            "task": "qa",
            "escalated": False,
            "fell_back": True,
            "outcome": "ok",
        }
        fields.update(overrides)
        return Record(**fields)

    return make
