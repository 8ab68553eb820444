"""The emulator plays the learning loop's judge from its replay data: deterministic and offline.

A request that forces `tiered.online.judge.JUDGE_TOOL` carries the prompt and two answers in the
judge's fixed layout. When the prompt is recorded in the replay dataset and each answer is (a prefix
of) a recorded model's answer to it, the verdict follows the recorded qualities: the better-scored
answer wins, equal qualities tie, and the confidence grows with the gap. The same inputs always give
the same verdict, and swapping A and B swaps it, so a test or the demo knows what the judge will say.
When the answers cannot be traced to the data, `judge_input` returns None and the emulator answers
the tool call as it answers any other (values generated from the schema).
"""

from __future__ import annotations

from typing import Any

from tiered.datasets import Item
from tiered.emulator.replay_lookup import ReplayAnswers
from tiered.models.replay import answer_text, normalize
from tiered.online.judge import split_judge_prompt

TIE = 0.05
"""Recorded qualities closer than this are a tie."""
_CUT_MARK = "\n[... "


def _head(text: str) -> str:
    at = text.find(_CUT_MARK)
    return normalize(text if at < 0 else text[:at])


def recorded_quality(replay: ReplayAnswers, item: Item, answer: str) -> float | None:
    """The recorded quality of the model whose answer `answer` is (or starts), preferring the models the
    emulator plays; None when no recorded answer matches."""
    wanted = _head(answer)
    played = [m for m in replay.plays.values() if m in item.outcomes]
    for model in [*played, *(m for m in item.outcomes if m not in played)]:
        recorded = normalize(answer_text(item, model))
        if wanted and (recorded == wanted or recorded.startswith(wanted) or wanted.startswith(recorded)):
            return item.outcomes[model].quality
    return None


def judge_input(replay: ReplayAnswers, text: str) -> dict[str, Any] | None:
    """The judge's tool input for a judge prompt `text`, from the replay data; None when it cannot tell."""
    parts = split_judge_prompt(text)
    if parts is None:
        return None
    prompt, answer_a, answer_b = parts
    item = replay.book.find(prompt)
    if item is None:
        return None
    qa, qb = recorded_quality(replay, item, answer_a), recorded_quality(replay, item, answer_b)
    if qa is None or qb is None:
        return None
    gap = qa - qb
    if abs(gap) < TIE:
        return {"better": "tie", "confidence": round(1.0 - abs(gap), 3)}
    return {"better": "A" if gap > 0 else "B", "confidence": round(0.5 + min(1.0, abs(gap)) / 2, 3)}
