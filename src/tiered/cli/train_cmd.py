"""`tiered train DATASET... --out FILE`: fit the learned local scorer on outcome datasets.

Needs the `train` extra (scikit-learn); the file it writes is read back by `LearnedScorer.load` and by
`tiered eval --router FILE` with nothing but the core install.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import click

from tiered.errors import TieredError


@click.command()
@click.argument("datasets", nargs=-1)
@click.option("--from-log", "from_log", default=None, metavar="DB_OR_URL",
              help="Learn from the labelled rows of a request log (a SQLite path or a PostgreSQL DSN) instead.")
@click.option("--route", default=None, help="--from-log: only this route's requests.")
@click.option("--since", default=None, type=float, help="--from-log: only requests from this unix time on.")
@click.option("--weak", default="haiku", show_default=True, help="--from-log: the cheap tier (or model id).")
@click.option("--strong", default="opus", show_default=True, help="--from-log: the strong tier (or model id).")
@click.option("--prior", "prior_path", default=None, type=click.Path(dir_okay=False, exists=True),
              help="--from-log: the router to start from (default: the shipped one).")
@click.option("--holdout", default=0.2, show_default=True, type=click.FloatRange(0.05, 0.5),
              help="--from-log: share of the labelled rows kept out of the fit to verify it.")
@click.option("--no-task", "no_task", is_flag=True, help="--from-log: ignore declared tasks (prompt clusters only).")
@click.option("--schema", default="tiered", show_default=True, help="--from-log: the PostgreSQL schema.")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False),
              help="Where to write the scorer (JSON; gzip'd when the name ends in .gz).")
@click.option("--target", default=None, type=click.Choice(["difficulty", "gain", "empirical_gain", "blend"]),
              help="What to predict per prompt (default: the shipped recipe's; see tiered.training.targets).")
@click.option("--split", default="all", show_default=True,
              help="Train only on the items of this split (train/test) of each dataset; 'all' keeps every item.")
@click.option("--alpha", default=None, type=float, help="Ridge penalty (default: the shipped recipe's).")
@click.option("--max-tokens", default=None, type=int, help="Token weights kept per view.")
def train(datasets: tuple[str, ...], from_log: str | None, route: str | None, since: float | None, weak: str,
          strong: str, prior_path: str | None, holdout: float, no_task: bool, schema: str, out: str,
          target: str | None, split: str, alpha: float | None, max_tokens: int | None) -> None:
    """Train the local router on DATASETS (names under ../shared/data, folders or .jsonl files), or learn one
    from a request log's labelled traffic with --from-log."""
    if bool(datasets) == bool(from_log):
        raise click.UsageError("give either DATASETS or --from-log DB_OR_URL")
    if from_log:
        from tiered.cli.learn_cmd import train_from_log

        train_from_log(from_log, out=out, route=route, since=since, weak=weak, strong=strong,
                       prior_path=prior_path, holdout=holdout, use_tasks=not no_task, schema=schema)
        return
    from tiered.datasets import load_dataset
    from tiered.training.fit import RECIPE
    from tiered.training.fit import train as fit_scorer

    folder = Path(out).expanduser().resolve().parent
    if not folder.is_dir():
        raise click.BadParameter(f"cannot write {out}: the folder {folder} does not exist", param_hint="--out")
    try:
        loaded = [load_dataset(d).split(split) for d in datasets]
    except TieredError as e:
        raise click.ClickException(str(e)) from e
    for ds in loaded:
        if len(ds) < 10 or len(ds.model_names) < 3:
            raise click.ClickException(f"dataset {ds.name}: need >= 10 prompts and >= 3 models for item targets, "
                                       f"got {len(ds)} prompts and {len(ds.model_names)} models")
    config = RECIPE
    if target is not None:
        config = replace(config, target=target)
    if alpha is not None:
        config = replace(config, alpha=alpha)
    if max_tokens is not None:
        config = replace(config, max_tokens=max_tokens)
    started = time.perf_counter()
    try:
        scorer = fit_scorer(loaded, config, meta={"datasets": [d.name for d in loaded], "split": split})
    except ValueError as e:
        raise click.ClickException(str(e)) from e
    try:
        scorer.save(out)
    except OSError as e:
        raise click.ClickException(f"cannot write the scorer to {out}: {e.strerror or e}") from e
    tokens = sum(len(v) for v in scorer.views.values())
    click.echo(f"trained on {sum(len(d) for d in loaded)} prompts from {', '.join(d.name for d in loaded)} "
               f"in {time.perf_counter() - started:.1f} s; {tokens} token weights -> {out}")
