"""Which budgets a request counts against, and the 429 that says which one it would pass.

A request holds its worst-case cost (`tiered.gateway.worst_case`) against every budget that applies,
in this order, and is refused at the first that cannot take it (`Core.reserve` releases the others):

1. the key's daily budget: a named key's `usd_per_day`, else `[gateway] usd_per_day` (per key, as before);
2. the key's monthly budget (`usd_per_month` of a named key);
3. its team's daily and monthly budgets (`[gateway.teams.NAME]`), shared by the team's keys.

Daily budgets reset at midnight UTC and monthly ones on the first of the month (UTC); with `[state]
redis` they are counted in Redis, so every replica sees the same spend.
"""

from __future__ import annotations

import calendar
import decimal
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from tiered.gateway.keys import GatewayKey
from tiered.gateway.limits import DAY_S, Hold, Limits, seconds_to_midnight
from tiered.gateway.settings import GatewaySettings
from tiered.gateway.wire import HttpError, retry_after_headers
from tiered.gateway.worst_case import Bound
from tiered.pricing import format_usd

Period = Literal["daily", "monthly"]


@dataclass(frozen=True, slots=True)
class Budget:
    limits: Limits
    who: str
    """What the spend is counted under (`key:<name>`, `key_<digest>`, `team:<name>`)."""
    usd: Decimal
    period: Period
    whose: str
    """For messages: "this key" or "team 'search'"."""


def budgets_for(caller: str, key: GatewayKey | None, settings: GatewaySettings, daily: Limits,
                monthly: Limits) -> list[Budget]:
    out: list[Budget] = []
    per_day = key.usd_per_day if key is not None and key.usd_per_day is not None else settings.usd_per_day
    if per_day is not None:
        out.append(Budget(daily, caller, per_day, "daily", "this key"))
    if key is not None and key.usd_per_month is not None:
        out.append(Budget(monthly, caller, key.usd_per_month, "monthly", "this key"))
    team = settings.teams.get(key.team) if key is not None and key.team else None
    if team is not None:
        whose = f"team {team.name!r}"
        if team.usd_per_day is not None:
            out.append(Budget(daily, f"team:{team.name}", team.usd_per_day, "daily", whose))
        if team.usd_per_month is not None:
            out.append(Budget(monthly, f"team:{team.name}", team.usd_per_month, "monthly", whose))
    return out


def seconds_to_next_month(now: float) -> float:
    t = time.gmtime(now)
    year, month = (t.tm_year + 1, 1) if t.tm_mon == 12 else (t.tm_year, t.tm_mon + 1)
    return max(1.0, calendar.timegm((year, month, 1, 0, 0, 0, 0, 0, 0)) - now)


def refusal(budget: Budget, hold: Hold, bound: Bound, max_tokens: int, now: float) -> HttpError:
    """The 429 for a request `budget` cannot take (see `Core.reserve`)."""
    # The SDKs honour any retry-after: without x-should-retry: false they would sleep until the reset.
    reset = seconds_to_midnight(now) if budget.period == "daily" else seconds_to_next_month(now)
    later = [*retry_after_headers(min(reset, 31 * DAY_S)), (b"x-should-retry", b"false")]
    limit, whose = budget.usd, budget.whose
    when = "today" if budget.period == "daily" else "this month"
    if hold.spent >= limit:
        return HttpError(429, "rate_limit_error", f"{budget.period} budget of ${limit} used up for {whose}", later)
    worst, model = bound.usd, bound.dearest
    left = limit - hold.spent - hold.held
    calls = "" if bound.calls == 1 else f"{bound.calls} calls, "
    message = (f"{budget.period} budget of ${limit} would be exceeded by this request's worst case "
               f"(${_usd(worst)}: {calls}its prompt and max_tokens={max_tokens}, the dearest call at "
               f"{model.id if model else 'its route'}'s prices); ${_usd(max(left, Decimal(0)))} remaining "
               f"for {whose} {when} (${_usd(hold.spent)} spent, ${_usd(hold.held)} held by requests in flight)")
    if hold.spent + worst > limit:  # no request ending in flight makes room in this period: ask for less
        return HttpError(429, "rate_limit_error", message, later)
    return HttpError(429, "rate_limit_error", message, retry_after_headers(1.0))  # room once others end


def _usd(amount: Decimal) -> str:
    """Micro-dollars, for messages (the exact figures are in the records)."""
    return format_usd(amount.quantize(Decimal("0.000001"), context=decimal.Context(prec=60)))
