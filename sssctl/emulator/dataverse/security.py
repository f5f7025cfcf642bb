"""Privilege checks from the caller's roles, the way Dataverse's security library answers them.

A caller holds a privilege at the deepest depth any of its roles grants (BU copies mirror
their root copy). Depth then limits which records it reaches: Basic = records the caller
owns, Local = its business unit, Deep = its unit and the units below, Global = all.
Collection reads are narrowed to reachable rows instead of failing, as RetrieveMultiple
does; single-record operations fail with 403 ``0x80040220`` naming the missing privilege.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import NO_ROLES, NOT_A_MEMBER, PRIVILEGE_DENIED, DataverseFault
from .schema import BY_LOGICAL, Table
from .seed import BASIC, DEEP, GLOBAL, LOCAL
from .store import Row, Store

# Privilege names use the entity's schema name, not the table's logical name.
PRIVILEGE_ENTITY = {
    "organization": "Organization",
    "mailbox": "Mailbox",
    "emailserverprofile": "EmailServerProfile",
    "role": "Role",
    "roleprivileges": "Role",  # reading the intersect table is reading roles
    "privilege": "Privilege",
    "businessunit": "BusinessUnit",
    "systemuser": "User",
    "queue": "Queue",
    "usersettings": "UserSettings",
    "email": "Email",
    "activityparty": "Activity",
}
APPROVE = "prvApproveRejectEmailAddress"
# Well-known Entra role template ids (the same in every tenant).
GLOBAL_ADMINISTRATOR = "62e90394-69f5-4237-9190-012177145e10"
EXCHANGE_ADMINISTRATOR = "29232cdf-9323-42fd-ade2-1d097af3e4de"


def may_approve_exchange_online(who: Principal) -> bool:
    """Approving Exchange Online mailboxes also needs System Administrator plus a Global or
    Exchange administrator, or the Delegated Mailbox Approver role (reference §4.3)."""
    admin = bool(who.directory_roles & {GLOBAL_ADMINISTRATOR, EXCHANGE_ADMINISTRATOR})
    delegated = "Delegated Mailbox Approver" in who.role_names
    return "System Administrator" in who.role_names and (admin or delegated)


_ORDER = (GLOBAL, DEEP, LOCAL, BASIC)


@dataclass
class Principal:
    """The systemuser a verified caller maps to, with its effective privileges."""

    user: Row
    role_count: int
    privileges: dict[str, int]  # privilege name -> deepest depth mask held
    role_names: frozenset[str] = frozenset()
    directory_roles: frozenset[str] = frozenset()  # Entra role template ids from the token's "wids"

    @property
    def id(self) -> str:
        return str(self.user["systemuserid"])

    @property
    def business_unit(self) -> str:
        return str(self.user["_businessunitid_value"])


def find_user(store: Store, app_id: str, object_id: str, *, delegated: bool = False) -> Row | None:
    """Application users match on ``applicationid``, people on ``azureactivedirectoryobjectid``.

    A delegated token (a person signed in through some client app) carries the client's
    app id too; Dataverse maps it to the person by ``oid``, never to that app's
    application user, so ``delegated`` skips the application match.
    """
    with store.lock:
        if store.caller_index is None:
            index: dict[str, str] = {}
            for user in store.table("systemuser").values():
                if user.get("azureactivedirectoryobjectid"):
                    index[f"oid:{str(user['azureactivedirectoryobjectid']).lower()}"] = user["systemuserid"]
                if user.get("applicationid"):
                    index[f"app:{str(user['applicationid']).lower()}"] = user["systemuserid"]
            store.caller_index = index
        by_app = None if delegated else store.caller_index.get(f"app:{app_id.lower()}")
        user_id = by_app or store.caller_index.get(f"oid:{object_id.lower()}")
        return store.get("systemuser", user_id) if user_id else None


def principal_for(
    store: Store,
    app_id: str,
    object_id: str,
    directory_roles: tuple[str, ...] = (),
    *,
    delegated: bool = False,
) -> Principal:
    user = find_user(store, app_id, object_id, delegated=delegated)
    if user is None or user.get("isdisabled"):
        raise DataverseFault(403, NOT_A_MEMBER, "The user is not a member of the organization.")
    return principal_of(store, user, directory_roles)


def principal_of(store: Store, user: Row, directory_roles: tuple[str, ...]) -> Principal:
    """The user's effective privileges: the deepest depth any of its roles grants."""
    role_ids = store.user_roles.get(user["systemuserid"], [])
    if not role_ids:
        raise DataverseFault(
            403,
            NO_ROLES,
            "SecLib::RetrievePrivilegeForUser failed - no roles are assigned to "
            f"user. Returned hr = -2147209463, User: {user['systemuserid']}",
        )
    names = {p["privilegeid"]: p["name"] for p in store.table("privilege").values()}
    held: dict[str, int] = {}
    for role_id in role_ids:
        for privilege_id, mask in store.privileges_of_role(role_id).items():
            name = names.get(privilege_id)
            if name is not None:
                held[name] = max(held.get(name, 0), mask)
    roles = store.table("role")
    return Principal(
        user=user,
        role_count=len(role_ids),
        privileges=held,
        role_names=frozenset(roles[r]["name"] for r in role_ids if r in roles),
        directory_roles=frozenset(r.lower() for r in directory_roles),
    )


def denied(store: Store, who: Principal, privilege: str, table: Table) -> DataverseFault:
    privilege_id = next(
        (p["privilegeid"] for p in store.table("privilege").values() if p["name"] == privilege),
        "00000000-0000-0000-0000-000000000000",
    )
    access_mode = who.user.get("accessmode", 0)
    return DataverseFault(
        403,
        PRIVILEGE_DENIED,
        f"Principal user (Id={who.id}, type=8, roleCount={who.role_count}, "
        f"privilegeCount={len(who.privileges)}, "
        f"accessMode={access_mode}), is missing {privilege} privilege (Id={privilege_id}) on OTC={table.otc} "
        f"for entity '{table.logical}'. context.Caller={who.id}. Consider assigning a role with the required "
        "privilege to the user.",
    )


def privilege_name(verb: str, table: Table) -> str:
    return f"prv{verb}{PRIVILEGE_ENTITY[table.logical]}"


def _units_below(store: Store, unit: str) -> set[str]:
    below = {unit}
    changed = True
    units = store.table("businessunit")
    while changed:
        changed = False
        for row in units.values():
            if row.get("_parentbusinessunitid_value") in below and row["businessunitid"] not in below:
                below.add(row["businessunitid"])
                changed = True
    return below


def _owner(table: Table, row: Row) -> tuple[str | None, str | None]:
    if table.logical == "usersettings":
        return row.get("systemuserid"), row.get("businessunitid")
    if table.logical == "systemuser":
        return row.get("systemuserid"), row.get("_businessunitid_value")
    unit = row.get("_owningbusinessunit_value") or row.get("_businessunitid_value")
    return row.get("_ownerid_value"), unit


class Reach:
    """Which rows of one table a principal reaches with one privilege."""

    def __init__(self, store: Store, who: Principal, privilege: str, table: Table) -> None:
        self.who = who
        self.table = table
        self.mask = who.privileges.get(privilege, 0)
        self.units: set[str] | None = None
        if self.mask and self.mask < GLOBAL:
            self.units = _units_below(store, who.business_unit) if self.mask >= DEEP else {who.business_unit}

    def __bool__(self) -> bool:
        return self.mask > 0

    def reaches(self, row: Row) -> bool:
        if self.mask >= GLOBAL:
            return True
        if not self.mask:
            return False
        owner, unit = _owner(self.table, row)
        if self.mask == BASIC:
            return owner == self.who.id
        return owner == self.who.id or (self.units is not None and unit in self.units)


def require(store: Store, who: Principal, verb: str, table: Table, row: Row | None = None) -> Reach:
    """Raise 403 unless ``who`` may ``verb`` this table (and this row, when given)."""
    name = verb if verb.startswith("prv") else privilege_name(verb, table)
    reach = Reach(store, who, name, table)
    if not reach or (row is not None and not reach.reaches(row)):
        raise denied(store, who, name, table)
    return reach


def impersonated(store: Store, who: Principal, headers: dict[str, str]) -> Principal:
    """Act as another user (``CallerObjectId`` = Entra object id, ``MSCRMCallerID`` = systemuser
    id) when the caller holds prvActOnBehalfOfAnotherUser, as Dataverse allows."""
    object_id, user_id = headers.get("callerobjectid"), headers.get("mscrmcallerid")
    if not object_id and not user_id:
        return who
    if "prvActOnBehalfOfAnotherUser" not in who.privileges:
        raise denied(store, who, "prvActOnBehalfOfAnotherUser", BY_LOGICAL["systemuser"])
    user = store.get("systemuser", user_id.strip()) if user_id else find_user(store, "", object_id or "")
    if user is None or user.get("isdisabled"):
        raise DataverseFault(
            403,
            NOT_A_MEMBER,
            f"The user to act for ({object_id or user_id}) is not an enabled user of the organization.",
        )
    return principal_of(store, user, ())
