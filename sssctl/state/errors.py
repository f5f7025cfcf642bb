"""What can go wrong with a state snapshot or its lock, in words an operator can act on."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any


class StateError(Exception):
    """Base of every state problem; the message says what failed, why and what to do."""


class StateCorrupt(StateError):
    """The snapshot cannot be trusted (unreadable JSON, wrong checksum, unknown format)."""


class StateMismatch(StateError):
    """The snapshot belongs to another organization (or lineage) than the one in use."""


class LockHeld(StateError):
    """Another run holds the state lock. ``holder`` is the lock file's metadata.

    ``unlock`` is the command the message suggests for a holder that died; the backend
    does not know which config the run was given, so the caller that does completes it
    with :meth:`naming_config`, making the printed command runnable as it stands.
    """

    def __init__(self, message: str, *, holder: Mapping[str, Any], unlock: str | None = None) -> None:
        super().__init__(message)
        self.holder = dict(holder)
        self.unlock = unlock

    def naming_config(self, config: Path) -> LockHeld:
        if not self.unlock or " -c " in self.unlock:
            return self
        full = f"{self.unlock} -c {shlex.quote(str(config))}"
        return LockHeld(str(self).replace(f"`{self.unlock}`", f"`{full}`"), holder=self.holder, unlock=full)


class StateConflict(StateError):
    """A conditional write lost: the stored snapshot is not the one this writer replaces."""
