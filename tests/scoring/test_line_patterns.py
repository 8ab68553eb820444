"""Line-start cues look at one line: a run of blank lines is neither indentation nor a list marker.

`^\\s*` under MULTILINE crosses newlines, so every line start of a long blank run re-scanned the run
(quadratic: 20 s for 20,000 newlines, minutes for an agent's padded tool output). `[ \\t]` stays on the line.
"""

from __future__ import annotations

from tiered.scoring import confidence, features, heuristic
from tiered.scoring.heuristic import HeuristicScorer
from tiered.types import Request


def test_blank_lines_are_not_indented_code() -> None:
    assert heuristic._CODE.findall("prose\n\n\n\n\nmore prose") == []
    assert len(heuristic._CODE.findall("prose\n    x = 1\n")) == 1  # real indentation still counts


def test_list_markers_and_options_are_found_on_their_own_line() -> None:
    text = "Steps:\n\n\n1. mix\n  2) bake\n- serve\n"
    assert len(heuristic._STEPS.findall(text)) == 3
    assert len(features._OPTION.findall("Q?\n\n\nA) one\n B. two\n")) == 2
    assert confidence._CLOSED.search("Pick:\n\n\n  (C) three") is not None


def test_a_long_blank_run_scores_like_a_short_one() -> None:
    scorer = HeuristicScorer()
    short, long = Request.user("a\n\n\nx"), Request.user("a" + "\n" * 200_000 + "x")
    assert scorer.signals(short)["code"] == scorer.signals(long)["code"] == 0.0
    assert scorer.signals(long)["steps"] == 0.0
