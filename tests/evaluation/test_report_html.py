"""The HTML report says what the CLI says (cheapest at >= 95%), its per-task chart has distinct colours and a
legend that covers no bar, and its per-task table names the operating point it shows (issue 8, item 14)."""

from __future__ import annotations

import html
from pathlib import Path

import matplotlib.pyplot as plt

from tiered.datasets import Dataset
from tiered.evaluation.replay import TierMap
from tiered.evaluation.report import cheapest_line, per_task_figure, policy_colours, text_evaluation, write_html
from tiered.evaluation.suite import evaluate

TIERS = TierMap({"haiku": "small-7b", "sonnet": "mid-70b", "opus": "big-1t"})  # as in conftest


def test_the_report_carries_the_verdict_and_the_operating_points(synthetic: Dataset, tmp_path: Path) -> None:
    ev = evaluate(synthetic, TIERS, policies=("always", "oracle", "random", "taskmap"), steps=4)
    verdict = cheapest_line(ev)
    assert verdict in text_evaluation(ev)
    page = write_html([ev], tmp_path).read_text("utf-8")
    assert html.escape(verdict) in page
    assert "operating point" in page and "cheapest setting that reaches 95%" in page
    assert "taskmap</td><td><code>{&#x27;tolerance&#x27;" in page.split("<h3>Per task</h3>", 1)[1]  # its setting


def test_per_task_colours_are_distinct_and_the_legend_covers_no_bar(synthetic: Dataset) -> None:
    for n in (3, 12, 20, 25):
        assert len(set(policy_colours(n))) == n
    ev = evaluate(synthetic, TIERS, policies=("always", "oracle", "random", "taskmap"), steps=4)
    fig = per_task_figure(ev)
    try:
        fig.canvas.draw()
        legend = fig.legends[0].get_window_extent()
        for ax in fig.axes:
            assert not legend.overlaps(ax.get_window_extent()), "the legend sits on a panel"
        colours = [tuple(bar.get_facecolor()) for bar in fig.axes[0].patches[::len(ev.top.per_task) or 1]]
        assert len(set(colours)) == len(colours)
    finally:
        plt.close(fig)
