"""The demo's headline and its explanation of rows dearer than always-the-top-tier (issue 8, item 8)."""

from __future__ import annotations

from tiered.evaluation.headline import headline, over_top
from tiered.evaluation.pareto import Point

TOP = Point("always-opus", 1.0, 0.8, tier_mix={"opus": 1.0})
BASE = [Point("always-haiku", 0.2, 0.5, tier_mix={"haiku": 1.0}), TOP]


def test_the_cheapest_frontier_router_and_the_cheapest_at_95_percent() -> None:
    points = [*BASE, Point("router", 0.5, 0.75), Point("taskmap", 0.7, 0.78), Point("bad", 0.9, 0.7)]
    assert headline(points) == ("Best: router: 50.0% of always-opus cost at 93.8% of its quality; the cheapest at "
                                ">= 95% of its quality here: taskmap, 70.0% of always-opus cost at 97.5% of its "
                                "quality.")
    assert headline([*BASE, Point("taskmap", 0.7, 0.78)]) == (
        "Best: taskmap: 70.0% of always-opus cost at 97.5% of its quality.")
    assert headline([*BASE, Point("router", 0.5, 0.6)]).endswith("; no policy reaches 95% of its quality here.")


def test_a_row_dearer_than_the_top_tier_is_explained() -> None:
    cascade = Point("cascade", 1.319, 0.79, escalation_rate=1.0, tier_mix={"haiku": 0.0, "sonnet": 0.41, "opus": 0.59})
    lines = over_top([*BASE, cascade, Point("router", 0.5, 0.75)])
    assert lines == [
        "cascade costs 131.9% of always-opus: it pays for every tier it tries before the one that answers, and 100% "
        "of its requests escalated past their first answer (served: sonnet 41%, opus 59%). A cascade saves only "
        "when most requests stop at a cheap tier; its thresholds, tuned for the quality target, send most of these up."]
