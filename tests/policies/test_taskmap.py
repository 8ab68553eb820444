from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tiered.errors import ConfigError
from tiered.models.registry import ModelSet
from tiered.policies.router import ComplexityRouter
from tiered.policies.taskmap import TaskMap, load_task_routes
from tiered.runtime.clock import ManualClock
from tiered.runtime.driver import run
from tiered.scoring.base import Thresholds
from tiered.types import Request


def _says(tier: str) -> Callable[[Request], str]:
    return lambda _: f"from {tier}"


def tiers(fakes: Callable[..., ModelSet]) -> ModelSet:
    return fakes(haiku=_says("haiku"), sonnet=_says("sonnet"), opus=_says("opus"))


@pytest.mark.parametrize(
    ("task", "tier"),
    [("commit-message", "haiku"), ("Short summary", "haiku"), ("intent_classification", "haiku"),
     ("fix-failing-test", "sonnet"), ("write feature", "sonnet"), ("code-review", "opus"),
     ("architecture decision", "opus"), ("multi-agent-orchestration", "opus"), ("debugging across systems", "opus")],
)
async def test_packaged_map_routes_the_design_note_table(
    fakes: Callable[..., ModelSet], clock: ManualClock, task: str, tier: str
) -> None:
    result = await run(TaskMap.default_map(), Request.user("...", task=task), tiers(fakes), clock=clock)
    assert result.record.tier == tier
    assert result.record.decision.reason.startswith("task ")
    assert result.record.task == task


async def test_task_from_metadata_or_a_function(fakes: Callable[..., ModelSet], clock: ManualClock) -> None:
    models = tiers(fakes)
    meta = await run(TaskMap.default_map(), Request.user("x", metadata={"task": "code-review"}), models, clock=clock)
    assert meta.record.tier == "opus"

    def from_prefix(req: Request) -> str | None:
        return "commit-message" if req.last_user_text.startswith("diff --git") else None

    by_fn = await run(TaskMap.default_map(key=from_prefix), Request.user("diff --git a/x b/x"), models, clock=clock)
    assert by_fn.record.tier == "haiku"


async def test_unknown_task_goes_to_the_default_policy(fakes: Callable[..., ModelSet], clock: ManualClock) -> None:
    router = ComplexityRouter(lambda r: 0.9, Thresholds.of(("haiku", "opus"), (0.5,)))
    policy = TaskMap({"commit-message": "haiku"}, default=router)
    result = await run(policy, Request.user("x", task="poetry"), tiers(fakes), clock=clock)
    assert result.record.tier == "opus"
    assert result.record.decision.reason == "unknown task poetry -> default; score 0.90 -> opus"
    assert result.record.decision.scores == {"complexity": 0.9}
    none = await run(policy, Request.user("x"), tiers(fakes), clock=clock)
    assert none.record.decision.reason.startswith("no task -> default")


def test_repr_and_file_validation(tmp_path: Path) -> None:
    assert repr(TaskMap.default_map()) == "TaskMap(<tiered/data/taskmap.toml>, default='sonnet')"
    assert repr(TaskMap({"Code Review": "opus"})) == "TaskMap({'code-review': 'opus'}, default='sonnet')"
    bad = tmp_path / "map.toml"
    bad.write_text('[tasks]\nreview = 3\n')
    with pytest.raises(ConfigError, match=r"tasks\.review"):
        load_task_routes(bad)
    bad.write_text('[taks]\n')
    with pytest.raises(ConfigError, match="unknown key 'taks'"):
        load_task_routes(bad)
