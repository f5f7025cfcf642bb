"""The job matrix CI engines fan out across runners: one member per job.

Scaling past one machine is left to the CI engine the team already has; each job runs
the ordinary single-environment commands for its member (``sssctl fleet plan FLEET
--member NAME`` applies the member's overrides) against the shared remote state.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sssctl.fleet.file import Fleet, Member

FORMATS = ("github", "azure-devops")
_AZURE_JOB_NAME = re.compile(r"[^A-Za-z0-9_]")


def _entry(member: Member, fleet: Fleet) -> dict[str, str]:
    entry = {"member": member.name, "config": _portable(member.config), "fleet": _portable(fleet.path)}
    if member.environment_name:
        entry["environment"] = member.environment_name
    return entry


def _portable(path: Path) -> str:
    """As the repository has it (forward slashes), since the runner checks the same tree out."""
    return path.as_posix()


def github(fleet: Fleet, members: Sequence[Member]) -> dict[str, Any]:
    """``strategy.matrix: ${{ fromJSON(...) }}``: an ``include`` list, one object per job."""
    return {"include": [_entry(m, fleet) for m in members]}


def azure_devops(fleet: Fleet, members: Sequence[Member]) -> dict[str, Any]:
    """``strategy: matrix: $[ ... ]``: job name -> variables; names allow letters, digits, ``_``."""
    return {_AZURE_JOB_NAME.sub("_", m.name): _entry(m, fleet) for m in members}


def render(fleet: Fleet, members: Sequence[Member], fmt: str) -> str:
    """One line of JSON: what a step writes to ``$GITHUB_OUTPUT`` or ``##vso[task.setvariable]``."""
    build = github if fmt == "github" else azure_devops
    return json.dumps(build(fleet, members), separators=(",", ":")) + "\n"
