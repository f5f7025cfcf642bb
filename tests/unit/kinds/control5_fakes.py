"""Small in-memory stand-ins for Graph, Exchange and the Dataverse profile table.

They answer the way the real services do where the Control 5 kinds depend on it (404 for
missing objects, duplicate app-role assignments refused, secret text only in the
addPassword answer, write-only ``oauthclientsecret``) and count writes, so tests can prove
"a second apply writes nothing".
"""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sssctl.clients.errors import GraphConflict, GraphError, GraphNotFound, NotFound, PreconditionFailed
from sssctl.config.model import (
    AppRegistration,
    CredentialSpec,
    CustomProfile,
    Desired,
    Environment,
    MailboxDefaults,
    MailboxScope,
)
from sssctl.engine.applier import Outcome
from sssctl.engine.kind import Context
from sssctl.engine.plan import Change
from tests.support import planning
from tests.support.applying import apply_changes

EXO = "00000002-0000-0ff1-ce00-000000000000"
GRAPH = "00000003-0000-0000-c000-000000000000"
TENANT = "8f0c3e5a-1b2d-4c6e-9a7b-5d3f2e1c0b9a"
DAY = 86400.0
T0 = 1_800_000_000.0  # 2027-01-15, a fixed "now"

_counter = itertools.count(1)


def _id() -> str:
    return str(uuid.UUID(int=next(_counter) + 10**20))


def _role(value: str) -> dict[str, Any]:
    return {
        "id": _id(),
        "value": value,
        "allowedMemberTypes": ["Application"],
        "isEnabled": True,
        "displayName": value,
    }


class FakeGraph:
    def __init__(self) -> None:
        self.apps: dict[str, dict[str, Any]] = {}  # object id -> application
        self.sps: dict[str, dict[str, Any]] = {}  # object id -> service principal
        self.assignments: dict[str, dict[str, Any]] = {}  # id -> appRoleAssignment
        self.writes = 0
        self.secrets: dict[str, str] = {}  # keyId -> secretText (what Entra knows)
        self.fail_on: str | None = None
        for app_id, name, roles in (
            (EXO, "Office 365 Exchange Online", ["full_access_as_app", "Exchange.ManageAsApp"]),
            (GRAPH, "Microsoft Graph", ["Mail.ReadWrite", "Mail.Read", "Application.ReadWrite.All"]),
        ):
            sp_id = _id()
            self.sps[sp_id] = {
                "id": sp_id,
                "appId": app_id,
                "displayName": name,
                "appRoles": [_role(r) for r in roles],
            }

    # -- helpers for tests
    def role_id(self, resource_app_id: str, value: str) -> str:
        sp = self._sp_by_app(resource_app_id)
        assert sp is not None
        return next(str(r["id"]) for r in sp["appRoles"] if r["value"] == value)

    def app_by_unique(self, unique: str) -> dict[str, Any] | None:
        return next((a for a in self.apps.values() if a.get("uniqueName") == unique), None)

    def _sp_by_app(self, app_id: str) -> dict[str, Any] | None:
        return next((s for s in self.sps.values() if s["appId"].lower() == app_id.lower()), None)

    def _write(self, what: str) -> None:
        if self.fail_on == what:
            raise GraphError(f"injected failure on {what}", status=503)
        self.writes += 1

    # -- the GraphClient surface
    def get(self, path: str, *, params: Any = None, wait_for_replication: bool = False) -> dict[str, Any]:
        if m := re.fullmatch(r"applications\(uniqueName='(.+)'\)", path):
            app = self.app_by_unique(m.group(1).replace("''", "'"))
            if app is None:
                raise GraphNotFound("no app", status=404)
            return _copy(app)
        if m := re.fullmatch(r"applications\(appId='(.+)'\)", path):
            found = next((a for a in self.apps.values() if a["appId"].lower() == m.group(1).lower()), None)
            if found is None:
                raise GraphNotFound("no app", status=404)
            return _copy(found)
        if m := re.fullmatch(r"servicePrincipals\(appId='(.+)'\)", path):
            sp = self._sp_by_app(m.group(1))
            if sp is None:
                raise GraphNotFound("no sp", status=404)
            return _copy(sp)
        if m := re.fullmatch(r"servicePrincipals/([^/]+)", path):
            if m.group(1) not in self.sps:
                raise GraphNotFound("no sp", status=404)
            return _copy(self.sps[m.group(1)])
        raise AssertionError(f"unexpected GET {path}")

    def list(self, path: str, *, params: Any = None) -> Iterator[dict[str, Any]]:
        m = re.fullmatch(r"servicePrincipals/(.+)/appRoleAssignments", path)
        assert m, path
        yield from [_copy(a) for a in self.assignments.values() if a["principalId"] == m.group(1)]

    def patch(self, path: str, body: Mapping[str, Any], *, headers: Mapping[str, str] | None = None) -> Any:
        m = re.fullmatch(r"applications\(uniqueName='(.+)'\)", path)
        assert m, path
        self._write("patch")
        app = self.app_by_unique(m.group(1))
        if app is None:
            assert (headers or {}).get("Prefer") == "create-if-missing"
            object_id = _id()
            app = {"id": object_id, "appId": _id(), "uniqueName": m.group(1), "passwordCredentials": []}
            self.apps[object_id] = app
            app.update(_copy(body))
            return _copy(app)
        app.update(_copy(body))
        return None

    def post(self, path: str, body: Mapping[str, Any], *, wait_for_replication: bool = False) -> Any:
        if path == "servicePrincipals":
            self._write("sp")
            if self._sp_by_app(body["appId"]):
                raise GraphConflict("exists", status=409)
            sp_id = _id()
            self.sps[sp_id] = {"id": sp_id, "appId": body["appId"], "appRoles": []}
            return _copy(self.sps[sp_id])
        if m := re.fullmatch(r"servicePrincipals/(.+)/appRoleAssignedTo", path):
            self._write("grant")
            for a in self.assignments.values():
                if (a["principalId"], a["resourceId"], a["appRoleId"]) == (
                    body["principalId"],
                    m.group(1),
                    body["appRoleId"],
                ):
                    raise GraphError("Permission being assigned already exists on the object.", status=400)
            assignment_id = _id()
            self.assignments[assignment_id] = {"id": assignment_id, **body}
            return _copy(self.assignments[assignment_id])
        if m := re.fullmatch(r"applications/(.+)/addPassword", path):
            self._write("addPassword")
            app = self.apps[m.group(1)]
            key_id, text = _id(), f"S3cr3t~{uuid.uuid4().hex}"
            self.secrets[key_id] = text
            cred = {
                "keyId": key_id,
                "hint": text[:3],
                "displayName": body["passwordCredential"]["displayName"],
                "startDateTime": body.get("_start", _iso(self.clock())),
                "endDateTime": body["passwordCredential"]["endDateTime"],
                "secretText": None,
            }
            app["passwordCredentials"].append(cred)
            return {**cred, "secretText": text}
        if m := re.fullmatch(r"applications/(.+)/removePassword", path):
            self._write("removePassword")
            app = self.apps[m.group(1)]
            before = len(app["passwordCredentials"])
            app["passwordCredentials"] = [
                c for c in app["passwordCredentials"] if c["keyId"] != body["keyId"]
            ]
            if len(app["passwordCredentials"]) == before:
                raise GraphNotFound("no such key", status=404)
            return None
        raise AssertionError(f"unexpected POST {path}")

    def delete(self, path: str) -> None:
        self._write("delete")
        if m := re.fullmatch(r"servicePrincipals/(.+)/appRoleAssignedTo/(.+)", path):
            self.assignments.pop(m.group(2))
        elif m := re.fullmatch(r"servicePrincipals/(.+)", path):
            self.sps.pop(m.group(1))
        elif m := re.fullmatch(r"applications/(.+)", path):
            self.apps.pop(m.group(1))
        else:
            raise AssertionError(path)

    clock = staticmethod(lambda: T0)


def _iso(epoch: float) -> str:
    from sssctl.kinds._control5 import iso

    return iso(epoch)


def _copy(value: Any) -> Any:
    import copy

    return copy.deepcopy(value)


class FakeDataverse:
    """Just the tables Control 5 touches: emailserverprofiles, organizations, mailboxes."""

    def __init__(self) -> None:
        self.profiles: dict[str, dict[str, Any]] = {}
        self.written_secrets: dict[str, str] = {}  # profile id -> oauthclientsecret (write-only)
        self.default_profile: str | None = None
        self.mailbox_profiles: list[str] = []
        self.writes = 0
        self.ignore_secret = False
        self.fail_verify = False
        self.mailbox_addresses: list[str] = []

    def _etag(self, row: dict[str, Any]) -> None:
        version = int(re.sub(r"\D", "", row["@odata.etag"]) or 0)
        row["@odata.etag"] = f'W/"{version + 1}"'

    def query(
        self, entity_set: str, *, select: Any = None, filter: str | None = None, top: Any = None, **_: Any
    ) -> Iterator[dict[str, Any]]:
        if entity_set == "emailserverprofiles" and filter is None:
            yield from [_copy(r) for r in self.profiles.values()]
        elif entity_set == "emailserverprofiles":
            m = re.fullmatch(r"name eq '(.+)'", filter or "")
            assert m, filter
            name = m.group(1).replace("''", "'").lower()
            yield from [_copy(r) for r in self.profiles.values() if r["name"].lower() == name]
        elif entity_set == "organizations":
            yield {"_defaultemailserverprofileid_value": self.default_profile}
        elif entity_set == "mailboxes" and filter is None:
            yield from [{"emailaddress": a} for a in self.mailbox_addresses]
        elif entity_set == "mailboxes":
            m = re.fullmatch(r"_emailserverprofile_value eq (.+)", filter or "")
            assert m
            yield from [{"mailboxid": _id()} for p in self.mailbox_profiles if p == m.group(1)]
        else:
            raise AssertionError(entity_set)

    def get(self, entity_set: str, key: str, *, select: Any = None, **_: Any) -> dict[str, Any]:
        if key not in self.profiles:
            raise NotFound("missing", status=404)
        if self.fail_verify:
            return {**self.profiles[key], "isoauthclientsecretset": False}
        return _copy(self.profiles[key])

    def create(self, entity_set: str, body: Mapping[str, Any]) -> str:
        assert entity_set == "emailserverprofiles"
        self.writes += 1
        profile_id = _id()
        row = {
            "emailserverprofileid": profile_id,
            "@odata.etag": 'W/"1"',
            "isoauthclientsecretset": False,
            "statecode": 0,
            "statuscode": 1,
        }
        self.profiles[profile_id] = row
        self._store(profile_id, body)
        return profile_id

    def update(
        self, entity_set: str, key: str, body: Mapping[str, Any], *, if_match: str | None = None,
        returning: Sequence[str] | None = None,
    ) -> None:
        row = self.profiles.get(key)
        if row is None:
            raise NotFound("missing", status=404)
        if if_match not in (None, "*", row["@odata.etag"]):
            raise PreconditionFailed("changed", status=412)
        self.writes += 1
        self._store(key, body)
        self._etag(row)

    def delete(self, entity_set: str, key: str, *, if_match: str | None = None) -> None:
        if key not in self.profiles:
            raise NotFound("missing", status=404)
        self.writes += 1
        del self.profiles[key]

    def _store(self, key: str, body: Mapping[str, Any]) -> None:
        row = self.profiles[key]
        for column, value in body.items():
            if column == "oauthclientsecret":
                if not self.ignore_secret:
                    self.written_secrets[key] = value
                    row["isoauthclientsecretset"] = True
            else:
                row[column] = value


class FakeExchange:
    def __init__(
        self, members: Mapping[str, list[str]] | None = None, mailboxes: list[str] | None = None
    ) -> None:
        self.policies: list[dict[str, Any]] = []
        self.members = dict(members or {})
        self.mailboxes = list(mailboxes or [])
        self.writes = 0
        self.calls: list[str] = []

    def invoke(self, cmdlet: str, parameters: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        params = dict(parameters or {})
        self.calls.append(cmdlet)
        if cmdlet == "Get-ApplicationAccessPolicy":
            return _copy(self.policies)
        if cmdlet == "New-ApplicationAccessPolicy":
            self.writes += 1
            policy = {
                "Identity": f"{TENANT}\\{params['AppId']}:{_id()}",
                "AppId": params["AppId"],
                "ScopeName": params["PolicyScopeGroupId"].split("@")[0],
                "ScopeIdentity": params["PolicyScopeGroupId"].split("@")[0],
                "ScopeEmailAddress": params["PolicyScopeGroupId"],
                "AccessRight": params["AccessRight"],
                "Description": params.get("Description"),
            }
            self.policies.append(policy)
            return [_copy(policy)]
        if cmdlet == "Remove-ApplicationAccessPolicy":
            self.writes += 1
            self.policies = [p for p in self.policies if p["Identity"] != params["Identity"]]
            return []
        if cmdlet == "Get-DistributionGroupMember":
            return [{"PrimarySmtpAddress": m} for m in self.members.get(params["Identity"], [])]
        if cmdlet == "Get-Mailbox":
            return [{"PrimarySmtpAddress": m} for m in self.mailboxes]
        if cmdlet == "Test-ApplicationAccessPolicy":
            allowed = False
            for p in self.policies:
                if p["AppId"].lower() == params["AppId"].lower():
                    group = p.get("ScopeEmailAddress") or f"{p['ScopeName']}@contoso.com"
                    allowed |= params["Identity"] in self.members.get(group, [])
            return [{"AccessCheckResult": "Granted" if allowed else "Denied", "Mailbox": params["Identity"]}]
        raise AssertionError(cmdlet)


# --- desired state and a tiny engine ------------------------------------------------------------


def desired(
    *,
    permissions: tuple[str, ...] = ("exchange:full_access_as_app",),
    rotate_days: int = 180,
    group: str | None = "sss-mailboxes@contoso.com",
    profiles: tuple[str, ...] = ("Contoso EXO",),
    mailbox_profile: str | None = None,
    apps: bool = True,
) -> Desired:
    app = AppRegistration(
        key="sss",
        display_name="Dataverse SSS (Contoso)",
        permissions=permissions,
        credential=CredentialSpec(rotate_days=rotate_days),
        mailbox_scope=MailboxScope(group) if group else None,
    )
    return Desired(
        version=1,
        source=Path("t.toml"),
        digest="x",
        environment=Environment(
            name="contoso-prod", url="https://contoso.crm.dynamics.com", tenant_id=TENANT
        ),
        app_registrations={"sss": app} if apps else {},
        custom_profiles={n: CustomProfile(name=n, app_registration="sss") for n in profiles},
        mailbox_defaults=MailboxDefaults(server_profile=mailbox_profile) if mailbox_profile else None,
    )


@dataclass
class World:
    """A tiny stand-in for the engine: read, diff, guard, apply in registry order, keep state."""

    graph: FakeGraph = field(default_factory=FakeGraph)
    dataverse: FakeDataverse = field(default_factory=FakeDataverse)
    exchange: FakeExchange | None = field(default_factory=FakeExchange)
    state: dict[str, dict[str, Any]] = field(default_factory=dict)
    now: float = T0

    def context(self, want: Desired) -> Context:
        self.graph.clock = lambda: self.now  # type: ignore[method-assign]
        return Context(
            desired=want,
            dataverse=self.dataverse,
            graph=self.graph,  # type: ignore[arg-type]
            exchange=self.exchange,
            state=self.state,
            clock=lambda: self.now,
        )  # type: ignore[arg-type]

    def kinds(self) -> list[Any]:
        from sssctl.kinds import app_registration, exchange_scope, server_profile_custom

        return [app_registration.KIND, exchange_scope.KIND, server_profile_custom.KIND]

    def plan(self, want: Desired) -> list[Any]:
        return planning.plan(self.kinds(), self.context(want), want)[0]

    def guard(self, want: Desired) -> list[str]:
        ctx = self.context(want)
        changes, observed = planning.plan(self.kinds(), ctx, want)
        return planning.refusals(self.kinds(), ctx, changes, observed)

    def apply(self, want: Desired, *, stop_after: str | None = None) -> list[Outcome]:
        """Plan, then apply through the real applier; ``stop_after`` simulates a crash."""

        def crash(change: Change) -> None:
            if stop_after == change.address:
                raise KeyboardInterrupt(change.address)

        outcomes = apply_changes(self.kinds(), self.context(want), self.plan(want), self.state,
                                 after_each=crash)
        return [o for o in outcomes if o.status == "applied"]


def actionable(changes: list[Any]) -> list[Any]:
    from sssctl.engine.plan import Action

    return [c for c in changes if c.action in (Action.CREATE, Action.UPDATE, Action.DELETE)]
