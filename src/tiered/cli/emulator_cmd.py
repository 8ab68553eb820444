"""`tiered emulator`: serve the local Anthropic API emulator on 127.0.0.1 (see tiered.emulator)."""

from __future__ import annotations

import click

from tiered.errors import TieredError


@click.command()
@click.option("--port", type=click.IntRange(1, 65535), required=True, help="Port to listen on (127.0.0.1).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Emulator TOML: seed, error rates, latency, replay (see tiered.emulator.config).")
@click.option("--seed", type=int, default=None, help="Seed of the injected faults (overrides the config).")
@click.option("--dataset", default=None,
              help="Replay answers from this outcome dataset (name or path), e.g. routerbench3.")
@click.option("--map", "mappings", multiple=True, metavar="MODEL=DATASET_MODEL",
              help="With --dataset: which dataset model an emulated model answers as (repeatable). "
                   "Default: tiered.models.replay's tier defaults (mistral-7b / gpt-3.5 / gpt-4 on routerbench3).")
def emulator(
    port: int, host: str, config_path: str | None, seed: int | None, dataset: str | None, mappings: tuple[str, ...]
) -> None:
    """Serve the Anthropic Messages API locally, with deterministic answers and seeded faults."""
    from tiered.emulator.config import EmulatorConfig, ReplayConfig
    from tiered.emulator.server import serve

    try:
        config = EmulatorConfig.load(config_path) if config_path else EmulatorConfig()
        if seed is not None:
            config = config.with_seed(seed)
        if dataset is not None:
            pairs = dict(_pair(m) for m in mappings)
            config = config.with_replay(ReplayConfig(dataset=dataset, models=pairs))
        elif mappings:
            raise click.UsageError("--map needs --dataset")
        click.echo(f"tiered emulator on http://{host}:{port} (seed {config.seed}); Ctrl-C to stop", err=True)
        serve(config, host=host, port=port)
    except TieredError as e:
        raise click.ClickException(str(e)) from e


def _pair(text: str) -> tuple[str, str]:
    model, sep, recorded = text.partition("=")
    if not sep or not model or not recorded:
        raise click.BadParameter(f"expected MODEL=DATASET_MODEL, got {text!r}", param_hint="--map")
    return model, recorded
