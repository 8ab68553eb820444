"""`tiered label TRACE_ID SCORE`: attach a quality label to a logged request, from the shell.

For a human reviewing answers (or a script running a judge): the label is appended to the log's
`quality` table, the latest label of a request wins, and `tiered stats` averages them per route.
"""

from __future__ import annotations

import click

from tiered.errors import TieredError
from tiered.telemetry.quality import record_quality


@click.command()
@click.argument("trace_id")
@click.argument("score", type=float)
@click.option("--db", type=click.Path(dir_okay=False), default=None, help="SQLite log (default: $TIERED_DB).")
@click.option("--source", default="human", show_default=True, help="Who gave the label (human, judge, ...).")
def label(trace_id: str, score: float, db: str | None, source: str) -> None:
    """Label request TRACE_ID with SCORE in [0, 1] (1 = a good answer)."""
    try:
        record_quality(trace_id, score, db, source=source)
    except (TieredError, ValueError) as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"labelled {trace_id}: {score:g} ({source})")
