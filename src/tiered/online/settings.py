"""`[learning]`: switching the learning loop on for the gateway, and what it may spend.

    [learning]
    routes = ["default"]             # the routes that learn (default: every route)
    keep_prompts = true              # log the prompt text of their requests (request_prompts), in your own log
    shadow_rate = 0.02               # share of their requests also answered by the other tier(s) and judged
    shadow_budget_usd_per_day = 5.0  # what shadow answers and the judge may spend per UTC day, all keys together
    judge = "opus"                   # the judge model (default: the top tier)
    judge_twice = 0.25               # share of comparisons judged again with the answers swapped
    registry = "routers"             # where router versions live (tiered router list | promote | rollback)
    interval = "6h"                  # `tiered serve` runs train -> verify -> promote this often (default: never)
    target = { min_quality = 0.95 }  # the routes' declared target (or max_cost_ratio, or max_share = {opus = 0.2})

Without the table nothing is learned and no prompt is logged. Feedback (`POST /v1/tiered/feedback`) works
whenever the gateway keeps a SQL request log, learning on or not: a label costs nothing to accept.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from tiered.config_tables import Table
from tiered.errors import ConfigError

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd]?)")
_UNIT = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


@dataclass(frozen=True, slots=True)
class DeclaredTarget:
    """A route's declared target, as `tiered calibrate` takes it (exactly one kind is usual)."""

    max_cost_ratio: float | None = None
    min_quality: float | None = None
    max_share: Mapping[str, float] = field(default_factory=dict)

    @property
    def declared(self) -> bool:
        return self.max_cost_ratio is not None or self.min_quality is not None or bool(self.max_share)

    def describe(self) -> str:
        parts = []
        if self.min_quality is not None:
            parts.append(f"quality >= {self.min_quality:g} of the top tier's")
        if self.max_cost_ratio is not None:
            parts.append(f"cost <= {self.max_cost_ratio:g} of the top tier's")
        parts += [f"{t} share <= {v:g}" for t, v in self.max_share.items()]
        return ", ".join(parts) or "none declared"

    def to_json(self) -> dict[str, Any]:
        return {"max_cost_ratio": self.max_cost_ratio, "min_quality": self.min_quality,
                "max_share": dict(self.max_share)}


@dataclass(frozen=True, slots=True)
class LearningSettings:
    routes: tuple[str, ...] | None = None
    """The routes that learn; None: every route."""
    keep_prompts: bool = True
    shadow_rate: float = 0.0
    shadow_budget_usd_per_day: Decimal = Decimal(1)
    judge: str | None = None
    """The judge model (id, alias or tier); None: the catalog's top tier."""
    judge_twice: float = 0.25
    registry: str | None = None
    interval_s: float | None = None
    target: DeclaredTarget = field(default_factory=DeclaredTarget)

    def learns(self, route: str) -> bool:
        return self.routes is None or route in self.routes


def parse_duration(value: object, where: str) -> float:
    """Seconds from a number or a string like "90s", "30m", "6h", "1d"."""
    if isinstance(value, bool):
        raise ConfigError(f"{where}: expected a duration like \"6h\"")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (m := _DURATION.fullmatch(value.strip())):
        seconds = float(m.group(1)) * _UNIT[m.group(2)]
    else:
        raise ConfigError(f"{where}: expected a duration like \"6h\", \"30m\" or a number of seconds, got {value!r}")
    if seconds <= 0:
        raise ConfigError(f"{where}: must be positive")
    return seconds


def _target(raw: Any) -> DeclaredTarget:
    if raw is None:
        return DeclaredTarget()
    t = Table(raw, "learning.target")
    ratio = t.number("max_cost_ratio", None)
    quality = t.number("min_quality", None)
    shares_table = t.table("max_share")
    shares = {n: float(shares_table.number(n)) for n in shares_table.names()} if shares_table else {}
    t.done()
    for name, value in (("max_cost_ratio", ratio), ("min_quality", quality), *shares.items()):
        if value is not None and not 0.0 <= value <= 1.0:
            raise ConfigError(f"learning.target.{name}: expected a fraction in [0, 1], got {value}")
    return DeclaredTarget(ratio, quality, shares)


def learning_settings(data: Mapping[str, Any], *, base_dir: Path | None = None) -> LearningSettings | None:
    """The `[learning]` table of a config, checked; None when there is none (learning off)."""
    if "learning" not in data:
        return None
    t = Table(data["learning"], "learning")
    routes = t.texts("routes", None)
    keep = t.flag("keep_prompts", True)
    rate = t.number("shadow_rate", 0.0)
    budget = t.number("shadow_budget_usd_per_day", 1.0)
    judge = t.text("judge", None)
    twice = t.number("judge_twice", 0.25)
    registry = t.text("registry", None)
    interval = t.raw("interval", None)
    target = _target(t.raw("target", None))
    t.done()
    for name, value in (("shadow_rate", rate), ("judge_twice", twice)):
        if not 0.0 <= value <= 1.0:
            raise ConfigError(f"learning.{name}: expected a fraction in [0, 1], got {value}")
    if registry is not None and base_dir is not None and not Path(registry).expanduser().is_absolute():
        registry = str(base_dir / registry)
    return LearningSettings(
        routes=routes, keep_prompts=keep, shadow_rate=rate, shadow_budget_usd_per_day=Decimal(str(budget)),
        judge=judge, judge_twice=twice, registry=registry,
        interval_s=None if interval is None else parse_duration(interval, "learning.interval"), target=target)
