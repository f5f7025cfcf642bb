"""``--target``: warn that the plan is partial, and refuse a target that selects nothing.

A mistyped target used to yield "No changes", which a pipeline reads as "all is well";
an address that names nothing is a usage error (exit 1), as a typo anywhere else is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sssctl.engine.addresses import matches_target
from sssctl.engine.errors import EngineError
from sssctl.engine.plan import Plan

TARGET_WARNING = (
    "Warning: Resource targeting is in effect\n\n"
    "You are creating a plan with --target, so it may not show every change the configuration\n"
    "asks for. --target is for exceptional situations such as recovering from an error, not for\n"
    "routine use."
)


def unmatched(addresses: Sequence[str], targets: Sequence[str]) -> list[str]:
    return [t for t in targets if t.strip() and not any(matches_target(a, t) for a in addresses)]


def review(plan: Plan, targets: Sequence[str], warn: Callable[[str], None]) -> None:
    """Raise for a target that matches no address; otherwise warn whenever targets are used.

    A refresh-only plan lists drift, not every address, so a target with no drift there
    is not a typo and is only warned about.
    """
    wanted = [t for t in targets if t.strip()]
    if not wanted:
        return
    missing = [] if plan.refresh_only else unmatched([c.address for c in plan.changes], wanted)
    if missing:
        listed = ", ".join(missing)
        raise EngineError(
            f"--target {listed} matches no address of this configuration or its state; "
            "addresses look like org_setting.<Name>, server_profile.default or approval "
            "(`sssctl plan` without --target lists them, `sssctl state list` the managed ones)"
        )
    warn(TARGET_WARNING)
