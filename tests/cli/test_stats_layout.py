"""`tiered stats` columns stay aligned for long route names, and an attempt's latency leaves out the one-time
building of its model (issue 8, item 10)."""

from __future__ import annotations

from decimal import Decimal

from tiered.catalog import Catalog
from tiered.cli.stats_cmd import table
from tiered.models.base import Model
from tiered.models.fake import FakeModel
from tiered.models.registry import ModelSet
from tiered.policies import Direct
from tiered.runtime.clock import ManualClock
from tiered.runtime.driver import run
from tiered.telemetry.stats import RouteStats
from tiered.types import Request


def _stats(route: str, quality: float | None = None, labelled: int = 0) -> RouteStats:
    return RouteStats(route=route, requests=3, cost_usd=Decimal("0.003"), cost_per_request_usd=Decimal("0.001"),
                      p50_ms=5.0, p95_ms=9.0, quality=quality, labelled=labelled, escalation_rate=0.0,
                      fallback_rate=0.0, degraded_rate=0.0, error_rate=0.0, tier_mix={"haiku": 1.0}, bypass=None)


def test_columns_line_up_whatever_the_route_name() -> None:
    lines = table([_stats("default"), _stats("model/claude-haiku-4-5", 0.75, 1200), _stats("a-much-longer-route-name")])
    header, rows = lines[0], [lines[2], lines[3], lines[4]]
    for column in ("requests", "p50 ms", "quality", "tier mix"):
        end = header.index(column) + len(column)
        if column == "tier mix":  # left-aligned: every row's mix starts where the header's does
            assert all(r[header.index(column):].startswith("haiku") for r in rows)
        else:  # right-aligned: every row's value ends where the header's name ends
            assert all(r[end] == " " and r[end - 1] != " " for r in rows), column


class _SlowToBuild:
    """A resolver whose models take (manual-clock) seconds to build the first time, as an SDK import does."""

    def __init__(self, models: ModelSet, clock: ManualClock) -> None:
        self.models, self.clock, self.built = models, clock, False

    def resolve(self, target: str) -> Model:
        if not self.built:
            self.clock.advance(2.4)
            self.built = True
        return self.models.resolve(target)

    def tier(self, target: str) -> str:
        return self.models.tier(target)


async def test_the_first_attempt_does_not_count_building_its_model(catalog: Catalog) -> None:
    clock = ManualClock()
    info = catalog.resolve("haiku")
    models = ModelSet(catalog, {info.id: FakeModel(lambda r: "ok", name=info.id)})
    done = await run(Direct("haiku"), Request.user("hi"), _SlowToBuild(models, clock), clock=clock)
    assert done.record.attempts[0].latency_ms == 0.0
    assert done.record.latency_ms == 2400.0  # the request's own wall time still includes it
