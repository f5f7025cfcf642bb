"""What each command asks for, parsed once at the command line and handed over typed.

The command line turns flags into these values and nothing else; the use cases in
:mod:`sssctl.app.commands`, :mod:`sssctl.app.state` and :mod:`sssctl.app.fleet` read
them and nothing else. A setting reaches a run by exactly one route: ``--timeout``,
``--lock-timeout`` and ``--parallelism`` travel in :class:`Limits` on the invocation into
:class:`sssctl.app.runner.RunOptions`, never back through the environment.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

MAX_PARALLELISM = 52  # Dataverse admits 52 concurrent requests per user

PlanFormat = Literal["text", "json", "markdown"]
AuditFormat = Literal["table", "json", "markdown", "sarif"]
Severity = Literal["high", "medium", "low"]
MatrixFormat = Literal["github", "azure-devops"]
FleetFormat = Literal["text", "json", "markdown", "sarif"]   # sarif: fleet audit only


@dataclass(frozen=True)
class Limits:
    """How long a writing run may wait and take, and how many requests it may have in flight."""

    parallelism: int = MAX_PARALLELISM  # a cap: the service's headers decide how many really fly
    lock_timeout: float = 0.0           # seconds to wait for a state lock another run holds
    timeout: float = 0.0                # seconds the whole run may take; 0: no deadline


@dataclass(frozen=True)
class PlanRequest:
    """``plan`` and ``refresh`` (which is ``plan --refresh-only``)."""

    out: Path | None = None
    detailed: bool = False
    fmt: PlanFormat = "text"
    refresh_only: bool = False
    targets: tuple[str, ...] = ()
    allow_lockout: bool = False
    destroy: bool = False               # plan --destroy: what `sssctl destroy` would do, reviewable


@dataclass(frozen=True)
class ApplyRequest:
    """``apply``: a saved plan, or plan and apply after confirmation."""

    plan_file: Path | None = None
    config_given: bool = False          # -c named the config, so a saved plan's own is not used
    auto_approve: bool = False
    targets: tuple[str, ...] = ()
    allow_lockout: bool = False
    elevated: bool = False              # only the changes that need a tier-0 right (an administrator)


@dataclass(frozen=True)
class AuthRequest:
    """``auth check`` and ``auth needs``: whose needs, how strict, how printed."""

    identity: Literal["plan", "apply"] = "apply"
    strict: bool = False
    as_json: bool = False


@dataclass(frozen=True)
class DestroyRequest:
    auto_approve: bool = False
    targets: tuple[str, ...] = ()


@dataclass(frozen=True)
class ShowRequest:
    plan_file: Path | None = None
    fmt: PlanFormat = "text"


@dataclass(frozen=True)
class AuditRequest:
    fail_on: Severity | None = None
    fmt: AuditFormat = "table"


@dataclass(frozen=True)
class FleetRequest:
    """What every fleet command shares: the fleet file, the members chosen, how many at once."""

    fleet_file: Path                    # or, for ``fleet apply``, a directory of saved plans
    members: tuple[str, ...] = ()
    parallel: int = 4
    fmt: FleetFormat = "text"
    limits: Limits = Limits()           # per member; ``fleet apply --parallelism`` sets its cap
