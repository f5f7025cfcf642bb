"""The types of a plan, and nothing else.

Serialising plans lives in :mod:`sssctl.engine.planfile`, computing them in the kinds'
``diff`` functions, ordering them in :mod:`sssctl.engine.planner`. Keeping the types
alone here means every layer can import them without importing each other.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class Action(enum.Enum):
    """What a change does; the value is the symbol users see in a rendered plan."""

    CREATE = "+"
    UPDATE = "~"
    DELETE = "-"
    NOOP = "."
    UNKNOWN = "?"   # the object could not be read: never treated as drift

    @property
    def word(self) -> str:
        return self.name.lower().replace("noop", "no-op")


@dataclass(frozen=True)
class Change:
    """One resource address and what the plan intends to do to it.

    ``before``/``after`` hold managed fields only, in the user's vocabulary, and never a
    secret: a write-only value is represented by a fingerprint or ``"(sensitive)"``.
    ``etag`` is the version the object was read at; the applier sends it as If-Match so
    an object edited after plan is refused (412) rather than overwritten.

    The engine and the renderers read only the first-class fields: ``kind`` (stamped by
    the planner from the kind that produced the change), ``forget`` (a no-op whose
    address sssctl stops managing: the applier drops it from state without a write),
    ``restore`` (the write puts back the value found before sssctl managed the address,
    so the state forgets it afterwards), ``report_only`` (a no-op listing drift the
    config asks only to report), ``sample`` (a few of the rows an aggregate change
    touches) and ``pending`` (a no-op waiting on the service, such as a role assignment
    not in effect yet: not drift, but worth saying), ``notice`` (a no-op that only informs,
    such as a service deadline the configuration depends on), ``elevation`` (why the change needs a
    tier-0 right such as granting tenant-wide consent, which the standing apply identity does
    not hold: a standard apply skips it and what depends on it, ``apply --elevated`` signed
    in as an administrator applies just those). ``detail`` belongs to the kind
    that made the change (ids its ``apply`` needs) and to no other: a guard that judges the
    whole plan reads other kinds' changes by their public fields and gets any further fact
    as a typed hand-off (:mod:`sssctl.kinds.handoffs`). Everything must be
    JSON-serialisable because saved plans carry it.
    """

    address: str
    action: Action
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None
    reason: str
    etag: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)
    kind: str = ""
    forget: bool = False
    restore: bool = False
    report_only: bool = False
    sample: tuple[str, ...] = ()
    pending: bool = False
    elevation: str = ""
    notice: bool = False

    @property
    def writes(self) -> bool:
        """Whether applying it sends anything to a service."""
        return self.action in (Action.CREATE, Action.UPDATE, Action.DELETE)


@dataclass(frozen=True)
class Plan:
    changes: tuple[Change, ...]
    environment_url: str
    organization_id: str
    state_lineage: str | None
    state_serial: int
    config_digest: str
    created_at: str
    refresh_only: bool = False
    # What changed outside sssctl since it last applied (live differs from the recorded
    # value): reported beside the changes, never applied by itself. A refresh-only plan's
    # changes are its drift, so it leaves this empty.
    drift: tuple[Change, ...] = ()
    # A destroy plan: every recorded address restored, in reverse safe order. Its changes are
    # derived from an empty desired state, so applying it saved must derive them that way too.
    destroy: bool = False

    @property
    def actionable(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.action in (Action.CREATE, Action.UPDATE, Action.DELETE))

    @property
    def unknown(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.action is Action.UNKNOWN)
