"""`tiered eval`: replay routing policies over recorded outcomes and report cost against quality.

Three tiers (`--tiers haiku=M,sonnet=M,opus=M`): every policy family, swept, with its Pareto frontier.
Two tiers (`--weak M --strong M`): RouteLLM's figures for one router (APGR, CPT, cost at 95%).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import click

from tiered.errors import TieredError

POLICY_NAMES = ("always", "random", "oracle", "taskmap", "router", "router-heuristic", "router-length",
                "taskmap+router", "router-per-task", "cascade")


@contextmanager
def progress_bar(enabled: bool, label: str,
                 phases: tuple[str, ...] = ()) -> Iterator[Callable[[int], Callable[[int], None]] | None]:
    """A factory `total -> advance(n)` drawing a bar on stderr, or None when disabled. Each call starts a new
    bar (the previous one is finished first), labelled `label: phase` from `phases` in order."""
    if not enabled:
        yield None
        return
    calls = 0
    with ExitStack() as outer:
        current: list[ExitStack] = []

        def factory(total: int) -> Callable[[int], None]:
            nonlocal calls
            if current:
                current.pop().close()
            phase = phases[min(calls, len(phases) - 1)] if phases else ""
            calls += 1
            stack = outer.enter_context(ExitStack())
            current.append(stack)
            bar = stack.enter_context(click.progressbar(length=total, label=f"{label}: {phase}" if phase else label,
                                                        file=sys.stderr))
            return bar.update

        yield factory


@click.command("eval")
@click.argument("datasets", nargs=-1, required=True)
@click.option("--tiers", "tiers_spec", help="Three-tier mode: TIER=MODEL,... cheapest first "
              "(haiku=mistralai/mistral-7b-chat,sonnet=gpt-3.5-turbo-1106,opus=gpt-4-1106-preview).")
@click.option("--weak", help="Two-tier mode: the weak model.")
@click.option("--strong", help="Two-tier mode: the strong model.")
@click.option("--policy", "policies", multiple=True, type=click.Choice(POLICY_NAMES),
              help="Policy families to replay (repeatable; default: all).")
@click.option("--router", "router", default=None,
              help="Scorer: heuristic | length | random | a `tiered train` file (default: the shipped router).")
@click.option("--pricing", type=click.Choice(["claude", "dataset"]), default=None,
              help="claude: tokens at the tier's Claude price (three-tier default); dataset: the dataset's own "
                   "cost. Two-tier default: weak:strong = 1:5 per request.")
@click.option("--split", type=click.Choice(["train", "test", "all"]), default=None, help="Only this split.")
@click.option("--steps", type=int, default=20, show_default=True, help="Threshold grid: quantile steps.")
@click.option("--adapt", "adapt_spec", default=None, metavar="K,K,...",
              help="Learning curve: for each K, reveal K random prompts' labels, learn from the prior, measure on "
                   "the rest (JSON key `adapt`).")
@click.option("--repeats", default=5, show_default=True, type=click.IntRange(1), help="--adapt: draws per K.")
@click.option("--prior", "prior_path", default=None, type=click.Path(dir_okay=False, exists=True),
              help="--adapt: the router to learn from (default: the shipped one).")
@click.option("--no-task", "no_task", is_flag=True, help="--adapt: ignore declared tasks (prompt clusters only).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--report", "report_dir", type=click.Path(file_okay=False), help="Write an HTML report here.")
@click.option("--progress/--no-progress", "progress", default=None,
              help="Progress bars on stderr (default: when stderr is a terminal and --json is not given).")
def eval_(datasets: tuple[str, ...], tiers_spec: str | None, weak: str | None, strong: str | None,
          policies: tuple[str, ...], router: str | None, pricing: str | None, split: str | None, steps: int,
          adapt_spec: str | None, repeats: int, prior_path: str | None, no_task: bool, as_json: bool,
          report_dir: str | None, progress: bool | None) -> None:
    """Replay routing policies over DATASET(s) and report cost against quality."""
    from tiered.datasets import load_dataset
    from tiered.learning.adapt import parse_ks

    try:
        ks = parse_ks(adapt_spec) if adapt_spec is not None else None
    except ValueError as e:
        raise click.UsageError(str(e)) from e

    if bool(tiers_spec) == bool(weak or strong):
        raise click.UsageError("give either --tiers (three tiers) or --weak and --strong (two tiers)")
    if (weak is None) != (strong is None):
        raise click.UsageError("--weak and --strong go together")
    show_bar = progress if progress is not None else not as_json and sys.stderr.isatty()
    results: list[dict[str, Any]] = []
    evaluations = []
    try:
        for spec in datasets:
            dataset = load_dataset(spec)
            if weak is not None and strong is not None:
                results.append(_two_tier(dataset, weak, strong, router, pricing, split, show_bar, as_json))
                if ks is not None:
                    results[-1]["adapt"] = _adapt(dataset, split, weak, strong, ks, repeats, prior_path, no_task,
                                                  as_json)
                continue
            assert tiers_spec is not None
            ev = _three_tier(dataset, tiers_spec, policies, router, pricing or "claude", split, steps, show_bar)
            evaluations.append(ev)
            results.append(ev.to_json())
            if not as_json:
                from tiered.evaluation.report import text_evaluation

                click.echo(text_evaluation(ev))
            if ks is not None:
                from tiered.evaluation.replay import TierMap

                models = TierMap.parse(tiers_spec).models
                results[-1]["adapt"] = _adapt(dataset, split, models[0], models[-1], ks, repeats, prior_path,
                                              no_task, as_json)
        if report_dir and evaluations:
            from tiered.evaluation.report import write_html

            index = write_html(evaluations, report_dir)
            click.echo(f"report: {index}", err=True)
    except (TieredError, ValueError) as e:
        raise click.ClickException(str(e)) from e
    if as_json:
        click.echo(json.dumps(results[0] if len(results) == 1 else {"datasets": results}))


def _two_tier(dataset: Any, weak: str, strong: str, router: str | None, pricing: str | None, split: str | None,
              show_bar: bool, as_json: bool) -> dict[str, Any]:
    from tiered.evaluation.scorers import resolve_scorer
    from tiered.evaluation.two_tier import two_tier

    part, note = dataset.select(split)
    if note:
        click.echo(f"note: {note}", err=True)
    with progress_bar(show_bar, "scoring") as factory:
        result = two_tier(part, weak, strong, resolve_scorer(router), pricing=pricing,
                          progress=factory(len(part)) if factory else None, name=router or "default (shipped)")
    result["split"] = split
    if not as_json:
        from tiered.evaluation.report import text_two_tier

        click.echo(text_two_tier(result))
    return result


def _three_tier(dataset: Any, tiers_spec: str, policies: tuple[str, ...], router: str | None, pricing: str,
                split: str | None, steps: int, show_bar: bool) -> Any:
    from tiered.evaluation.replay import TierMap
    from tiered.evaluation.scorers import resolve_scorer
    from tiered.evaluation.suite import DEFAULT_POLICIES, evaluate

    tiers = TierMap.parse(tiers_spec)
    part, note = dataset.select(split)
    if note:
        click.echo(f"note: {note}", err=True)
        dataset, split = part, None
    scorers = {"default": resolve_scorer(router)} if router else None
    with progress_bar(show_bar, dataset.name, ("preparing policies (scoring, fitting)", "replaying")) as factory:
        return evaluate(dataset, tiers, pricing=pricing, split=split, policies=policies or DEFAULT_POLICIES,
                        steps=steps, progress_factory=factory, scorers=scorers)


def _adapt(dataset: Any, split: str | None, weak: str, strong: str, ks: list[int], repeats: int,
           prior_path: str | None, no_task: bool, as_json: bool) -> list[dict[str, Any]]:
    """The learning curve (tiered.learning.adapt) of `weak` -> `strong` (with --tiers: cheapest -> strongest)."""
    from tiered.learning.adapt import learning_curve
    from tiered.learning.examples import examples_from_items
    from tiered.learning.router import AdaptedRouter
    from tiered.scoring.learned import LearnedScorer, load_router

    part, _ = dataset.select(split)
    prior = load_router(prior_path)
    if not isinstance(prior, LearnedScorer | AdaptedRouter):
        raise click.ClickException("--prior: not a router file")
    curve = learning_curve(prior, examples_from_items(part, [weak, strong]), weak, strong, ks, repeats=repeats,
                           use_tasks=not no_task)
    if not as_json:
        click.echo(f"learning curve {weak} -> {strong} ({'clusters only' if no_task else 'tasks + clusters'}, "
                   f"{repeats} draws per K; the prior on the same held-out prompts):")
        for row in curve:
            click.echo(f"  K={row['k']:>6}  APGR {row['apgr']:.3f} ± {row['apgr_sd']:.3f}  (prior "
                       f"{row['prior_apgr']:.3f})  CPT(50%) {row['cpt50']:.1%}  "
                       f"cost at 95% {row['cost_ratio_at_95']:.3f}")
    return curve
