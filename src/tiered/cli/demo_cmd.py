"""`tiered demo`: what routing saves on a real workload, with no key and no network.

Part 1 replays routerbench3's test split (the shared data, else the sample packaged with tiered) as a
Claude workload through the replay driver: always-haiku / sonnet / opus and the routing policies, at
operating points tuned on the train split. Part 2 runs each of the five patterns once through the
real async driver against tiered's emulator on 127.0.0.1 (Opus injected with 529s for the fallback).
"""

from __future__ import annotations

import json
import time
from typing import Any

import click


def _mix(tier_mix: dict[str, float]) -> str:
    return " ".join(f"{t} {round(100 * v)}%" for t, v in tier_mix.items() if v and t != "failed")


@click.command("demo")
@click.option("--patterns/--no-patterns", default=True, help="Also run the five patterns against the emulator.")
@click.option("--loop/--no-loop", default=True, help="Also show the learning loop: savings as labels arrive.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as one JSON object.")
def demo(patterns: bool, loop: bool, as_json: bool) -> None:
    """Replay a real workload under every policy and print cost, quality and latency (offline)."""
    from tiered.evaluation.demo import DEFAULT_TIERS, run_demo
    from tiered.evaluation.headline import headline, over_top

    started = time.perf_counter()
    result = run_demo()
    runs = []
    cache_line = ""
    if patterns:
        from tiered.evaluation.agentic import agentic_workload
        from tiered.evaluation.cache_routing import compare_cache_routing, saving_line
        from tiered.evaluation.patterns import run_patterns

        runs = run_patterns()
        cache_line = saving_line(compare_cache_routing(agentic_workload(6, gap_s=(60.0, 240.0)),
                                                       only=("cache-blind router", "cache-aware router")))
    learning = []
    if loop:
        from tiered.datasets import load_dataset
        from tiered.evaluation.demo_loop import run_loop

        learning = run_loop(load_dataset("routerbench3"), dict(DEFAULT_TIERS))
    if as_json:
        click.echo(json.dumps({
            "dataset": result.dataset, "n": result.n, "tuned_on": result.tuned_on, "tiers": DEFAULT_TIERS,
            "policies": [p.to_json() for p in result.points],
            "frontier": [p.to_json() for p in result.frontier],
            "patterns": [r.__dict__ | {"calls": list(r.calls)} for r in runs], "notes": list(result.notes),
            "headline": headline(result.points), "over_top": over_top(result.points),
            "learning": [p.to_json() for p in learning],
            "prompt_cache": cache_line,
        }))
        return
    top = next(p for p in result.points if p.policy == "always-opus")
    click.echo(f"tiered demo: {result.n} real prompts (routerbench3 test split: ARC, Winogrande, MBPP), no key, "
               "no network.")
    click.echo("Recorded answers of " + ", ".join(f"{m} as {t}" for t, m in DEFAULT_TIERS.items())
               + "; tokens priced at Claude prices.")
    click.echo(f"Routers and cascade tuned on {result.tuned_on} for 95% of always-opus quality; "
               "shown on the test split.\n")
    header = f"{'policy':<16} {'cost $':>8} {'vs opus':>8} {'quality':>8} {'p50 ms':>7} {'p95 ms':>7}  tier mix"
    click.echo(header)
    click.echo("-" * len(header))
    for p in result.points:
        click.echo(f"{p.policy:<16} {p.cost_usd:>8.4f} {p.cost_ratio:>8.1%} {p.quality:>8.3f} "
                   f"{p.latency_p50_ms:>7.0f} {p.latency_p95_ms:>7.0f}  {_mix(dict(p.tier_mix))}")
    lat = result.latency
    click.echo("\n" + headline(result.points))
    for line in over_top(result.points):
        click.echo(f"Why {line}")
    click.echo("\nLatency is modelled, not measured: per call, time to first token ("
               + ", ".join(f"{t} {v:.0f} ms" for t, v in lat.ttft_ms.items()) + ") + time per output token ("
               + ", ".join(f"{t} {v:g} ms" for t, v in lat.tpot_ms.items()) + "), summed over a request's calls.")
    click.echo("\nPareto frontier (no policy is both cheaper and better than these):")
    for p in result.frontier:
        click.echo(f"  {p.policy:<16} cost {p.cost_ratio:>6.1%} of always-opus, quality {p.quality:.3f} "
                   f"({p.quality / top.quality:.1%} of always-opus)")
    click.echo(f"\nOperating points (tuned on {result.tuned_on}):")
    for p in result.points:
        if p.params:
            click.echo(f"  {p.policy}: {json.dumps(dict(p.params))}")
    for note in result.notes:
        click.echo(f"note: {note}")
    if runs:
        click.echo("\nThe five patterns, once each, through the async driver against the local emulator "
                   "(invented answers; Opus set to answer 529):")
        for r in runs:
            click.echo(f"  {r.pattern:<28} calls {' -> '.join(r.calls)}")
            click.echo(f"  {'':<28} served by {r.served_by}: {r.reason}; ${r.cost_usd:.6f}, {r.wall_ms:.0f} ms")
    if learning:
        _loop_screen(learning)
    if cache_line:
        click.echo(f"\n{cache_line} (6 agent conversations, turns 1-4 minutes apart, against the emulator's "
                   "prompt cache; bench/prompt_cache.py measures more)")
    click.echo(f"\n(done in {time.perf_counter() - started:.1f} s)")


def _loop_screen(points: list[Any]) -> None:
    """The learning loop in one screen: what labels from the traffic buy (see tiered.evaluation.demo_loop)."""
    click.echo("\nThe learning loop (haiku -> opus): the router learns this traffic as labels arrive, from the "
               "shipped router as prior;\neach K is measured on the other prompts (the code of `tiered eval "
               "--adapt` and of `tiered learn`).")
    click.echo(f"  {'labels':>7} {'APGR':>7} {'prior':>7} {'saving at 95% of opus quality':>30} "
               f"{'judge cost of the labels':>25}")
    for p in points:
        click.echo(f"  {p.k:>7,} {p.apgr:>7.3f} {p.prior_apgr:>7.3f} {p.saving_at_95:>30.1%} "
                   f"{'$' + format(float(p.labels_cost_usd), ',.2f'):>25}")
    click.echo("  (the shipped prior was trained on this very dataset, so it has little left to learn here; on "
               "traffic it has never\n  seen the gain is larger: bench/learning_curve.py; switch it on: "
               "docs/learning.md)")
