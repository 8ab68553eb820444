"""`tiered serve`: the gateway (see tiered.gateway). Works offline with no key (replay backend)."""

from __future__ import annotations

import logging

import click

from tiered.errors import TieredError


@click.command()
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False), default=None,
              help="tiered TOML: routes, backend, telemetry, [gateway] and [state]. Default: the built-in route.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True, help="Port to listen on.")
@click.option("--backend", type=click.Choice(["auto", "replay", "emulator", "anthropic"]), default=None,
              help="Where calls go (overrides [backend] kind). auto: the API when ANTHROPIC_API_KEY is set, "
                   "else offline replay.")
@click.option("--upstream", default=None, metavar="URL",
              help="Base URL of the upstream (no /v1), e.g. a `tiered emulator` for --backend emulator.")
@click.option("--workers", type=int, default=1, show_default=True,
              help="Worker processes (share limits and breakers through [state] redis).")
@click.option("--local-limits", "local_limits", is_flag=True, default=False,
              help="With --workers N > 1 and no [state] redis: accept limits, budgets and breakers kept per "
                   "worker (each worker allows the full rate and budget).")
def serve(config_path: str | None, host: str, port: int, backend: str | None, upstream: str | None,
          workers: int, local_limits: bool) -> None:
    """Serve the Anthropic Messages API (and OpenAI chat completions) in front of tiered's routes.

    Point a client at it with ANTHROPIC_BASE_URL=http://HOST:PORT; the `model` it sends picks a route
    (tiered/NAME, claude-tiered-NAME or auto) or a catalog model (wrapped in the fallback chain).
    """
    from tiered.gateway.server import serve as run

    # tiered's own messages at INFO; libraries (httpx2 logs every upstream call at INFO) at WARNING.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("tiered").setLevel(logging.INFO)
    try:
        run(config_path, host=host, port=port, backend=backend, upstream=upstream, workers=workers,
            local_limits=local_limits)
    except TieredError as e:
        raise click.ClickException(str(e)) from e
