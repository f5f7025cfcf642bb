"""Small in-memory stand-ins for Graph and Exchange, and a world that drives the Control 5 kinds.

Dataverse is the shared :class:`~tests.support.fake_dataverse.FakeDataverse`. The fakes
answer the way the real services do where the Control 5 kinds depend on it (404 for
missing objects, duplicate app-role assignments refused, secret text only in the
addPassword answer, write-only ``oauthclientsecret``) and count writes, so tests can prove
"a second apply writes nothing".
"""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sssctl.clients.errors import GraphConflict, GraphError, GraphNotFound
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
from tests.support.fake_dataverse import FakeDataverse

EXO = "00000002-0000-0ff1-ce00-000000000000"
GRAPH = "00000003-0000-0000-c000-000000000000"
TENANT = "8f0c3e5a-1b2d-4c6e-9a7b-5d3f2e1c0b9a"
DAY = 86400.0
T0 = 1_800_000_000.0  # 2027-01-15, a fixed "now"
ORGANIZATION = "d7671e2c-0000-4a6b-9c3d-1e2f3a4b5c6d"

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
    dataverse: FakeDataverse = field(default_factory=lambda: _organization(FakeDataverse()))
    exchange: FakeExchange | None = field(default_factory=FakeExchange)
    state: dict[str, dict[str, Any]] = field(default_factory=dict)
    now: float = T0

    def profiles(self) -> dict[str, dict[str, Any]]:
        """The email server profiles in Dataverse, by id."""
        return self.dataverse.rows("emailserverprofiles")

    def point_default_at(self, profile_id: str | None) -> None:
        """Someone makes ``profile_id`` the organization's default profile for new mailboxes."""
        self.dataverse.row("organizations", ORGANIZATION)["_defaultemailserverprofileid_value"] = profile_id

    def add_mailboxes(self, *addresses: str, profile: str | None = None) -> None:
        for address in addresses:
            self.dataverse.add("mailboxes", {"mailboxid": _id(), "emailaddress": address,
                                             "_emailserverprofile_value": profile})

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


def _organization(dataverse: FakeDataverse) -> FakeDataverse:
    dataverse.add("organizations",
                  {"organizationid": ORGANIZATION, "_defaultemailserverprofileid_value": None})
    return dataverse


def actionable(changes: list[Any]) -> list[Any]:
    from sssctl.engine.plan import Action

    return [c for c in changes if c.action in (Action.CREATE, Action.UPDATE, Action.DELETE)]
