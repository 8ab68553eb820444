"""Rendering of evaluation results: text tables for the terminal, an HTML report with PNG plots.

Nothing here computes a figure; it only formats what `suite`/`two_tier`/`pareto` returned.
matplotlib (the `report` extra) is imported only when a plot is drawn.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tiered.evaluation import pareto
from tiered.evaluation.pareto import Point
from tiered.evaluation.suite import Evaluation

MAX_ROWS_PER_POLICY = 6


def _mix(p: Point) -> str:
    return " ".join(f"{t[0]}{round(100 * v)}" for t, v in p.tier_mix.items() if t != "failed")


def point_row(p: Point) -> str:
    return (f"{p.policy:<28} {p.cost_ratio:>6.3f} {p.quality:>7.3f} {p.escalation_rate:>5.0%} "
            f"{p.latency_p50_ms:>7.0f} {p.latency_p95_ms:>7.0f}  {_mix(p)}")


HEADER = f"{'policy':<28} {'cost':>6} {'quality':>7} {'esc':>5} {'p50 ms':>7} {'p95 ms':>7}  tier mix %"


def representative(points: Sequence[Point], k: int = MAX_ROWS_PER_POLICY) -> list[Point]:
    """A few points of one policy's own frontier, spread over its cost range."""
    front = pareto.frontier(points)
    if len(front) <= k:
        return front
    step = (len(front) - 1) / (k - 1)
    return [front[round(i * step)] for i in range(k)]


def text_evaluation(ev: Evaluation) -> str:
    top = ev.top
    lines = [
        f"{ev.dataset} ({ev.split or 'all'}): {ev.n} prompts ({ev.dropped} dropped: a tier's model missing), "
        f"pricing {ev.pricing}; cost = ratio to always-{ev.tiers.names[-1]} (${top.cost_usd:.4f})",
        "tiers: " + ", ".join(f"{t}={m}" for t, m in ev.tiers.tiers.items()),
        "",
        HEADER,
        "-" * len(HEADER),
    ]
    for curve in ev.curves:
        lines.extend(point_row(p) for p in representative(list(curve.points)))
    lines += ["", "Pareto frontier (every policy but the oracle)", HEADER, "-" * len(HEADER)]
    lines.extend(point_row(p) for p in ev.frontier)
    lines += ["", cheapest_line(ev)]
    lines += ["", *text_vs_mix(ev)]
    for name, why in ev.skipped.items():
        lines.append(f"skipped {name}: {why}")
    return "\n".join(lines)


VS_MIX_HEADER = f"{'policy':<28} {'own tiers':<20} {'points':>6} {'mean':>7} {'best':>7} {'above':>6}"


def text_vs_mix(ev: Evaluation) -> list[str]:
    """Each policy's quality minus the random mix of its own tiers at equal cost, and a verdict when it loses."""
    rows = ev.vs_mix()
    lines = ["Against the random mix of its own tiers (quality minus the straight line between those tiers' "
             "always-points, at equal cost; below 0: a coin would do better)", VS_MIX_HEADER,
             "-" * len(VS_MIX_HEADER)]
    for v in rows:
        lines.append(f"{v.policy:<28} {'>'.join(v.tiers):<20} {v.points:>6} {v.mean:>+7.3f} {v.best:>+7.3f} "
                     f"{v.above:>6.0%}")
    for v in rows:
        if v.best <= 1e-9:  # its end points (always the cheapest, always the top tier) lie on the line
            lines.append(f"{v.policy}: below the random mix of {', '.join(v.tiers)} at every setting "
                         f"(mean {v.mean:+.3f}): it does not pay here; use a router or a fixed tier.")
    return lines


def cheapest_line(ev: Evaluation) -> str:
    """The one-line verdict the CLI and the HTML report share: the cheapest setting at >= 95% of the top tier."""
    target = 0.95 * ev.top.quality
    best = pareto.cheapest_reaching(ev.frontier, target)
    if best is None:
        return f"No policy (oracle aside) reaches 95% of always-{ev.tiers.names[-1]} quality ({target:.3f})."
    return (f"Cheapest at >= 95% of always-{ev.tiers.names[-1]} quality ({target:.3f}), oracle aside: "
            f"{best.policy} {dict(best.params)} at cost ratio {best.cost_ratio:.3f}, quality {best.quality:.3f}")


def policy_colours(n: int) -> list[tuple[float, float, float, float]]:
    """`n` distinct colours (tab20's dark shades first, then its light ones; past 20, a sampled rainbow)."""
    import matplotlib

    if n > 20:
        cmap = matplotlib.colormaps["gist_rainbow"]
        return [tuple(cmap(i / n)) for i in range(n)]  # type: ignore[misc]
    tab = matplotlib.colormaps["tab20"]
    order = [*range(0, 20, 2), *range(1, 20, 2)]
    return [tuple(tab(order[k])) for k in range(n)]


def text_two_tier(r: Mapping[str, Any]) -> str:
    def f(v: Any) -> str:
        return "n/a" if v is None else f"{v:.3f}"

    return "\n".join([
        f"{r['dataset']}: {r['n']} prompts ({r['dropped']} dropped), weak={r['weak']} strong={r['strong']}",
        f"router {r['router']}, cost {r['pricing']}",
        f"quality: weak {f(r['weak_quality'])}  strong {f(r['strong_quality'])}  oracle {f(r['oracle_quality'])}",
        f"APGR {f(r['apgr'])}  CPT(50%) {f(r['cpt50'])}  CPT(80%) {f(r['cpt80'])}",
        f"at 95% of strong quality: {f(r['share_strong_at_95'])} strong calls, cost ratio {f(r['cost_ratio_at_95'])}",
    ])


def plot_cost_quality(ev: Evaluation, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 5.5))
    colours = policy_colours(len(ev.curves))
    for k, curve in enumerate(ev.curves):
        colour = colours[k]
        style = "--" if "[" in curve.name else "-"
        pts = list(curve.points)
        if len(pts) == 1:
            ax.scatter([pts[0].cost_ratio], [pts[0].quality], s=45, zorder=3, label=curve.name, color=colour)
            continue
        ax.scatter([p.cost_ratio for p in pts], [p.quality for p in pts], s=6, alpha=0.2, color=colour)
        front = pareto.frontier(pts)
        ax.plot([p.cost_ratio for p in front], [p.quality for p in front], marker=".", lw=1.2, ls=style,
                label=curve.name, color=colour)
    front = ev.frontier
    ax.step([p.cost_ratio for p in front], [p.quality for p in front], where="post", color="black", lw=2,
            alpha=0.6, label="Pareto frontier")
    top = ev.top
    ax.axhline(0.95 * top.quality, color="grey", ls="--", lw=0.8, label=f"95% of always-{ev.tiers.names[-1]}")
    ax.axvline(0.5, color="grey", ls=":", lw=0.8)
    ax.set_xlabel(f"cost / always-{ev.tiers.names[-1]} cost ({ev.pricing} pricing)")
    ax.set_ylabel("mean quality")
    ax.set_title(f"{ev.dataset} ({ev.split or 'all'}, n={ev.n})")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def highlights(ev: Evaluation) -> list[Point]:
    """The points a per-task breakdown shows: each always-tier, and each family's cheapest point at 95%."""
    target = 0.95 * ev.top.quality
    out = list(ev.always.values())
    for curve in ev.curves:
        if curve.name.startswith("always-"):
            continue
        best = pareto.cheapest_reaching(curve.points, target) or max(curve.points, key=lambda p: p.quality)
        out.append(best)
    return out


def per_task_figure(ev: Evaluation) -> Any:
    """The per-task bars (quality, cost ratio) of `highlights(ev)`: one distinct colour per policy, the same in
    both panels, and the legend below the panels, where it covers no bar."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pts = highlights(ev)
    tasks = sorted({t for p in pts for t in p.per_task})
    top_task = ev.top.per_task
    rows = (len(pts) + 3) // 4
    fig, (aq, ac) = plt.subplots(1, 2, figsize=(11, 4.5 + 0.25 * rows))
    width = 0.8 / max(1, len(pts))
    colours = policy_colours(len(pts))
    for k, p in enumerate(pts):
        xs = [i + k * width for i in range(len(tasks))]
        aq.bar(xs, [p.per_task.get(t, {}).get("quality", 0.0) for t in tasks], width, label=p.policy,
               color=colours[k])
        ratios = [p.per_task.get(t, {}).get("cost_usd", 0.0) / (top_task.get(t, {}).get("cost_usd", 0.0) or 1.0)
                  for t in tasks]
        ac.bar(xs, ratios, width, color=colours[k])
    for ax, title in ((aq, "quality per task"), (ac, "cost ratio per task")):
        ax.set_xticks([i + 0.4 - width / 2 for i in range(len(tasks))])
        ax.set_xticklabels(tasks, rotation=30, ha="right", fontsize=8)
        ax.set_title(title)
        ax.grid(axis="y", alpha=0.3)
    handles, labels = aq.get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=7, loc="lower center", ncol=4, frameon=False)
    fig.tight_layout(rect=(0.0, 0.07 * rows, 1.0, 1.0))
    return fig


def plot_per_task(ev: Evaluation, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig = per_task_figure(ev)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _table(points: Sequence[Point]) -> str:
    head = "".join(f"<th>{h}</th>" for h in ("policy", "params", "cost ratio", "quality", "escalation",
                                               "p50 ms", "p95 ms", "tier mix"))
    rows = "".join(
        f"<tr><td>{html.escape(p.policy)}</td><td><code>{html.escape(str(dict(p.params)))}</code></td>"
        f"<td>{p.cost_ratio:.3f}</td><td>{p.quality:.3f}</td><td>{p.escalation_rate:.1%}</td>"
        f"<td>{p.latency_p50_ms:.0f}</td><td>{p.latency_p95_ms:.0f}</td><td>{html.escape(_mix(p))}</td></tr>"
        for p in points)
    return f"<table><tr>{head}</tr>{rows}</table>"


def write_html(evaluations: Sequence[Evaluation], out_dir: str | Path) -> Path:
    """index.html with, per dataset, the cost/quality plot, the per-task plot and the tables."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    parts = ["<!doctype html><meta charset='utf-8'><title>tiered eval</title>",
             "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}td,th{padding:2px 8px;"
             "border-bottom:1px solid #ddd;font-size:13px}table{border-collapse:collapse}</style>",
             "<h1>tiered eval</h1>"]
    for k, ev in enumerate(evaluations):
        cq = plot_cost_quality(ev, out / f"cost_quality_{k}.png")
        pt = plot_per_task(ev, out / f"per_task_{k}.png")
        parts += [
            f"<h2>{html.escape(ev.dataset)} ({html.escape(ev.split or 'all')}, n={ev.n}, pricing {ev.pricing})</h2>",
            "<p>" + html.escape(", ".join(f"{t} = {m}" for t, m in ev.tiers.tiers.items())) + "</p>",
            f"<img src='{cq.name}' alt='cost vs quality'><img src='{pt.name}' alt='per task' width='1000'>",
            "<h3>Pareto frontier</h3>", _table(ev.frontier),
            "<h3>Each policy (points of its own frontier)</h3>",
            _table([p for c in ev.curves for p in representative(list(c.points))]),
            f"<p><b>{html.escape(cheapest_line(ev))}</b></p>",
            "<h3>Per task</h3>",
            f"<p>Quality per task at each policy's operating point: its cheapest setting that reaches 95% of "
            f"always-{html.escape(ev.tiers.names[-1])} quality overall (else, marked, its best-quality setting); "
            "the always-tiers as they are. The setting is in the second column.</p>",
            _task_table(highlights(ev), 0.95 * ev.top.quality),
        ]
        if ev.skipped:
            parts.append("<p>Skipped: " + html.escape("; ".join(f"{n}: {w}" for n, w in ev.skipped.items())) + "</p>")
    index = out / "index.html"
    index.write_text("\n".join(parts), "utf-8")
    return index


def _task_table(points: Sequence[Point], target: float) -> str:
    tasks = sorted({t for p in points for t in p.per_task})
    head = ("<tr><th>policy</th><th>operating point</th><th>cost ratio</th><th>quality</th>"
            + "".join(f"<th>{html.escape(t)}</th>" for t in tasks) + "</tr>")

    def point(p: Point) -> str:
        setting = html.escape(str(dict(p.params))) if p.params else "-"
        short = "" if p.quality >= target or p.policy.startswith("always-") else " (best quality; below 95%)"
        return f"<code>{setting}</code>{short}"

    rows = "".join(
        f"<tr><td>{html.escape(p.policy)}</td><td>{point(p)}</td><td>{p.cost_ratio:.3f}</td><td>{p.quality:.3f}</td>"
        + "".join(f"<td>{p.per_task.get(t, {}).get('quality', float('nan')):.3f}</td>" for t in tasks) + "</tr>"
        for p in points)
    return f"<table>{head}{rows}</table>"
