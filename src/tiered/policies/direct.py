"""The leaf policy: send the request, unchanged, to one tier or model.

Every composite ends in these. A plain string wherever a policy is expected ("haiku",
"claude-opus-4-7") means `Direct(that)`, via `as_policy`:

    TaskMap({"commit-message": "haiku"}, default=Direct("sonnet"))
"""

from __future__ import annotations

from tiered.policies.base import Call, Flow, Policy, Result
from tiered.records import Decision
from tiered.types import Request

PolicyLike = Policy | str
"""A policy, or a tier name / model id standing for `Direct(it)`."""


class Direct:
    def __init__(self, target: str, *, timeout_s: float | None = None) -> None:
        self.target = target
        self.timeout_s = timeout_s

    def flow(self, request: Request, reason: str = "first") -> Flow:
        outcome = yield Call(self.target, request, reason=reason, timeout_s=self.timeout_s, stream=True)
        tier = outcome.attempt.tier or self.target
        return Result(outcome, Decision(repr(self), tier, f"direct to {self.target}"))

    def __repr__(self) -> str:
        return f"Direct({self.target!r})"


def as_policy(p: PolicyLike) -> Policy:
    return Direct(p) if isinstance(p, str) else p

