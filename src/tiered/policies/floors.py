"""Floors by task: the lowest tier a task may go to, whatever a score says.

    floors = {"code-review": "sonnet"}
    task_of(request)            # "code-review": declared (Request.task, metadata["task"]) or recognised

The design note's anti-pattern "Haiku for code review -> Sonnet minimum for code quality" is not met
by a task map alone: most callers do not tag their requests, and a code review prompt is short and
scores as easy. So a router raises its tier to the floor of the request's task, and the task is the
declared one when there is one, else the one the text names plainly ("Review this code:", "code
review of ...", "can you review my PR"). Recognition is deliberately narrow (a few phrasings, no
model): it only ever raises a tier, and the decision says whether the task was declared or recognised.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from tiered.types import Request

_ARTEFACT = (r"(?:code|diff|patch|pull request|pr|merge request|commit|implementation|"
             r"(?:this|my|our|the following) (?:function|method|class|module|script|snippet|query))")
_RECOGNISED: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("code-review", re.compile(
        rf"\bcode[- ]review\b|\breview\b[^.?!\n]{{0,40}}?\b{_ARTEFACT}\b|\b{_ARTEFACT}\b[^.?!\n]{{0,15}}\breview\b",
        re.IGNORECASE)),
    ("architecture-decision", re.compile(
        r"\barchitecture (?:decision|review)\b|\b(?:choose|decide on|pick) (?:an? |the )?architecture\b",
        re.IGNORECASE)),
)


def declared_task(request: Request) -> str | None:
    """The task the caller named: `Request.task`, else `metadata["task"]`."""
    meta = request.metadata.get("task")
    task = request.task or (meta if isinstance(meta, str) else None)
    return task or None


def recognised_task(request: Request) -> str | None:
    """The task the last user turn plainly names, or None."""
    text = request.last_user_text[:2000]
    for task, pattern in _RECOGNISED:
        if pattern.search(text):
            return task
    return None


def task_of(request: Request) -> tuple[str, str] | None:
    """(task, "declared" | "recognised"), or None."""
    from tiered.policies.taskmap import normalize_task

    declared = declared_task(request)
    if declared is not None:
        return normalize_task(declared), "declared"
    found = recognised_task(request)
    return (found, "recognised") if found is not None else None


def floor_for(request: Request, floors: Mapping[str, str]) -> tuple[str, str, str] | None:
    """(floor tier, task, how the task was known) when the request's task has a floor."""
    if not floors:
        return None
    known = task_of(request)
    if known is None:
        return None
    tier = floors.get(known[0])
    return (tier, *known) if tier is not None else None
