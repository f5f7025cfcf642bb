"""``demo``: plan -> apply -> plan against the built-in emulator."""

from __future__ import annotations

from pathlib import Path

import click

from sssctl.cli.emulator import require_emulator
from sssctl.cli.options import invocation, run


@click.command("demo")
@click.option("-c", "--config", "config_path", type=click.Path(path_type=Path, dir_okay=False),
              default=None, help="Desired-state file to demonstrate (default: the packaged hardened "
                                 "example).")
@click.pass_context
def demo_command(ctx: click.Context, config_path: Path | None) -> None:
    """Run plan -> apply -> plan against the built-in emulator; nothing leaves this machine.

    Starts the emulator on 127.0.0.1, points the config at it, keeps state in a
    temporary directory, and shows that the second plan is empty. Exit 0 only then.

    \b
        sssctl demo
        sssctl demo -c configs/lockdown.toml

    Needs the emulator extra: pip install '.[emulator]' from a clone of sssctl.
    """
    require_emulator("demo")
    from sssctl.app.demo import example_path, run_demo

    config = config_path or example_path("hardened")
    inv = invocation(ctx, config)
    run(ctx, inv, lambda: run_demo(config, inv.output))
