"""Stats math checked by hand on a small set of records."""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal

import pytest

from tiered.records import Decision, Record
from tiered.telemetry import percentile, stats_by_route

MakeRecord = Callable[..., Record]


def test_percentiles_interpolate_between_ranks() -> None:
    assert percentile([400.0, 100.0, 300.0, 200.0], 0.5) == 250.0
    assert percentile([100.0, 200.0, 300.0, 400.0], 0.95) == pytest.approx(385.0)
    assert percentile([7.0], 0.95) == 7.0
    assert math.isnan(percentile([], 0.5))
    with pytest.raises(ValueError, match="q must be"):
        percentile([1.0], 1.5)


def test_per_route_figures(make_record: MakeRecord) -> None:
    code = [
        make_record(route="code", latency_ms=100.0, cost_usd=Decimal("0.001"), tier="haiku",
                    escalated=False, fell_back=False, quality=1.0),
        make_record(route="code", latency_ms=200.0, cost_usd=Decimal("0.002"), tier="sonnet",
                    escalated=True, fell_back=False, quality=None),
        make_record(route="code", latency_ms=300.0, cost_usd=Decimal("0.003"), tier="sonnet",
                    escalated=True, fell_back=True, degraded=True, quality=0.5),
        make_record(route="code", latency_ms=400.0, cost_usd=Decimal("0.0005"), tier=None, model=None,
                    outcome="overloaded_error", escalated=False, fell_back=True, quality=None),
    ]
    chat = [make_record(route="chat", latency_ms=50.0, cost_usd=Decimal("0.0001"), tier="haiku", fell_back=False)]
    stats = stats_by_route([*code, *chat])
    assert [s.route for s in stats] == ["chat", "code"]
    s = stats[1]
    assert s.requests == 4
    assert s.cost_usd == Decimal("0.0065")
    assert s.cost_per_request_usd == Decimal("0.001625")  # exact: 0.0065 / 4
    assert s.p50_ms == 250.0 and s.p95_ms == pytest.approx(385.0)
    assert s.quality == 0.75 and s.labelled == 2  # the mean of the labelled two only
    assert s.escalation_rate == 0.5
    assert s.fallback_rate == 0.5
    assert s.degraded_rate == 0.25
    assert s.error_rate == 0.25
    assert s.tier_mix == {"haiku": 0.25, "none": 0.25, "sonnet": 0.5}
    assert s.bypass is None
    assert stats[0].quality is None and stats[0].labelled == 0 and stats[0].p95_ms == 50.0


def test_bypass_comes_from_the_latest_decision(make_record: MakeRecord) -> None:
    older = make_record(route="r", created_at=1.0,
                        decision=Decision("Bypass(...)", "sonnet", "bypass: router skipped after 3 failures"))
    newer = make_record(route="r", created_at=2.0, decision=Decision("TaskMap(...)", "haiku", "task qa -> haiku"))
    assert stats_by_route([newer, older])[0].bypass is None
    assert stats_by_route([older])[0].bypass == "bypass: router skipped after 3 failures"
    nested = make_record(route="r", created_at=3.0, decision=Decision(
        "Fallback(...)", "haiku", "no task -> default; bypass: 86% of last 200 on haiku"))
    assert stats_by_route([older, nested])[0].bypass == "bypass: 86% of last 200 on haiku"
    probe = make_record(route="r", created_at=4.0, decision=Decision(
        "Bypass(...)", "haiku", "score 0.10 -> haiku [bypass probe]"))
    assert stats_by_route([nested, probe])[0].bypass == "bypass: engaged (this request was a probe)"


def test_json_has_the_promised_fields(make_record: MakeRecord) -> None:
    data = stats_by_route([make_record(cost_usd=Decimal("0.00482175"))])[0].to_json()
    for key in ("route", "requests", "cost_per_request_usd", "p50_ms", "p95_ms", "escalation_rate",
                "fallback_rate", "tier_mix", "quality", "degraded_rate", "bypass"):
        assert key in data
    assert data["cost_usd_exact"] == "0.00482175" and data["tier_mix"] == {"sonnet": 1.0}


def test_baseline_prices_the_served_answers_tokens(make_record: MakeRecord) -> None:
    from tiered.catalog import Catalog
    from tiered.telemetry.stats import priced_on

    served = make_record(cost_usd=Decimal("0.004"))  # served by sonnet: 1234 in, 56 out, 1000 cache read, 77 write
    failed = make_record(cost_usd=Decimal("0.001"), model=None, tier=None, outcome="overloaded_error")
    opus = Catalog.load().resolve("opus")  # 5 in, 25 out, 6.25 cache write, 0.5 cache read per MTok
    [s] = stats_by_route([served, failed], baseline=priced_on(opus))
    # (1234 x 5 + 77 x 6.25 + 1000 x 0.5 + 56 x 25) / 1e6; the failed request served nothing
    assert s.baseline_cost_usd == Decimal("0.00855125")
    assert s.cost_ratio == float(Decimal("0.005") / Decimal("0.00855125"))
    assert stats_by_route([served])[0].cost_ratio is None  # no baseline given
    assert s.to_json()["cost_ratio"] == s.cost_ratio
