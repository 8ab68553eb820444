"""`tiered route "PROMPT"`: one request through a configured route, with its decision trail.

For trying a config before serving it: it shows which tier the policy chose and why, every attempt
with tokens, exact cost and latency, and the answer; `--json` prints the request's record as one
JSON object (plus `answer`). With no key in the environment the built-in default runs offline on
the packaged replay sample, and a prompt the sample lacks gets the nearest recorded prompt's answer,
marked as such. The record also goes to the configured sinks, so `tiered stats` counts it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from typing import Any

import click

from tiered.config import BACKENDS, Config, load_config, parse_config_text
from tiered.errors import TieredError
from tiered.pricing import format_usd
from tiered.records import Record
from tiered.routes import DEFAULT_CONFIG, Routes
from tiered.runtime.driver import Run
from tiered.telemetry.rows import record_to_json
from tiered.types import Request, Response


def answer_source(response: Response | None, config: Config) -> str | None:
    """Where the answer came from, so an offline stand-in is never taken for a model's reply."""
    if response is None:
        return None
    if response.id.startswith("replay-nearest_"):
        return f"replay: nearest recorded prompt ({response.id.removeprefix('replay-nearest_')})"
    if response.id.startswith("replay_"):
        return f"replay: recorded answer ({response.id.removeprefix('replay_')})"
    return config.backend.kind if config.backend.kind != "auto" else "api"


def _config(path: str | None, backend: str | None, base_url: str | None, db: str | None) -> Config:
    config = load_config(path) if path else parse_config_text(DEFAULT_CONFIG, source="<built-in default>")
    if backend or base_url:
        kind: Any = backend or config.backend.kind
        config = dataclasses.replace(config, backend=dataclasses.replace(
            config.backend, kind=kind, base_url=base_url or config.backend.base_url))
    if db:  # an explicit log file is written even when the config logs elsewhere
        t = config.telemetry
        sinks = t.sinks if "sqlite" in t.sinks else ("sqlite", *t.sinks)
        config = dataclasses.replace(config, telemetry=dataclasses.replace(t, sqlite_path=db, sinks=sinks))
    return config


async def _run(config: Config, request: Request, route: str | None) -> tuple[Run, float | None]:
    routes = Routes(config)
    try:
        routes.models.warm()  # one-time set-up is not the request's latency (`tiered stats` p50)
        run = await routes.run(request, route)
        return run, replay_label(routes, run, request)
    finally:
        await routes.aclose()


def replay_label(routes: Routes, run: Run, request: Request) -> float | None:
    """An automatic quality label: on an exact replay hit, the dataset's recorded score for that answer.

    It goes to every sink that takes labels (source "replay"), so `tiered stats` shows quality for
    offline runs; a nearest-prompt answer gets none (its score belongs to another prompt).
    """
    from tiered.models.replay import ReplayModel
    from tiered.telemetry.quality import QualityStore

    if run.response is None or not run.response.id.startswith("replay_") or run.record.model is None:
        return None
    model = routes.models.resolve(run.record.model)
    if not isinstance(model, ReplayModel):
        return None
    item = model.book.find(request.last_user_text)
    outcome = item.outcomes.get(model.dataset_model) if item is not None else None
    if outcome is None:
        return None
    for sink in routes.sinks:
        if isinstance(sink, QualityStore):
            sink.record_quality(run.record.trace_id, outcome.quality, source="replay")
    return outcome.quality


def trail(record: Record) -> list[str]:
    """The human-readable decision trail: the decision, then one line per attempt."""
    d = record.decision
    scores = ", ".join(f"{k}={v:g}" for k, v in d.scores.items())
    policy = record.policy if len(record.policy) <= 160 else record.policy[:157] + "..."  # --json has it whole
    lines = [f"route {record.route}: {policy}",
             f"decision: {d.tier or '-'}: {d.reason}" + (f"  [{scores}]" if scores else "")]
    for i, a in enumerate(record.attempts, 1):
        tokens = f"{a.input_tokens} in / {a.output_tokens} out"
        if a.cache_read_input_tokens or a.cache_creation_input_tokens:
            tokens += f" (cache read {a.cache_read_input_tokens}, write {a.cache_creation_input_tokens})"
        ttft = f", ttft {a.ttft_ms:.0f} ms" if a.ttft_ms is not None else ""
        lines.append(f"  {i}. {a.model} [{a.tier or '-'}] {a.purpose}: {a.outcome}; {tokens}; "
                     f"${format_usd(a.cost_usd)}; {a.latency_ms:.0f} ms{ttft}; {a.reason}")
    flags = [f for f, on in (("escalated", record.escalated), ("fell back", record.fell_back),
                             ("DEGRADED", record.degraded)) if on]
    lines.append(f"total ${format_usd(record.cost_usd)}, {record.latency_ms:.0f} ms, served by "
                 f"{record.model or 'nothing'} ({record.outcome})" + (f"; {', '.join(flags)}" if flags else "")
                 + f"; trace {record.trace_id}")
    return lines


@click.command()
@click.argument("prompt")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False), default=None,
              help="A tiered.toml (default: the built-in route on the offline replay backend).")
@click.option("--route", default=None, help="The route to use (default: the config's default_route).")
@click.option("--task", default=None, help="The task type, for task-mapped routes (e.g. commit-message).")
@click.option("--backend", type=click.Choice(BACKENDS), default=None, help="Override [backend] kind.")
@click.option("--base-url", default=None, help="Override [backend] base_url (an emulator's address).")
@click.option("--db", type=click.Path(dir_okay=False), default=None, help="SQLite log (default: $TIERED_DB).")
@click.option("--max-tokens", type=click.IntRange(1), default=1024, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the request's record (and answer) as one JSON object.")
def route(prompt: str, config_path: str | None, route: str | None, task: str | None, backend: str | None,
          base_url: str | None, db: str | None, max_tokens: int, as_json: bool) -> None:
    """Send PROMPT through a route and print the decision trail and the answer."""
    try:
        config = _config(config_path, backend, base_url, db)
        run, label = asyncio.run(_run(config, Request.user(prompt, max_tokens=max_tokens, task=task), route))
    except TieredError as e:
        raise click.ClickException(str(e)) from e
    source = answer_source(run.response, config)
    if as_json:
        data = record_to_json(run.record)
        data["answer"] = run.response.text if run.response is not None else None
        data["answer_source"] = source
        if label is not None:
            data["quality"] = label  # as the log now reads: the replay label is attached
        data["error"] = None if run.error is None else f"{run.error.error_type}: {run.error.message}"
        click.echo(json.dumps(data, indent=2))
    else:
        for line in trail(run.record):
            click.echo(line)
        if label is not None:
            click.echo(f"quality {label:g} (the dataset's recorded score for this answer; labelled in the log)")
        if run.response is not None:
            click.echo(f"\nanswer ({source}):")
            click.echo(run.response.text)
    if run.response is None:
        err = run.error
        raise click.ClickException(f"no answer: {err.error_type}: {err.message}" if err else "no answer")
