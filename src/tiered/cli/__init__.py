"""The `tiered` command. Each subcommand lives in its own module and is imported only when used,
so `tiered models` does not pay for numpy or the SDK."""

from __future__ import annotations

import importlib
from typing import Any

import click

# command name -> "module:attribute"; a new command is one line here and one module beside this one.
COMMANDS: dict[str, str] = {
    "models": "tiered.cli.catalog_cmds:models",
    "cost": "tiered.cli.catalog_cmds:cost",
    "eval": "tiered.cli.eval_cmd:eval_",
    "calibrate": "tiered.cli.calibrate_cmd:calibrate",
    "demo": "tiered.cli.demo_cmd:demo",
    "emulator": "tiered.cli.emulator_cmd:emulator",
    "serve": "tiered.cli.serve_cmd:serve",
    "route": "tiered.cli.route_cmd:route",
    "stats": "tiered.cli.stats_cmd:stats",
    "keys": "tiered.cli.keys_cmd:keys",
    "label": "tiered.cli.quality_cmd:label",
    "train": "tiered.cli.train_cmd:train",
    "router": "tiered.cli.router_cmd:router",
    "learn": "tiered.cli.learn_loop_cmd:learn",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *super().list_commands(ctx)})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module, attr = target.split(":")
        command: Any = getattr(importlib.import_module(module), attr)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup)
@click.version_option(package_name="tiered")
def main() -> None:
    """tiered: send each LLM request to the cheapest model tier that does it well."""
