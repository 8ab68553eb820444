"""Do a live cascade's escalations earn their cost? What the request log and its quality labels can say.

A cascade beats a random mix of its tiers only when its confidence tells a good cheap answer from a
bad one: then it escalates the right requests. When the confidence carries little signal, escalating is
close to a coin toss, and the cascade is a random mix that also pays for every cheap answer it throws
away: it sits below the straight line between always-cheap and always-top (`tiered eval` measures that
line offline; `tiered.evaluation.mix`). Live, per route, from the records that carry a confidence
reading (`Decision.scores["confidence.<tier>"]`, which only cascades write):

- how often it escalates, and what the cheap answers it discarded cost, as a share of the route's spend
  (what a router sending the same requests straight to the right tier would not pay);
- the labelled quality of the answers it kept and of the ones it escalated to;
- the AUC of the first tier's confidence against the quality label (good = label >= 0.5) on the answers
  it kept: how well the confidence separates good cheap answers from bad ones (0.5: not at all). Only
  kept answers have a label for the cheap tier's own answer, so this reads the confidence above the bar.

The verdict needs at least `MIN_LABELS` labelled kept answers of both kinds; below that it says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tiered.records import Record
from tiered.telemetry.stats import served_attempt

MIN_LABELS = 20
SIGNAL_AUC = 0.6
"""Below this AUC the confidence hardly separates good cheap answers from bad ones."""


@dataclass(frozen=True, slots=True)
class EscalationValue:
    route: str
    requests: int
    escalated: int
    discarded_usd: Decimal
    """What the answers the caller never got cost (cheaper tiers' answers that were escalated past)."""
    discarded_share: float
    """`discarded_usd` over the route's spend on these requests."""
    quality_kept: float | None
    labelled_kept: int
    quality_escalated: float | None
    labelled_escalated: int
    auc: float | None
    """First tier's confidence against the label on kept answers; None without enough labels of each kind."""

    @property
    def verdict(self) -> str:
        if self.escalated == 0:
            return "no escalations yet"
        if self.auc is None:
            return (f"not enough labels to judge (need {MIN_LABELS} labelled kept answers, good and bad; "
                    f"have {self.labelled_kept})")
        if self.auc < SIGNAL_AUC:
            return (f"escalations do not earn their cost: the confidence hardly separates good cheap answers from "
                    f"bad ones (AUC {self.auc:.2f}), so escalating is close to a random mix that also pays "
                    f"{self.discarded_share:.0%} of the spend for discarded answers; a router (or one fixed tier) "
                    f"costs less for the same quality")
        return (f"escalations can earn their cost: the confidence separates good cheap answers from bad ones "
                f"(AUC {self.auc:.2f}); discarded answers cost {self.discarded_share:.0%} of the spend")

    def to_json(self) -> dict[str, Any]:
        return {"requests": self.requests, "escalated": self.escalated, "discarded_usd": float(self.discarded_usd),
                "discarded_share": self.discarded_share, "quality_kept": self.quality_kept,
                "labelled_kept": self.labelled_kept, "quality_escalated": self.quality_escalated,
                "labelled_escalated": self.labelled_escalated, "auc": self.auc, "verdict": self.verdict}


def confidence_of(record: Record) -> float | None:
    """The cheapest tier's confidence reading: the one a kept answer was judged on."""
    values = [v for k, v in record.decision.scores.items() if k.startswith("confidence.")]
    return values[0] if values else None


def discarded(record: Record) -> Decimal:
    """The cost of successful answers the caller did not get (escalated past)."""
    served = served_attempt(record)
    return sum((a.cost_usd for a in record.attempts if a.ok and a is not served and a.purpose == "answer"),
               Decimal(0))


def auc(scores: Sequence[float], good: Sequence[bool]) -> float | None:
    """Area under the ROC curve (ties count half); None unless both classes are present."""
    pos = [s for s, g in zip(scores, good, strict=True) if g]
    neg = [s for s, g in zip(scores, good, strict=True) if not g]
    if not pos or not neg:
        return None
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def escalation_value(route: str, records: Sequence[Record]) -> EscalationValue | None:
    """The figures for one route's cascade records; None when none of them carries a confidence reading."""
    read = [r for r in records if confidence_of(r) is not None]
    if not read:
        return None
    kept = [r for r in read if not r.escalated and r.outcome == "ok"]
    up = [r for r in read if r.escalated and r.outcome == "ok"]
    kept_labels = [(confidence_of(r) or 0.0, r.quality) for r in kept if r.quality is not None]
    up_labels = [r.quality for r in up if r.quality is not None]
    total = sum((r.cost_usd for r in read), Decimal(0))
    waste = sum((discarded(r) for r in read), Decimal(0))
    good = [q >= 0.5 for _, q in kept_labels]
    enough = len(kept_labels) >= MIN_LABELS and 0 < sum(good) < len(good)
    return EscalationValue(
        route=route, requests=len(read), escalated=sum(r.escalated for r in read), discarded_usd=waste,
        discarded_share=float(waste / total) if total else 0.0,
        quality_kept=sum(q for _, q in kept_labels) / len(kept_labels) if kept_labels else None,
        labelled_kept=len(kept_labels),
        quality_escalated=sum(up_labels) / len(up_labels) if up_labels else None,
        labelled_escalated=len(up_labels),
        auc=auc([c for c, _ in kept_labels], good) if enough else None,
    )


def escalation_by_route(records: Iterable[Record]) -> dict[str, EscalationValue]:
    groups: dict[str, list[Record]] = {}
    for r in records:
        groups.setdefault(r.route, []).append(r)
    out = {route: escalation_value(route, rs) for route, rs in sorted(groups.items())}
    return {k: v for k, v in out.items() if v is not None}


def text(values: dict[str, EscalationValue]) -> list[str]:
    """Lines for `tiered stats`: one paragraph per cascade route."""
    lines: list[str] = []
    for route, v in values.items():
        def q(x: float | None, n: int) -> str:
            return "-" if x is None else f"{x:.2f} ({n})"

        lines.append(f"escalations on {route}: {v.escalated} of {v.requests} ({v.escalated / v.requests:.0%}); "
                     f"discarded answers ${float(v.discarded_usd):.4f} ({v.discarded_share:.0%} of spend); "
                     f"quality kept {q(v.quality_kept, v.labelled_kept)}, "
                     f"escalated {q(v.quality_escalated, v.labelled_escalated)}")
        lines.append(f"  {v.verdict}")
    return lines
