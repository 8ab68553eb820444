"""Small condition objects that compose with `|`, `&` and `~`, tenacity-style, so policies read as sentences:

    escalate_when = low_confidence(0.7) | hedged() | refused()
    stop = at_tier("opus") | spent_over(0.05) | elapsed_over(30)
    fallback_on = retryable()            # or on(Overloaded, RateLimited)

A condition does not just answer yes or no: `explain(x)` returns *why* it holds ("confidence 0.41 <
0.7"), or None, and that text goes into `Attempt.reason` and the decision, so a record says why a
request escalated. Each condition has a `__repr__` that reads like the code that built it, because a
policy's repr is stored in every record.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Generic, TypeVar

from tiered.errors import ProviderError
from tiered.scoring.confidence import Reading

T = TypeVar("T")


class Condition(Generic[T]):
    """Base of every condition: subclasses implement `explain`."""

    def explain(self, subject: T) -> str | None:
        raise NotImplementedError

    def __call__(self, subject: T) -> bool:
        return self.explain(subject) is not None

    def __or__(self, other: Condition[T]) -> Condition[T]:
        return AnyOf((*_parts(self, AnyOf), *_parts(other, AnyOf)))

    def __and__(self, other: Condition[T]) -> Condition[T]:
        return AllOf((*_parts(self, AllOf), *_parts(other, AllOf)))

    def __invert__(self) -> Condition[T]:
        return Not(self)


def _parts(c: Condition[T], kind: type[AnyOf[T]] | type[AllOf[T]]) -> tuple[Condition[T], ...]:
    return c.parts if isinstance(c, kind) else (c,)


@dataclass(frozen=True, slots=True)
class AnyOf(Condition[T]):
    parts: tuple[Condition[T], ...]

    def explain(self, subject: T) -> str | None:
        for part in self.parts:
            why = part.explain(subject)
            if why is not None:
                return why
        return None

    def __repr__(self) -> str:
        return " | ".join(map(repr, self.parts))


@dataclass(frozen=True, slots=True)
class AllOf(Condition[T]):
    parts: tuple[Condition[T], ...]

    def explain(self, subject: T) -> str | None:
        reasons = [part.explain(subject) for part in self.parts]
        return None if any(r is None for r in reasons) else " and ".join(r for r in reasons if r)

    def __repr__(self) -> str:
        return " & ".join(f"({p!r})" if isinstance(p, AnyOf) else repr(p) for p in self.parts)


@dataclass(frozen=True, slots=True)
class Not(Condition[T]):
    inner: Condition[T]

    def explain(self, subject: T) -> str | None:
        return f"not ({self.inner!r})" if self.inner.explain(subject) is None else None

    def __repr__(self) -> str:
        return f"~({self.inner!r})"


# --- escalation triggers: conditions on a confidence reading ---------------------------------------


@dataclass(frozen=True, slots=True)
class low_confidence(Condition[Reading]):  # lowercase factories read as sentences
    threshold: float

    def explain(self, subject: Reading) -> str | None:
        if subject.value < self.threshold:
            return f"confidence {subject.value:.2f} < {self.threshold:g}"
        return None

    def __repr__(self) -> str:
        return f"low_confidence({self.threshold:g})"


@dataclass(frozen=True, slots=True)
class hedged(Condition[Reading]):
    at_least: int = 1

    def explain(self, subject: Reading) -> str | None:
        found = subject.features.hedges
        return f"hedged ({', '.join(found)})" if len(found) >= self.at_least else None

    def __repr__(self) -> str:
        return "hedged()" if self.at_least == 1 else f"hedged({self.at_least})"


@dataclass(frozen=True, slots=True)
class refused(Condition[Reading]):
    def explain(self, subject: Reading) -> str | None:
        return "refused" if subject.features.refused else None

    def __repr__(self) -> str:
        return "refused()"


@dataclass(frozen=True, slots=True)
class invalid_report(Condition[Reading]):
    def explain(self, subject: Reading) -> str | None:
        return None if subject.features.report_valid else "missing or invalid confidence report"

    def __repr__(self) -> str:
        return "invalid_report()"


# --- stop conditions: conditions on how far a cascade got ------------------------------------------


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a cascade stands after a tier answered. `elapsed_s` sums the latencies of its calls so far
    (a sum over attempts, not a wall clock, so the same policy decides the same way in offline replay)."""

    tier: str
    spent_usd: Decimal
    elapsed_s: float
    calls: int


@dataclass(frozen=True, slots=True)
class at_tier(Condition[Progress]):
    tier: str

    def explain(self, subject: Progress) -> str | None:
        return f"at tier {self.tier}" if subject.tier == self.tier else None

    def __repr__(self) -> str:
        return f"at_tier({self.tier!r})"


@dataclass(frozen=True, slots=True)
class spent_over(Condition[Progress]):
    usd: float

    def explain(self, subject: Progress) -> str | None:
        if subject.spent_usd > Decimal(str(self.usd)):
            return f"spent ${float(subject.spent_usd):.4f} > ${self.usd:g}"
        return None

    def __repr__(self) -> str:
        return f"spent_over({self.usd:g})"


@dataclass(frozen=True, slots=True)
class elapsed_over(Condition[Progress]):
    seconds: float

    def explain(self, subject: Progress) -> str | None:
        if subject.elapsed_s > self.seconds:
            return f"elapsed {subject.elapsed_s:.1f}s > {self.seconds:g}s"
        return None

    def __repr__(self) -> str:
        return f"elapsed_over({self.seconds:g})"


class never(Condition[T]):
    def explain(self, subject: T) -> str | None:
        return None

    def __repr__(self) -> str:
        return "never()"


# --- fallback triggers: conditions on a provider error ---------------------------------------------


@dataclass(frozen=True, slots=True)
class retryable(Condition[ProviderError]):
    """Rate limits, overload, 5xx, timeouts and connection errors (mid-stream too); never 4xx or a spend limit."""

    def explain(self, subject: ProviderError) -> str | None:
        return subject.error_type if subject.retryable else None

    def __repr__(self) -> str:
        return "retryable()"


class on(Condition[ProviderError]):
    """Errors of the given types (matched with isinstance, never on message text)."""

    def __init__(self, *types: type[ProviderError]) -> None:
        self.types = types

    def explain(self, subject: ProviderError) -> str | None:
        return subject.error_type if isinstance(subject, self.types) else None

    def __repr__(self) -> str:
        return f"on({', '.join(t.__name__ for t in self.types)})"
