"""The one in-memory stand-in for DataverseClient that unit tests share.

It evaluates the flat ``$filter`` shapes the kinds build (clauses joined by ``or`` or by
``and``), keeps ETags that change on every write, honours If-Match, and records every call
so tests can count writes and check that filtering happened on the server side. As in
Dataverse, a profile's client secret is write-only: a write lands in ``written_secrets``
and the row only says ``isoauthclientsecretset``. Seed rows with :meth:`FakeDataverse.add`;
a test that needs the service to misbehave sets one of the fault switches
(``ignore_secret``, ``fail_verify``).
"""


from __future__ import annotations

import itertools
import re
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sssctl.clients.dataverse import BatchOperation, BatchResult, WhoAmI
from sssctl.clients.errors import DataverseError, NotFound, PreconditionFailed

_KEY = {
    "organizations": "organizationid",
    "mailboxes": "mailboxid",
    "emailserverprofiles": "emailserverprofileid",
    "queues": "queueid",
    "usersettingscollection": "systemuserid",
    "systemusers": "systemuserid",
    "roles": "roleid",
    "privileges": "privilegeid",
    "businessunits": "businessunitid",
}
# What Dataverse fills in on a row created without it.
_CREATED = {"emailserverprofiles": {"isoauthclientsecretset": False, "statecode": 0, "statuscode": 1}}
_WRITE_ONLY = "oauthclientsecret"
_CLAUSE = re.compile(r"^\s*(\S+)\s+(eq|ne)\s+(.+?)\s*$")
_DEPTH_NAMES = ("Basic", "Local", "Deep", "Global")


def _literal(text: str) -> Any:
    if text == "null":
        return None
    if text in ("true", "false"):
        return text == "true"
    if text.startswith("'"):
        return text[1:-1].replace("''", "'")
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    return text.lower()


def _split(expression: str, word: str) -> list[str]:
    """Split on a top-level ``or``/``and`` (outside parentheses)."""
    parts, depth, start, i = [], 0, 0, 0
    token = f" {word} "
    while i < len(expression):
        char = expression[i]
        depth += char == "("
        depth -= char == ")"
        if depth == 0 and expression.startswith(token, i):
            parts.append(expression[start:i])
            i += len(token)
            start = i
            continue
        i += 1
    parts.append(expression[start:])
    return parts


def _matches(row: Mapping[str, Any], expression: str | None) -> bool:
    if not expression:
        return True
    expression = expression.strip()
    for word, combine in (("or", any), ("and", all)):
        parts = _split(expression, word)
        if len(parts) > 1:
            return combine(_matches(row, part) for part in parts)
    if expression.startswith("(") and expression.endswith(")"):
        return _matches(row, expression[1:-1])
    match = _CLAUSE.match(expression)
    assert match, f"fake cannot evaluate {expression!r}"
    column, op, literal = match.groups()
    value = row.get(column)
    wanted = _literal(literal)
    if isinstance(value, str) and isinstance(wanted, str):
        value, wanted = value.lower(), wanted.lower()  # Dataverse compares strings case-insensitively
    if op == "ne" and value is None and wanted is not None:
        return False  # as in Dataverse: "ne" never matches a null column
    equal = value == wanted
    return equal if op == "eq" else not equal


@dataclass
class FakeDataverse:
    tables: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    role_privileges: dict[str, dict[str, str]] = field(default_factory=dict)  # role id -> priv id -> depth
    user_roles: dict[str, list[str]] = field(default_factory=dict)  # user id -> role ids
    me: str = "00000000-0000-0000-0000-0000000000aa"
    organization_id: str = "org"
    org_url: str = "https://contoso.crm.dynamics.com"
    calls: list[tuple[str, str, Any]] = field(default_factory=list)
    writes: int = 0
    written_secrets: dict[str, str] = field(default_factory=dict)  # profile id -> secret (write-only)
    # Faults: the secret is accepted but not kept; reading a profile back says no secret is set.
    ignore_secret: bool = False
    fail_verify: bool = False
    _version: Iterator[int] = field(default_factory=lambda: itertools.count(1000))
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    # -- seeding -----------------------------------------------------------------------------
    def add(self, entity_set: str, row: dict[str, Any]) -> dict[str, Any]:
        row = dict(row)
        row["@odata.etag"] = self._etag()
        self.tables.setdefault(entity_set, {})[str(row[_KEY[entity_set]]).lower()] = row
        return row

    def _etag(self) -> str:
        return f'W/"{next(self._version)}"'

    def row(self, entity_set: str, key: str) -> dict[str, Any]:
        return self.tables[entity_set][key.lower()]

    def touch(self, entity_set: str, key: str) -> None:
        """Someone else edits the record: its ETag moves on."""
        self.row(entity_set, key)["@odata.etag"] = self._etag()

    def rows(self, entity_set: str) -> dict[str, dict[str, Any]]:
        """A table by lower-case key (empty when nothing was seeded)."""
        return self.tables.setdefault(entity_set, {})

    # -- DataverseClient surface ---------------------------------------------------------------
    def whoami(self) -> WhoAmI:
        return WhoAmI(user_id=self.me, business_unit_id="bu", organization_id=self.organization_id)

    def get(
        self, entity_set: str, key: str, *, select: Sequence[str] | None = None, expand: str | None = None
    ) -> dict[str, Any]:
        self.calls.append(("GET", entity_set, key))
        try:
            row = dict(self.row(entity_set, key))
        except KeyError:
            raise NotFound(f"{entity_set} With Id = {key} Does Not Exist", status=404) from None
        if self.fail_verify and entity_set == "emailserverprofiles":
            row["isoauthclientsecretset"] = False
        return row

    def create(self, entity_set: str, body: Mapping[str, Any]) -> str:
        self.calls.append(("POST", entity_set, {k: v for k, v in body.items() if k != _WRITE_ONLY}))
        key = str(uuid.UUID(int=next(self._ids) + 10**20))
        self.add(entity_set, {_KEY[entity_set]: key, **_CREATED.get(entity_set, {})})
        self._patch(entity_set, key, body, None)
        return key

    def delete(self, entity_set: str, key: str, *, if_match: str | None = None) -> None:
        self.calls.append(("DELETE", entity_set, key))
        self._existing(entity_set, key, if_match)
        del self.tables[entity_set][key.lower()]
        self.writes += 1

    def query(
        self,
        entity_set: str,
        *,
        select: Sequence[str] | None = None,
        filter: str | None = None,
        orderby: str | None = None,
        expand: str | None = None,
        top: int | None = None,
        page_size: int = 5000,
        malformed_row: Any = None,      # its rows are well-formed: never called
    ) -> Iterator[dict[str, Any]]:
        self.calls.append(("QUERY", entity_set, filter))
        held = re.fullmatch(r"privileges\((.+)\)/roleprivileges_association", entity_set)
        if held:
            privilege = held.group(1).lower()
            return iter([
                dict(row) for role_id, row in self.tables.get("roles", {}).items()
                if privilege in self.role_privileges.get(role_id, {}) and _matches(row, filter)
            ])
        if entity_set == "roleprivilegescollection":
            return iter(self._intersect_rows(filter))
        nav = re.fullmatch(r"systemusers\((.+)\)/systemuserroles_association", entity_set)
        if nav:
            roles = self.tables.get("roles", {})
            return iter([dict(roles[r.lower()]) for r in self.user_roles.get(nav.group(1), [])])
        rows = [dict(r) for r in self.tables.get(entity_set, {}).values() if _matches(r, filter)]
        return iter(rows[:top] if top else rows)

    def _intersect_rows(self, filter: str | None) -> list[dict[str, Any]]:
        """The role-privilege intersect table for ``privilegeid eq <id>``, depth as a bit mask."""
        wanted = re.fullmatch(r"privilegeid eq (\S+)", filter or "")
        assert wanted, filter
        masks = {"Basic": 1, "Local": 2, "Deep": 4, "Global": 8}
        return [
            {"roleid": role_id, "privilegedepthmask": masks[held[wanted.group(1).lower()]]}
            for role_id, held in self.role_privileges.items() if wanted.group(1).lower() in held
        ]

    def update(
        self, entity_set: str, key: str, body: Mapping[str, Any], *, if_match: str | None = None,
        returning: Sequence[str] | None = None,
    ) -> dict[str, Any] | None:
        self.calls.append(("PATCH", entity_set, dict(body)))
        self._patch(entity_set, key, body, if_match)
        return dict(self.row(entity_set, key)) if returning is not None else None

    def _existing(self, entity_set: str, key: str, if_match: str | None) -> dict[str, Any]:
        try:
            row = self.row(entity_set, key)
        except KeyError:
            raise NotFound(f"{entity_set} With Id = {key} Does Not Exist", status=404) from None
        if if_match not in (None, "*") and if_match != row["@odata.etag"]:
            raise PreconditionFailed("The version of the existing record doesn't match", status=412)
        return row

    def _patch(self, entity_set: str, key: str, body: Mapping[str, Any], if_match: str | None) -> None:
        row = self._existing(entity_set, key, if_match)
        for name, value in body.items():
            if name == _WRITE_ONLY:
                if not self.ignore_secret:
                    self.written_secrets[key.lower()] = str(value)
                    row["isoauthclientsecretset"] = True
            elif name.endswith("@odata.bind"):
                column = name.split("@")[0]
                column = {"defaultemailserverprofileid": "defaultemailserverprofileid"}.get(column, column)
                row[f"_{column}_value"] = re.search(r"\((.+)\)", str(value)).group(1)  # type: ignore[union-attr]
            elif name == "orgdborgsettings":
                row[name] = _merge_orgsettings(row.get(name) or "", str(value))
            else:
                row[name] = value
        row["@odata.etag"] = self._etag()
        self.writes += 1

    def action(
        self, name: str, body: Mapping[str, Any] | None = None, *, bound: tuple[str, str] | None = None
    ) -> Any:
        self.calls.append(("ACTION", name, body))
        assert bound is not None
        role = bound[1].lower()
        held = self.role_privileges.setdefault(role, {})
        if name == "RemovePrivilegeRole":
            privilege = str((body or {})["Privilege"]["privilegeid"]).lower()
            held.pop(privilege, None)
        elif name == "AddPrivilegesRole":
            for entry in (body or {})["Privileges"]:
                held[str(entry["PrivilegeId"]).lower()] = entry["Depth"]
        self.writes += 1
        return None

    def function(
        self, name: str, params: Mapping[str, Any] | None = None, *, bound: tuple[str, str] | None = None
    ) -> Any:
        self.calls.append(("FUNCTION", name, params))
        assert name == "RetrieveRolePrivilegesRole"
        role = str((params or {})["RoleId"]).lower()
        return {
            "RolePrivileges": [
                {"PrivilegeId": p, "Depth": d, "BusinessUnitId": "bu"}
                for p, d in self.role_privileges.get(role, {}).items()
            ]
        }

    def allowed_in_flight(self) -> int | None:
        return None  # no rate limiter: every chunk up to --parallelism goes at once

    def reserve_batch(self, stop: threading.Event) -> bool:
        return not stop.is_set()

    def rows_per_batch(self, planned: int) -> int:
        return planned  # no rate limiter: never refused for the number of requests

    def release_batch(self) -> None:
        pass

    def batch(
        self,
        operations: Sequence[BatchOperation],
        *,
        atomic: bool = False,
        continue_on_error: bool = False,
        max_per_batch: int = 1000,
    ) -> list[BatchResult]:
        self.calls.append(("BATCH", str(len(operations)), None))
        assert len(operations) <= 1000
        results = []
        for op in operations:
            bound = re.fullmatch(r"(\w+)\((.+)\)/Microsoft\.Dynamics\.CRM\.(\w+)", op.url)
            if bound and op.method == "POST":
                try:
                    self.action(bound.group(3), op.body, bound=(bound.group(1), bound.group(2)))
                    results.append(BatchResult(op, 204, None, {}, None))
                except DataverseError as exc:   # continue-on-error: the next operation still runs
                    results.append(BatchResult(op, exc.status, None, {}, exc))
                continue
            match = re.fullmatch(r"(\w+)\((.+)\)", op.url)
            assert match and op.method == "PATCH"
            try:
                self._patch(match.group(1), match.group(2), op.body or {}, op.headers.get("If-Match"))
                results.append(BatchResult(op, 204, None, {}, None))
            except (PreconditionFailed, NotFound) as exc:
                results.append(BatchResult(op, exc.status, None, {}, exc))
        return results


def _merge_orgsettings(stored: str, patch: str) -> str:
    """Per-element upsert that keeps untouched elements byte for byte (reference §2.1)."""
    if patch == "":
        return ""
    body = stored[len("<OrgSettings>") : -len("</OrgSettings>")] if stored else ""
    for name, value in re.findall(r"<(\w+)>([^<]*)</\1>", patch[len("<OrgSettings>") :]):
        element = re.compile(rf"<{name}>[^<]*</{name}>")
        if element.search(body):
            body = element.sub(f"<{name}>{value}</{name}>", body, count=1)
        else:
            body += f"<{name}>{value}</{name}>"
    return f"<OrgSettings>{body}</OrgSettings>"


def depth(index: int) -> str:
    return _DEPTH_NAMES[index]
