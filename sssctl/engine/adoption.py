"""Compliant addresses enter the state at apply, so drift on them is reported later.

An address the config manages whose live value already matched at apply has nothing to
write, yet it is managed from then on: if someone changes it afterwards, ``refresh``
must say so, as ``plan`` would. The applier therefore records such no-ops with the value
found (which is also the original ``destroy`` restores: itself, so a no-op). ``plan``
and ``refresh`` never record: they take no lock, and a plan that is never applied has
adopted nothing.

Kinds that own objects identified by what their apply learned (an app's object id, a
policy's scope id) declare ``adopts_compliant=False``: a same-named object someone else
made must not become sssctl's, or ``destroy`` would delete it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import structlog

from sssctl.config.model import Desired
from sssctl.engine.plan import Action, Change
from sssctl.engine.registry import Registry

log = structlog.get_logger(__name__)


def adoptable(registry: Registry, desired: Desired, changes: Sequence[Change],
              recorded: Mapping[str, Mapping[str, Any]]) -> list[Change]:
    """The no-ops on addresses the config manages that the state does not know yet."""
    managed = _managed_addresses(registry, desired)
    return [
        c for c in changes
        if c.action is Action.NOOP and not (c.forget or c.restore or c.report_only)
        and c.after is not None and c.address in managed and c.address not in recorded
    ]


def _managed_addresses(registry: Registry, desired: Desired) -> set[str]:
    addresses: set[str] = set()
    for kind in registry.kinds:
        if not kind.spec.adopts_compliant:
            continue
        try:
            addresses.update(kind.addresses(desired))
        except Exception as exc:   # its plan already showed the problem; it adopts nothing
            log.warning("apply.adopt.skipped", kind=kind.name, error=str(exc))
    return addresses
