"""What can go wrong with a state snapshot or its lock, in words an operator can act on."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class StateError(Exception):
    """Base of every state problem; the message says what failed, why and what to do."""


class StateCorrupt(StateError):
    """The snapshot cannot be trusted (unreadable JSON, wrong checksum, unknown format)."""


class StateMismatch(StateError):
    """The snapshot belongs to another organization (or lineage) than the one in use."""


class LockHeld(StateError):
    """Another run holds the state lock. ``holder`` is the lock file's metadata."""

    def __init__(self, message: str, *, holder: Mapping[str, Any]) -> None:
        super().__init__(message)
        self.holder = dict(holder)


class StateConflict(StateError):
    """A conditional write lost: the stored snapshot is not the one this writer replaces."""
