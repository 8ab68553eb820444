"""`tiered train --from-log`: learn a router from a request log's labelled traffic, verify it, write it.

The labelled rows are split (seeded) into a fitting part and a held-out part; `tiered.learning.learn` fits on
the first from the prior (every logged prompt, labelled or not, is the traffic its clusters come from), and
`tiered.learning.verify` measures both the new router and the prior on the held-out rows. The file carries the
metadata (`tiered.learning.router.METADATA_KEYS`), the held-out figures included.
"""

from __future__ import annotations

from dataclasses import replace

import click
import numpy as np

from tiered.errors import TieredError


def train_from_log(db_or_dsn: str, *, out: str, route: str | None, since: float | None, weak: str, strong: str,
                   prior_path: str | None, holdout: float, use_tasks: bool, schema: str = "tiered",
                   seed: int = 0) -> None:
    from tiered.learning.learn import DEFAULT_CONFIG, learn
    from tiered.learning.router import AdaptedRouter
    from tiered.learning.store import examples_from_log, prompts_from_log
    from tiered.learning.verify import verify
    from tiered.scoring.learned import LearnedScorer, load_router

    try:
        examples = examples_from_log(db_or_dsn, route, since, schema=schema)
        prompts = prompts_from_log(db_or_dsn, route, since, schema=schema)
        prior = load_router(prior_path)
    except (TieredError, OSError) as e:
        raise click.ClickException(str(e)) from e
    except Exception as e:  # a database driver's error: a message, not a traceback
        raise click.ClickException(f"cannot read the request log: {e}") from e
    if not isinstance(prior, LearnedScorer | AdaptedRouter):
        raise click.ClickException("--prior: not a router file")
    usable = [e for e in examples if e.gain(weak, strong) is not None]
    if len(usable) < 10:
        raise click.ClickException(f"{len(usable)} labelled rows know {weak!r}'s outcome (of {len(examples)} "
                                   f"labelled); learning needs at least 10")
    order = np.random.default_rng(seed).permutation(len(usable))
    n_out = max(1, round(holdout * len(usable)))
    held_out = [usable[i] for i in sorted(order[:n_out])]
    fitted_on = [usable[i] for i in sorted(order[n_out:])]
    router = learn(prior, fitted_on, prompts, weak, strong, route=route,
                   config=replace(DEFAULT_CONFIG, use_tasks=use_tasks))
    check = verify(router, held_out)
    before = verify(prior, held_out, weak=weak, strong=strong)
    router = router.with_metadata(heldout=check.to_json())
    router.save(out)
    click.echo(f"learned from {len(fitted_on)} labelled rows ({len(prompts)} logged prompts) from the prior; "
               f"verified on {check.n} held-out rows with both {weak} and {strong} outcomes -> {out}")
    if check.apgr is not None and check.apgr_ci is not None and before.apgr is not None:
        click.echo(f"  held-out APGR {check.apgr:.3f} (90% CI {check.apgr_ci[0]:.3f}-{check.apgr_ci[1]:.3f}); "
                   f"the prior {before.apgr:.3f}; cost at 95% of {strong}'s quality: "
                   f"{check.cost_ratio_at_target:.3f} of always-{strong} (prior {before.cost_ratio_at_target:.3f})")
    else:
        click.echo("  held-out APGR: not measurable (no held-out row knows both outcomes, or the strong tier gains "
                   "nothing on them)")

