"""What a table of policy points comes down to, in a sentence or two: the headline of `tiered demo`.

- `headline(points)`: the cheapest routing policy on the Pareto frontier (always-X rows are the
  baselines, not routing), as a share of always-the-top-tier's cost and quality; and, when it is a
  different policy, the cheapest one that reaches 95% of the top tier's quality on these data.
- `over_top(points)`: why a row costs more than always-the-top-tier (a cascade pays for every tier
  it tries before the one that answers).
"""

from __future__ import annotations

from collections.abc import Sequence

from tiered.evaluation.pareto import Point, frontier

TARGET = 0.95
"""The quality share of always-the-top-tier the second half of the headline asks for."""


def _top(points: Sequence[Point]) -> Point:
    """The always-X baseline with the highest cost (the top tier; its cost_ratio is 1)."""
    baselines = [p for p in points if p.policy.startswith("always-")]
    return max(baselines or points, key=lambda p: p.cost_ratio)


def _share(p: Point, top: Point) -> str:
    return f"{p.cost_ratio:.1%} of {top.policy} cost at {p.quality / top.quality:.1%} of its quality" \
        if top.quality else f"{p.cost_ratio:.1%} of {top.policy} cost"


def headline(points: Sequence[Point]) -> str:
    """One line: what the best routing policy saves, at what quality (see the module docstring)."""
    top = _top(points)
    routing = [p for p in points if not p.policy.startswith("always-")]
    if not routing:
        return f"No routing policy was run; {top.policy} is the reference."
    front = [p for p in frontier(points) if not p.policy.startswith("always-")]
    best = min(front or routing, key=lambda p: (p.cost_ratio, -p.quality))
    line = f"Best: {best.policy}: {_share(best, top)}"
    reaching = [p for p in routing if top.quality and p.quality >= TARGET * top.quality]
    cheapest = min(reaching, key=lambda p: p.cost_ratio) if reaching else None
    if cheapest is not None and cheapest.policy != best.policy:
        line += f"; the cheapest at >= {TARGET:.0%} of its quality here: {cheapest.policy}, {_share(cheapest, top)}"
    elif cheapest is None:
        line += f"; no policy reaches {TARGET:.0%} of its quality here"
    return line + "."


def over_top(points: Sequence[Point]) -> list[str]:
    """A sentence for each row that costs more than always-the-top-tier, saying why."""
    top = _top(points)
    out = []
    for p in points:
        if p.cost_ratio <= 1.0 + 1e-9 or p is top:
            continue
        served = ", ".join(f"{t} {v:.0%}" for t, v in p.tier_mix.items() if v > 0.0005)
        if p.escalation_rate:
            out.append(f"{p.policy} costs {p.cost_ratio:.1%} of {top.policy}: it pays for every tier it tries before "
                       f"the one that answers, and {p.escalation_rate:.0%} of its requests escalated past their first "
                       f"answer (served: {served}). A cascade saves only when most requests stop at a cheap tier; "
                       "its thresholds, tuned for the quality target, send most of these up.")
        else:
            out.append(f"{p.policy} costs {p.cost_ratio:.1%} of {top.policy}: its requests make more than one call "
                       f"each (served: {served}).")
    return out
