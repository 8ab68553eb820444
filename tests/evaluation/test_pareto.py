from __future__ import annotations

from tiered.evaluation.pareto import Point, best_within, cheapest_reaching, dominated, dominates, frontier


def _p(name: str, cost: float, quality: float) -> Point:
    return Point(policy=name, cost_ratio=cost, quality=quality)


def test_frontier_on_a_hand_example() -> None:
    pts = [
        _p("a", 0.2, 0.60),
        _p("b", 0.5, 0.80),
        _p("c", 0.6, 0.70),   # dominated by b
        _p("d", 1.0, 0.88),
        _p("e", 0.5, 0.75),   # same cost as b, worse
        _p("f", 1.2, 0.88),   # same quality as d, dearer
        _p("g", 0.1, 0.40),
    ]
    assert [p.policy for p in frontier(pts)] == ["g", "a", "b", "d"]
    assert sorted(p.policy for p in dominated(pts)) == ["c", "e", "f"]
    assert dominates(pts[1], pts[2])
    assert not dominates(pts[0], pts[1])
    assert not dominates(pts[0], pts[0])


def test_ties_keep_the_first_point_given() -> None:
    pts = [_p("x", 0.5, 0.8), _p("y", 0.5, 0.8)]
    assert [p.policy for p in frontier(pts)] == ["x"]
    assert dominated(pts) == []


def test_cheapest_reaching_and_best_within() -> None:
    pts = [_p("a", 0.2, 0.6), _p("b", 0.45, 0.84), _p("c", 0.7, 0.86), _p("d", 1.0, 0.88)]
    assert cheapest_reaching(pts, 0.95 * 0.88) is pts[1]
    assert cheapest_reaching(pts, 0.9) is None
    assert best_within(pts, 0.5) is pts[1]
    assert best_within(pts, 0.1) is None
