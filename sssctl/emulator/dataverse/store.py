"""The in-memory database behind the emulated Web API.

Rows are copy-on-write: a write replaces the row dict, it never edits one in place. That
makes reads safe to hand out without copying and lets a ``$batch`` change set roll back
by restoring the previous dict references from a journal, whatever the table size.

Every write stamps ``modifiedon`` and ``modifiedby`` (``createdon``/``createdby`` on
insert) as Dataverse does: the user is whoever the request handling this thread acts as
(:meth:`Store.acting`), so nested writes (an approval copied to the owner) name the
caller too, and rows written with no request (seeding) keep what the seed set.

Role privileges are kept per *root* role copy only; business-unit copies mirror their
root copy (``_parentrootroleid_value``), which is how the platform keeps them in sync.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

Row = dict[str, Any]
_MISSING = object()


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Store:
    """Tables of rows by id, role privilege sets, user role assignments; one lock for all."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._actor = threading.local()
        self.tables: dict[str, dict[str, Row]] = {}
        self.role_privileges: dict[str, dict[str, int]] = {}  # root role id -> privilege id -> depth mask
        self.user_roles: dict[str, list[str]] = {}  # systemuser id -> role ids (BU copies)
        self.version = 1_000_000
        self.caller_index: dict[str, str] | None = None  # "app:<id>"/"oid:<id>" -> systemuser id
        self._journal: list[tuple[str, str, Any]] | None = None

    # -- versions and transactions ---------------------------------------------------
    def next_version(self) -> int:
        with self.lock:
            self.version += 1
            return self.version

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """Undo every change made inside the block if it raises (a ``$batch`` change set)."""
        with self.lock:
            outer = self._journal
            self._journal = []
            try:
                yield
            except BaseException:
                self._undo(self._journal)
                self._journal = outer
                raise
            if outer is not None:
                outer.extend(self._journal)
            self._journal = outer

    def _remember(self, area: str, key: str, old: Any) -> None:
        if area == "systemuser":
            self.caller_index = None
        if self._journal is not None:
            self._journal.append((area, key, old))

    def _undo(self, journal: list[tuple[str, str, Any]]) -> None:
        self.caller_index = None
        for area, key, old in reversed(journal):
            target: dict[str, Any]
            if area == "@privileges":
                target = self.role_privileges
            elif area == "@userroles":
                target = self.user_roles
            else:
                target = self.tables[area]
            if old is _MISSING:
                target.pop(key, None)
            else:
                target[key] = old

    @contextmanager
    def acting(self, user_id: str) -> Iterator[None]:
        """Writes made by this thread inside the block are stamped as made by ``user_id``."""
        outer = getattr(self._actor, "user", None)
        self._actor.user = user_id
        try:
            yield
        finally:
            self._actor.user = outer

    def _stamps(self) -> Row:
        stamps: Row = {"modifiedon": now_iso()}
        user = getattr(self._actor, "user", None)
        if user is not None:
            stamps["_modifiedby_value"] = user
            stamps["_modifiedby_value@lt"] = "systemuser"
        return stamps

    # -- rows ------------------------------------------------------------------------
    def table(self, logical: str) -> dict[str, Row]:
        return self.tables.setdefault(logical, {})

    def get(self, logical: str, row_id: str) -> Row | None:
        return self.tables.get(logical, {}).get(row_id.lower())

    def insert(self, logical: str, row_id: str, row: Row) -> Row:
        with self.lock:
            table = self.table(logical)
            self._remember(logical, row_id, table.get(row_id, _MISSING))
            stamps = self._stamps()
            row = {**row, **stamps, "versionnumber": self.next_version()}
            row["createdon"] = row.get("createdon") or stamps["modifiedon"]
            if "_modifiedby_value" in stamps:
                row["_createdby_value"] = stamps["_modifiedby_value"]
                row["_createdby_value@lt"] = "systemuser"
            table[row_id] = row
            return row

    def update(self, logical: str, row_id: str, changes: Row) -> Row:
        with self.lock:
            table = self.table(logical)
            old = table[row_id]
            self._remember(logical, row_id, old)
            row = {**old, **changes, **self._stamps(), "versionnumber": self.next_version()}
            table[row_id] = row
            return row

    def delete(self, logical: str, row_id: str) -> None:
        with self.lock:
            table = self.table(logical)
            self._remember(logical, row_id, table.pop(row_id))

    # -- security --------------------------------------------------------------------
    def set_role_privileges(self, root_role_id: str, privileges: dict[str, int]) -> None:
        with self.lock:
            self._remember("@privileges", root_role_id, self.role_privileges.get(root_role_id, _MISSING))
            self.role_privileges[root_role_id] = privileges

    def set_user_roles(self, user_id: str, role_ids: list[str]) -> None:
        with self.lock:
            self._remember("@userroles", user_id, self.user_roles.get(user_id, _MISSING))
            self.user_roles[user_id] = role_ids

    def privileges_of_role(self, role_id: str) -> dict[str, int]:
        role = self.get("role", role_id)
        if role is None:
            return {}
        return self.role_privileges.get(role["_parentrootroleid_value"], {})
