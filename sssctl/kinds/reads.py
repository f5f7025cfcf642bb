"""Reads shared by the kinds of one run: each small table is fetched once, not per kind.

Kinds read concurrently, in threads, and several need the same rows (profiles, queues,
the caller). The engine switches sharing on when a run starts and off before the first
write, so a plan reads each table once while apply always sees the service as it is.
Nothing here knows about Dataverse; the cache lives in ``ctx.scratch`` and dies with the
run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from sssctl.kinds.base import Context

T = TypeVar("T")

_slots_lock = threading.Lock()
READS = "shared_reads"  # ctx.scratch key of the per-run read cache
SHARING = "shared_reads_on"


class _Slot:
    """One shared answer: the first caller loads it, concurrent callers wait for it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.loaded = False
        self.value: Any = None
        self.error: BaseException | None = None

    def get(self, load: Callable[[], Any]) -> Any:
        with self.lock:
            if not self.loaded:
                try:
                    self.value = load()
                except Exception as exc:
                    self.error = exc
                self.loaded = True
        if self.error is not None:
            raise self.error
        return self.value


def shared_read(ctx: Context, key: str, load: Callable[[], T]) -> T:
    """``load()`` once per run for every kind that asks for ``key`` (its error too).

    Kinds read in parallel threads and several need the same small tables (profiles,
    queues, the caller); without this each asked the service again. The cache lives in
    ``ctx.scratch`` so it never outlives the run. Sharing is on only between
    :func:`share_reads` (the engine, when a run starts) and :func:`fresh_reads` (the
    applier, before the first write): apply must see what it writes against as it is
    then, including its own writes, and so must any caller that did not ask to share.
    """
    if not ctx.scratch.get(SHARING):
        return load()
    with _slots_lock:
        slots: dict[str, _Slot] = ctx.scratch.setdefault(READS, {})
        slot = slots.setdefault(key, _Slot())
    value: T = slot.get(load)
    return value


def share_reads(ctx: Context) -> None:
    """Reads of this run (its plan) may be shared between kinds from now on."""
    ctx.scratch[SHARING] = True


def fresh_reads(ctx: Context) -> None:
    """From now on (apply) nothing is shared: every read asks the service."""
    ctx.scratch[SHARING] = False
    forget_reads(ctx)


def forget_reads(ctx: Context, *keys: str) -> None:
    """Drop shared reads (all of them without ``keys``): the next caller reads again."""
    with _slots_lock:
        slots: dict[str, _Slot] = ctx.scratch.setdefault(READS, {})
        for key in keys or tuple(slots):
            slots.pop(key, None)
