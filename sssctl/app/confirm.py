"""The interactive approval: only the word ``yes`` applies, as Terraform asks.

A ``[y/N]`` prompt is answered by a stray Enter plus ``y`` typed into the wrong window;
spelling out ``yes`` makes applying to a production tenant a deliberate act.
"""

from __future__ import annotations

import click


def approved(question: str) -> bool:
    click.echo(f"\n{question}\n  sssctl will perform the actions described above.\n"
               "  Only 'yes' will be accepted to approve.\n", err=True)
    answer = click.prompt("  Enter a value", default="", show_default=False, err=True)
    return str(answer).strip() == "yes"
