"""The snapshot being written during one run: every applied change is a checkpoint.

Writing after each change (not once at the end) is what makes a crash or Ctrl-C safe:
the file on disk always matches what was really applied, so the next run converges.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from typing import Any

from sssctl.state.backend import Backend
from sssctl.state.errors import StateMismatch
from sssctl.state.model import Snapshot, utc_now


class StateStore:
    def __init__(self, backend: Backend, snapshot: Snapshot | None, *, url: str, organization_id: str,
                 name: str) -> None:
        if snapshot is not None and snapshot.organization_id and snapshot.organization_id != organization_id:
            raise StateMismatch(
                f"this state ({backend.describe()}) belongs to organization {snapshot.organization_id} at "
                f"{snapshot.environment.get('url', '?')}, but the configuration signs in to organization "
                f"{organization_id} at {url}. Use the state of that environment "
                "(another [environment] name, [state] location or SSSCTL_STATE_DIR)"
            )
        self.backend = backend
        self.existed = snapshot is not None
        self._snapshot = snapshot or Snapshot.new(url=url, organization_id=organization_id, name=name)
        self._url = url
        self._organization_id = organization_id
        self._lock = threading.Lock()

    @property
    def snapshot(self) -> Snapshot:
        return self._snapshot

    @property
    def lineage(self) -> str | None:
        """None until the first write: a plan made before any state exists records no lineage."""
        return self._snapshot.lineage if self.existed else None

    @property
    def serial(self) -> int:
        return self._snapshot.serial

    @property
    def resources(self) -> Mapping[str, Mapping[str, Any]]:
        return self._snapshot.resources

    def live_view(self) -> Mapping[str, Mapping[str, Any]]:
        """A read-only mapping that always shows the latest checkpoint.

        Kinds get this as ``ctx.state`` so that a later change in the same apply sees
        what an earlier one recorded (e.g. a credential's fingerprint).
        """
        return _LiveResources(self)

    def record(self, address: str, *, kind: str, managed: Mapping[str, Any] | None,
               fingerprints: Mapping[str, str], before: Mapping[str, Any] | None) -> None:
        """Checkpoint one applied change; ``managed=None`` forgets the address.

        ``original`` is taken from the change's ``before`` only the first time an address
        is managed, so restoring always goes back to what was there before sssctl.
        """
        with self._lock:
            resources = dict(self._snapshot.resources)
            if managed is None:
                resources.pop(address, None)
            else:
                previous = resources.get(address)
                original = previous.get("original") if previous else (dict(before) if before else None)
                resources[address] = {
                    "kind": kind,
                    "managed": dict(managed),
                    "original": original,
                    "fingerprints": dict(fingerprints),
                    "updated_at": utc_now(),
                    **({"history": previous["history"]} if previous and previous.get("history") else {}),
                }
            self._write(resources)

    def note_history(self, notes: Mapping[str, Mapping[str, Any]], *, keep: int = 20) -> None:
        """Append one record per address (``watch``: what was reverted, from whom, when), in one write.

        Only the last ``keep`` records stay, so the snapshot does not grow with time; an
        address no longer managed gets none.
        """
        with self._lock:
            resources = dict(self._snapshot.resources)
            noted = False
            for address, note in notes.items():
                entry = resources.get(address)
                if entry is None:
                    continue
                history = [*list(entry.get("history") or []), dict(note)][-keep:]
                resources[address] = {**entry, "history": history}
                noted = True
            if noted:
                self._write(resources)

    def adopt(self, entries: Mapping[str, tuple[str, Mapping[str, Any], Mapping[str, Any] | None]]) -> None:
        """Start managing addresses found compliant, in one write.

        ``entries`` is ``{address: (kind, managed, found)}``: what the config asks for and
        the live value that already satisfied it, which is the original ``destroy`` restores.
        """
        with self._lock:
            resources = dict(self._snapshot.resources)
            fresh = {a: e for a, e in entries.items() if a not in resources}
            if not fresh:
                return
            for address, (kind, managed, found) in fresh.items():
                resources[address] = {"kind": kind, "managed": dict(managed),
                                      "original": dict(found) if found is not None else None,
                                      "fingerprints": {}, "updated_at": utc_now()}
            self._write(resources)

    def _write(self, resources: dict[str, Mapping[str, Any]]) -> None:
        following = self._snapshot.with_resources(
            resources, url=self._url, organization_id=self._organization_id
        )
        self.backend.write(following, replaces=self._snapshot if self.existed else None)
        self._snapshot = following
        self.existed = True


class _LiveResources(Mapping[str, Mapping[str, Any]]):
    def __init__(self, store: StateStore) -> None:
        self._store = store

    def __getitem__(self, address: str) -> Mapping[str, Any]:
        return self._store.resources[address]

    def __iter__(self) -> Iterator[str]:
        return iter(dict(self._store.resources))

    def __len__(self) -> int:
        return len(self._store.resources)
