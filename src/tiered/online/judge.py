"""The judge's one fixed rubric: two answers to one prompt, compared through a forced tool call.

The judge sees the prompt and two answers labelled A and B, never which tier wrote them, and must
call `JUDGE_TOOL` with `better` ("A", "B" or "tie") and a `confidence` in [0, 1]. A comparison is
read as a label for the cheaper tier: 1.0 when its answer is as good (it won or tied), 0.0 when it
is worse. Position bias is measured, not assumed away: a share of comparisons is judged a second
time with A and B swapped, and the two readings' agreement (1 or 0) goes into the log beside the
label.

The prompt layout is fixed (`<prompt>`, `<answer_A>`, `<answer_B>` sections) so that the emulator
can play the judge from its replay data (`tiered.emulator.judge`), deterministically and offline.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from tiered.types import Request, Response

JUDGE_TOOL = "record_comparison"
Better = Literal["A", "B", "tie"]
MAX_SECTION_CHARS = 12_000
"""Each section is cut to its head and tail past this: the judge needs the gist, and its cost is bounded."""

RUBRIC = (
    "You compare two answers to the same request and decide which one serves the person who asked better. "
    "Judge, in this order: correctness (a wrong answer loses to a right one, whatever its style); whether it "
    "does what was asked (completeness, following the instructions and format); clarity. Ignore length "
    "for its own sake, and ignore the order in which the answers are shown. If both are equally good, or "
    "equally wrong, say tie. Do not answer the request yourself; only record the comparison."
)

_TOOL: Mapping[str, Any] = {
    "name": JUDGE_TOOL,
    "description": "Record which answer is better (A, B or tie) and how confident you are.",
    "input_schema": {
        "type": "object",
        "properties": {
            "better": {"type": "string", "enum": ["A", "B", "tie"]},
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        },
        "required": ["better", "confidence"],
    },
}
_SECTION = re.compile(r"<(prompt|answer_A|answer_B)>\n(.*?)\n</\1>", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Verdict:
    better: Better
    confidence: float

    def swapped(self) -> Verdict:
        """The same verdict read with A and B exchanged."""
        other: Better = "B" if self.better == "A" else "A" if self.better == "B" else "tie"
        return Verdict(other, self.confidence)

    def as_good(self, candidate: Literal["A", "B"]) -> bool:
        """Whether answer `candidate` is at least as good as the other one."""
        return self.better in (candidate, "tie")


def _cut(text: str, limit: int = MAX_SECTION_CHARS) -> str:
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n[... {len(text) - 2 * half} characters omitted ...]\n{text[-half:]}"


def judge_prompt(prompt: str, answer_a: str, answer_b: str) -> str:
    """The judge's user turn: the three sections in the fixed layout `split_judge_prompt` reads back."""
    return (f"<prompt>\n{_cut(prompt)}\n</prompt>\n\n<answer_A>\n{_cut(answer_a)}\n</answer_A>\n\n"
            f"<answer_B>\n{_cut(answer_b)}\n</answer_B>\n\nWhich answer is better? Record it with {JUDGE_TOOL}.")


def judge_request(prompt: str, answer_a: str, answer_b: str, *, max_tokens: int = 200) -> Request:
    """The request a judge model answers: the rubric as system prompt, the tool call forced."""
    return Request(
        messages=({"role": "user", "content": judge_prompt(prompt, answer_a, answer_b)},),
        max_tokens=max_tokens,
        system=RUBRIC,
        tools=(_TOOL,),
        tool_choice={"type": "tool", "name": JUDGE_TOOL},
        task="judge",
    )


def split_judge_prompt(text: str) -> tuple[str, str, str] | None:
    """(prompt, answer A, answer B) of a judge's user turn, or None when it is not one."""
    found = {m.group(1): m.group(2) for m in _SECTION.finditer(text)}
    if set(found) != {"prompt", "answer_A", "answer_B"}:
        return None
    return found["prompt"], found["answer_A"], found["answer_B"]


def parse_verdict(response: Response) -> Verdict | None:
    """The judge's verdict from its tool call; None when it did not make a valid one."""
    raw = response.tool_input(JUDGE_TOOL)
    if raw is None:
        return None
    better = raw.get("better")
    confidence = raw.get("confidence")
    if better not in ("A", "B", "tie"):
        return None
    if isinstance(confidence, bool) or not isinstance(confidence, int | float) or not math.isfinite(confidence):
        return None
    return Verdict(better, min(1.0, max(0.0, float(confidence))))
