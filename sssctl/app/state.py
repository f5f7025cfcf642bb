"""``state pull | push | rm | migrate``: moving and editing state without touching the environment.

Each writing command takes the lock (``--lock-timeout`` applies) and writes through the
backend's conditional write, so it can never overwrite an apply running at the same time.
Lineage is the identity of one environment's history: a snapshot of another lineage is
never pushed or migrated over an existing one.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from sssctl import exitcodes
from sssctl.app.commands import Invocation
from sssctl.config.loader import load
from sssctl.config.model import Desired
from sssctl.state import factory, locking
from sssctl.state.backend import Backend, parse_snapshot, read_capped, serialize
from sssctl.state.errors import StateConflict, StateError, StateMismatch
from sssctl.state.model import Snapshot, utc_now


def _configured(inv: Invocation) -> tuple[Desired, Mapping[str, str]]:
    """The loaded config and the environment it was loaded with: all a state command needs."""
    return load(inv.config_path, inv.environ), inv.environ


@contextmanager
def locked(backend: Backend, command: str, timeout: float, config: Path | None = None) -> Iterator[None]:
    """The lock of ``backend``; ``config`` when it is the configured one (for the unlock hint)."""
    lock_id = locking.acquire(backend, command, timeout=timeout,
                              notify=lambda message: print(message, file=sys.stderr, flush=True),
                              config=config)
    try:
        yield
    finally:
        backend.unlock(lock_id)


def pull(inv: Invocation, *, previous: bool = False) -> int:
    """Print the snapshot (or the kept previous one) exactly as stored, checksum included."""
    (desired, environ), out = _configured(inv), inv.output
    backend = factory.backend_for(desired, environ)
    snapshot = backend.read_previous() if previous else backend.read()
    if snapshot is None:
        which = "no previous snapshot" if previous else "no state yet"
        raise StateError(f"{backend.describe()} holds {which}: nothing to pull")
    out.echo(serialize(snapshot).decode("utf-8"), nl=False)
    return exitcodes.OK


def read_snapshot_file(path: Path) -> Snapshot:
    try:
        with path.open("rb") as handle:
            raw = read_capped(handle)
    except OSError as exc:
        raise StateError(f"cannot read {path}: {exc.strerror or exc}") from exc
    return parse_snapshot(raw, str(path), recover_hint="Push a snapshot written by `sssctl state pull`")


def check_successor(current: Snapshot | None, incoming: Snapshot, *, source: str, target: str,
                    force: bool = False) -> None:
    """``incoming`` may replace ``current``: same lineage and (unless forced) a newer serial."""
    if current is None:
        return
    if current.lineage != incoming.lineage:
        raise StateMismatch(
            f"{source} has lineage {incoming.lineage}, but {target} holds lineage {current.lineage}: "
            "another environment's history (or another start of this one). Nothing was written; "
            "check that both name the same environment")
    if incoming.serial <= current.serial and not force:
        raise StateConflict(
            f"{source} has serial {incoming.serial}, not newer than serial {current.serial} at {target}. "
            "Nothing was written; pull the current state first, or pass --force to put an older "
            "snapshot of the same lineage back (for example the previous one after a bad write)")


def push(inv: Invocation, path: Path, *, force: bool) -> int:
    (desired, environ), out = _configured(inv), inv.output
    incoming = read_snapshot_file(path)
    backend = factory.backend_for(desired, environ)
    with locked(backend, "state push", inv.limits.lock_timeout, desired.source):
        current = backend.read()
        check_successor(current, incoming, source=str(path), target=backend.describe(), force=force)
        if current is not None and incoming.serial <= current.serial:
            # forced: a new serial, so a plan saved against the current state is refused
            incoming = replace(incoming, serial=current.serial + 1, updated_at=utc_now())
        backend.write(incoming, replaces=current)
    out.echo(f"Pushed {path} to {backend.describe()} (lineage {incoming.lineage}, serial {incoming.serial}).")
    return exitcodes.OK


def remove(inv: Invocation, addresses: Sequence[str]) -> int:
    """Stop managing addresses: forgotten by the state, untouched in the environment."""
    (desired, environ), out = _configured(inv), inv.output
    backend = factory.backend_for(desired, environ)
    with locked(backend, "state rm", inv.limits.lock_timeout, desired.source):
        current = backend.read()
        resources = dict(current.resources) if current else {}
        missing = [a for a in addresses if a not in resources]
        if current is None or missing:
            raise StateError(f"not in the state {backend.describe()}: {', '.join(missing or addresses)}; "
                             "`sssctl state list` shows what is. Nothing was removed")
        for address in addresses:
            del resources[address]
        backend.write(current.with_resources(resources), replaces=current)
    for address in addresses:
        out.echo(f"Removed {address} from the state; the environment was not changed.")
    out.warn("If the config still manages these addresses, the next apply adopts them again.")
    return exitcodes.OK


def migrate(inv: Invocation, source_spec: str) -> int:
    """Copy the snapshot from the backend in effect before (``--from``) to the configured one."""
    (desired, environ), out, wait = _configured(inv), inv.output, inv.limits.lock_timeout
    source_settings = factory.settings_from_spec(source_spec, desired.state, desired.source.parent)
    source = factory.open_backend(desired, source_settings, environ)
    target = factory.backend_for(desired, environ)
    if source.describe() == target.describe():
        raise StateError(f"--from {source_spec} names the configured backend itself ({target.describe()}); "
                         "name the backend the state lived in before")
    with locked(source, "state migrate", wait), locked(target, "state migrate", wait, desired.source):
        snapshot = source.read()
        if snapshot is None:
            raise StateError(f"{source.describe()} holds no state: nothing to migrate")
        current = target.read()
        if current is not None and (current.lineage, current.serial) == (snapshot.lineage, snapshot.serial):
            out.echo(f"{target.describe()} already holds serial {snapshot.serial}; nothing to do.")
            return exitcodes.OK
        check_successor(current, snapshot, source=source.describe(), target=target.describe())
        target.write(snapshot, replaces=current)
    out.echo(f"Migrated the state (lineage {snapshot.lineage}, serial {snapshot.serial}) from "
             f"{source.describe()} to {target.describe()}. {source.describe()} was left as it was; "
             "delete it once the new backend works.")
    return exitcodes.OK
