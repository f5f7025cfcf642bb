"""RBAC for Applications in the emulated Exchange Online: service principal pointers,
management scopes, application role assignments, and the authorization they give.

Sources (Microsoft documents the cmdlets and their example output, not the wire format):

* the model, the role table, "AutoDiscover can't be accessed when using RBAC Application
  roles", "these permission grants are independent of the unscoped grants in Microsoft
  Entra ID", and 30 minutes to 2 hours before a change takes effect:
  https://learn.microsoft.com/exchange/permissions-exo/application-rbac (also published as
  https://learn.microsoft.com/graph/auth-limit-mailbox-access);
* ``New-ServicePrincipal -AppId -ObjectId [-DisplayName]`` (the *service principal*
  object id, not the application's):
  https://learn.microsoft.com/powershell/module/exchange/new-serviceprincipal;
* ``New-ManagementScope -Name -RecipientRestrictionFilter`` and the OPATH properties
  (``MemberOfGroup`` takes a group's distinguished name, ``CustomAttribute1``..15,
  ``PrimarySmtpAddress``): https://learn.microsoft.com/powershell/module/exchange/new-managementscope;
* ``New-ManagementRoleAssignment -App -Role -CustomResourceScope |
  -RecipientAdministrativeUnitScope``:
  https://learn.microsoft.com/powershell/module/exchange/new-managementroleassignment;
* ``Test-ServicePrincipalAuthorization -Identity [-Resource]`` and its columns
  ``RoleName GrantedPermissions AllowedResourceScope ScopeType InScope``:
  https://learn.microsoft.com/powershell/module/exchange/test-serviceprincipalauthorization.

Authorization is additive, as documented: an app reaches a mailbox through its Entra ID
consent (narrowed by an application access policy, if any) *or* through an RBAC role
whose scope contains the mailbox. ``Test-ServicePrincipalAuthorization`` reports only
the RBAC side, like the real cmdlet, so a tenant-wide consent stays invisible to it: the
trap the client must look for in Entra ID. A role assignment takes effect
``Faults.rbac_propagation_seconds`` after it was made.

Seed data: the security group's members carry ``CustomAttribute1 = 'SSS'``, and an
administrative unit "SSS Mailboxes AU" holds the same mailboxes.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sssctl.emulator import constants as c

# Application roles as Exchange names them, and the permissions each grants.
APPLICATION_ROLES: Mapping[str, tuple[str, ...]] = {
    "Application Mail.Read": ("Mail.Read",),
    "Application Mail.ReadBasic": ("Mail.ReadBasic",),
    "Application Mail.ReadWrite": ("Mail.ReadWrite",),
    "Application Mail.Send": ("Mail.Send",),
    "Application MailboxSettings.Read": ("MailboxSettings.Read",),
    "Application MailboxSettings.ReadWrite": ("MailboxSettings.ReadWrite",),
    "Application Calendars.Read": ("Calendars.Read",),
    "Application Calendars.ReadWrite": ("Calendars.ReadWrite",),
    "Application Contacts.Read": ("Contacts.Read",),
    "Application Contacts.ReadWrite": ("Contacts.ReadWrite",),
    "Application Mail Full Access": ("Mail.ReadWrite", "Mail.Send"),
    "Application Exchange Full Access": ("Mail.ReadWrite", "Mail.Send", "MailboxSettings.ReadWrite",
                                         "Calendars.ReadWrite", "Contacts.ReadWrite"),
    "Application EWS.AccessAsApp": ("EWS.AccessAsApp",),
}
# Entra ID application permissions that open whole mailboxes (the additive side).
EWS_CONSENT = "full_access_as_app"
SSS_ATTRIBUTE = ("CustomAttribute1", "SSS")
AU_ID = "d4e5f6a7-b8c9-4d0e-8f1a-2b3c4d5e6f70"
AU_NAME = "SSS Mailboxes AU"
_DN_SUFFIX = (f"OU={c.TENANT_DOMAIN},OU=Microsoft Exchange Hosted Organizations,"
              "DC=NAMPR01A001,DC=prod,DC=outlook,DC=com")
_COMPARISON = re.compile(r"^\s*(?P<prop>[A-Za-z0-9]+)\s+-(?P<op>eq|ne|like)\s+'(?P<value>[^']*)'\s*$",
                         re.IGNORECASE)
_FILTERABLE = frozenset({"primarysmtpaddress", "memberofgroup",
                         *(f"customattribute{n}" for n in range(1, 16))})


class RbacError(Exception):
    """A cmdlet failure: exception type name and text (rendered by the Exchange service)."""

    def __init__(self, type_name: str, text: str) -> None:
        super().__init__(text)
        self.type_name, self.text = type_name, text


def distinguished_name(name: str) -> str:
    return f"CN={name},{_DN_SUFFIX}"


@dataclass(frozen=True)
class Mailbox:
    """What a filter can see of a mailbox."""

    address: str
    groups: frozenset[str]           # distinguished names of the groups it is a member of
    attributes: Mapping[str, str]


def evaluate_filter(text: str, mailbox: Mailbox) -> bool:
    """OPATH restricted to comparisons joined by ``-and`` or ``-or`` (not mixed)."""
    parts, joiner = _split(text)
    results = [_compare(part, mailbox) for part in parts]
    return all(results) if joiner == "and" else any(results)


def check_filter(text: str) -> None:
    """Refuse a filter Exchange would refuse, before anything is stored."""
    parts, _ = _split(text)
    for part in parts:
        match = _COMPARISON.match(part)
        if match is None or match["prop"].lower() not in _FILTERABLE:
            raise RbacError("Microsoft.Exchange.Configuration.Tasks.TaskArgumentException",
                            "Invalid filter syntax. For a description of the filter parameter syntax see "
                            f'the command help. "{text}" at position 1.')


def _split(text: str) -> tuple[list[str], str]:
    has_and = re.search(r"\s-and\s", text, re.IGNORECASE) is not None
    has_or = re.search(r"\s-or\s", text, re.IGNORECASE) is not None
    if has_and and has_or:
        raise RbacError("Microsoft.Exchange.Configuration.Tasks.TaskArgumentException",
                        f'Invalid filter syntax: the emulator does not mix -and and -or. "{text}"')
    joiner = "or" if has_or else "and"
    return re.split(rf"\s-{joiner}\s", text, flags=re.IGNORECASE), joiner


def _compare(part: str, mailbox: Mailbox) -> bool:
    match = _COMPARISON.match(part)
    if match is None:
        return False
    prop, op, wanted = match["prop"].lower(), match["op"].lower(), match["value"].lower()
    if prop == "memberofgroup":
        values = {g.lower() for g in mailbox.groups}
    elif prop == "primarysmtpaddress":
        values = {mailbox.address.lower()}
    else:
        values = {v.lower() for k, v in mailbox.attributes.items() if k.lower() == prop}
    if op == "like":
        pattern = re.compile("^" + re.escape(wanted).replace("\\*", ".*") + "$")
        return any(pattern.match(v) for v in values)
    found = wanted in values
    return found if op == "eq" else not found


@dataclass
class RbacStore:
    """Pointers, scopes and assignments; the caller holds the service lock."""

    clock: Callable[[], float] = time.time
    pointers: list[dict[str, Any]] = field(default_factory=list)
    scopes: list[dict[str, Any]] = field(default_factory=list)
    assignments: list[dict[str, Any]] = field(default_factory=list)

    def reset(self) -> None:
        self.pointers.clear()
        self.scopes.clear()
        self.assignments.clear()

    def snapshot(self) -> dict[str, Any]:
        return {"servicePrincipals": [dict(p) for p in self.pointers],
                "managementScopes": [dict(s) for s in self.scopes],
                "managementRoleAssignments": [dict(a) for a in self.assignments]}

    # --- service principals --------------------------------------------------------------
    def new_pointer(self, app_id: str, object_id: str, display_name: str) -> dict[str, Any]:
        if any(p["AppId"].lower() == app_id.lower() for p in self.pointers):
            raise RbacError("Microsoft.Exchange.Data.Directory.ADObjectAlreadyExistsException",
                            f"A service principal with AppId {app_id} already exists.")
        pointer = {"DisplayName": display_name or app_id, "AppId": app_id, "ObjectId": object_id,
                   "ServiceId": object_id, "Name": object_id, "Identity": object_id,
                   "Guid": str(uuid.uuid4()), "Organization": c.TENANT_DOMAIN}
        self.pointers.append(pointer)
        return dict(pointer)

    def pointer(self, identity: str) -> dict[str, Any] | None:
        wanted = identity.strip().lower()
        for pointer in self.pointers:
            names = {pointer[k].lower() for k in ("AppId", "ObjectId", "DisplayName", "Identity", "Guid")}
            if wanted in names:
                return pointer
        return None

    def remove_pointer(self, pointer: dict[str, Any]) -> None:
        self.assignments[:] = [a for a in self.assignments if a["RoleAssignee"] != pointer["Identity"]]
        self.pointers.remove(pointer)

    # --- scopes --------------------------------------------------------------------------
    def new_scope(self, name: str, recipient_filter: str) -> dict[str, Any]:
        if self.scope(name) is not None:
            raise RbacError("Microsoft.Exchange.Data.Directory.ADObjectAlreadyExistsException",
                            f"The management scope \"{name}\" already exists.")
        check_filter(recipient_filter)
        scope = {"Name": name, "Identity": name, "Guid": str(uuid.uuid4()), "RecipientRoot": None,
                 "RecipientFilter": recipient_filter, "ScopeRestrictionType": "RecipientScope",
                 "Exclusive": False, "IsValid": True}
        self.scopes.append(scope)
        return dict(scope)

    def scope(self, identity: str) -> dict[str, Any] | None:
        wanted = identity.strip().lower()
        return next((s for s in self.scopes if wanted in {s["Name"].lower(), s["Guid"].lower()}), None)

    def remove_scope(self, scope: dict[str, Any]) -> None:
        users = [a["Name"] for a in self.assignments if a.get("CustomResourceScope") == scope["Name"]]
        if users:
            raise RbacError("Microsoft.Exchange.Management.RbacTasks.ScopeInUseException",
                            f"The management scope \"{scope['Name']}\" can't be removed because it's used by "
                            f"the following management role assignments: {', '.join(users)}.")
        self.scopes.remove(scope)

    # --- assignments ---------------------------------------------------------------------
    def new_assignment(self, name: str, pointer: Mapping[str, Any], role: str,
                       scope: Mapping[str, Any] | None, unit: tuple[str, str] | None) -> dict[str, Any]:
        if any(a["Name"].lower() == name.lower() for a in self.assignments):
            raise RbacError("Microsoft.Exchange.Data.Directory.ADObjectAlreadyExistsException",
                            f"The role assignment \"{name}\" already exists.")
        write_scope = "CustomRecipientScope" if scope else "AdministrativeUnit" if unit else "Organization"
        assignment = {
            "Name": name, "Identity": name, "Guid": str(uuid.uuid4()), "Role": role,
            "RoleAssignee": pointer["Identity"], "RoleAssigneeName": pointer["DisplayName"],
            "RoleAssigneeType": "ServicePrincipal", "AssignmentMethod": "Direct",
            "CustomResourceScope": scope["Name"] if scope else None,
            "RecipientAdministrativeUnitScope": unit[0] if unit else None,
            "RecipientWriteScope": write_scope, "RoleAssignmentDelegationType": "Regular", "Enabled": True,
            "WhenCreatedUTC": self.clock(),
        }
        self.assignments.append(assignment)
        return shown(assignment)

    def assignments_of(self, pointer: Mapping[str, Any]) -> list[dict[str, Any]]:
        return [a for a in self.assignments if a["RoleAssignee"] == pointer["Identity"]]

    def in_effect(self, assignment: Mapping[str, Any], delay: float) -> bool:
        return self.clock() >= float(assignment["WhenCreatedUTC"]) + delay

    def covers(self, assignment: Mapping[str, Any], mailbox: Mailbox,
               units: Mapping[str, frozenset[str]]) -> bool:
        if assignment["CustomResourceScope"]:
            scope = self.scope(str(assignment["CustomResourceScope"]))
            return scope is not None and evaluate_filter(str(scope["RecipientFilter"]), mailbox)
        if assignment["RecipientAdministrativeUnitScope"]:
            unit = str(assignment["RecipientAdministrativeUnitScope"])
            return mailbox.address in units.get(unit, frozenset())
        return True


def shown(assignment: Mapping[str, Any]) -> dict[str, Any]:
    """As the cmdlet prints it: the creation time as an ISO date, not the internal number."""
    out = dict(assignment)
    created = time.gmtime(float(assignment["WhenCreatedUTC"]))
    out["WhenCreatedUTC"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", created)
    return out


_MISSING = "System.Management.Automation.ParameterBindingException"
_NOT_FOUND = "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException"

PARAMETERS: Mapping[str, frozenset[str]] = {
    "New-ServicePrincipal": frozenset({"AppId", "ObjectId", "ServiceId", "DisplayName", "Confirm"}),
    "Get-ServicePrincipal": frozenset({"Identity"}),
    "Remove-ServicePrincipal": frozenset({"Identity", "Confirm"}),
    "New-ManagementScope": frozenset({"Name", "RecipientRestrictionFilter", "RecipientRoot", "Exclusive",
                                      "Force", "Confirm"}),
    "Get-ManagementScope": frozenset({"Identity"}),
    "Set-ManagementScope": frozenset({"Identity", "Name", "RecipientRestrictionFilter", "Confirm"}),
    "Remove-ManagementScope": frozenset({"Identity", "Confirm"}),
    "New-ManagementRoleAssignment": frozenset({"Name", "App", "Role", "CustomResourceScope",
                                               "RecipientAdministrativeUnitScope", "Confirm"}),
    "Get-ManagementRoleAssignment": frozenset({"Identity", "Role", "RoleAssignee"}),
    "Remove-ManagementRoleAssignment": frozenset({"Identity", "Confirm"}),
    "Test-ServicePrincipalAuthorization": frozenset({"Identity", "Resource"}),
}


def _required(p: Mapping[str, Any], name: str) -> str:
    value = str(p.get(name) or "").strip()
    if not value:
        raise RbacError(_MISSING, f"Cannot process command because of one or more missing mandatory "
                        f"parameters: {name}.")
    return value


def not_found(raw: Any) -> RbacError:
    return RbacError(_NOT_FOUND, f"The operation couldn't be performed because object '{raw}' couldn't be "
                     f"found on '{c.TENANT_DOMAIN}'.")


class RbacCmdlets:
    """The RBAC for Applications cmdlets over one :class:`RbacStore`.

    ``entra_sp`` answers the Entra ID service principal for an appId (the pointer must name
    it, by its own object id); ``mailbox`` describes an existing mailbox or answers None;
    ``units`` lists the administrative units' members; ``delay`` is the propagation knob.
    """

    def __init__(self, store: RbacStore, *, entra_sp: Callable[[str], Mapping[str, Any] | None],
                 mailbox: Callable[[str], Mailbox | None], units: Callable[[], Mapping[str, frozenset[str]]],
                 delay: Callable[[], float],
                 management_role: Callable[[str], str | None] = lambda _: None) -> None:
        self.store, self.entra_sp, self.mailbox = store, entra_sp, mailbox
        self.management_role = management_role
        self.units, self.delay = units, delay
        self.cmdlets: dict[str, Callable[[dict[str, Any]], list[dict[str, Any]]]] = {
            "New-ServicePrincipal": self._new_sp, "Get-ServicePrincipal": self._get_sp,
            "Remove-ServicePrincipal": self._remove_sp, "New-ManagementScope": self._new_scope,
            "Get-ManagementScope": self._get_scope, "Set-ManagementScope": self._set_scope,
            "Remove-ManagementScope": self._remove_scope,
            "New-ManagementRoleAssignment": self._new_assignment,
            "Get-ManagementRoleAssignment": self._get_assignment,
            "Remove-ManagementRoleAssignment": self._remove_assignment,
            "Test-ServicePrincipalAuthorization": self._test,
        }

    def _new_sp(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        app_id = _required(p, "AppId")
        object_id = str(p.get("ObjectId") or p.get("ServiceId") or "").strip()
        if not object_id:
            raise RbacError(_MISSING, "Cannot process command because of one or more missing mandatory "
                            "parameters: ObjectId.")
        entra = self.entra_sp(app_id)
        if entra is None or str(entra["id"]).lower() != object_id.lower():
            raise RbacError("Microsoft.Exchange.Configuration.Tasks.TaskArgumentException",
                            f"No service principal with AppId {app_id} and ObjectId {object_id} exists in "
                            "Microsoft Entra ID. Use the object id of the enterprise application (service "
                            "principal), not of the app registration.")
        return [self.store.new_pointer(app_id, object_id, str(p.get("DisplayName") or entra["displayName"]))]

    def _pointer(self, raw: Any) -> dict[str, Any]:
        pointer = self.store.pointer(str(raw or ""))
        if pointer is None:
            raise not_found(raw)
        return pointer

    def _get_sp(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        if p.get("Identity"):
            return [dict(self._pointer(p["Identity"]))]
        return [dict(x) for x in self.store.pointers]

    def _remove_sp(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        self.store.remove_pointer(self._pointer(_required(p, "Identity")))
        return []

    def _scope(self, raw: Any) -> dict[str, Any]:
        scope = self.store.scope(str(raw or ""))
        if scope is None:
            raise not_found(raw)
        return scope

    def _new_scope(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        return [self.store.new_scope(_required(p, "Name"), _required(p, "RecipientRestrictionFilter"))]

    def _get_scope(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        if p.get("Identity"):
            return [dict(self._scope(p["Identity"]))]
        return [dict(x) for x in self.store.scopes]

    def _set_scope(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        scope = self._scope(_required(p, "Identity"))
        if "RecipientRestrictionFilter" in p:
            text = _required(p, "RecipientRestrictionFilter")
            check_filter(text)
            scope["RecipientFilter"] = text
        return []

    def _remove_scope(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        self.store.remove_scope(self._scope(_required(p, "Identity")))
        return []

    def _new_assignment(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        pointer = self._pointer(_required(p, "App"))
        role = _required(p, "Role")
        known = {r.lower(): r for r in APPLICATION_ROLES}
        management = self.management_role(role)
        if management is not None and role.lower() not in known:
            # An admin role for the app itself (its cmdlets), organization-wide.
            name = str(p.get("Name") or f"{management}-{pointer['DisplayName']}")
            return [self.store.new_assignment(name, pointer, management, None, None)]
        if role.lower() not in known:
            raise not_found(role)
        if p.get("CustomResourceScope") and p.get("RecipientAdministrativeUnitScope"):
            raise RbacError("System.Management.Automation.ParameterBindingException",
                            "Parameter set cannot be resolved using the specified named parameters.")
        scope = self._scope(p["CustomResourceScope"]) if p.get("CustomResourceScope") else None
        unit = None
        if p.get("RecipientAdministrativeUnitScope"):
            raw = str(p["RecipientAdministrativeUnitScope"])
            if raw not in self.units():
                raise not_found(raw)
            unit = (raw, raw)
        role = known[role.lower()]
        name = str(p.get("Name") or f"{role}-{pointer['DisplayName']}")
        return [self.store.new_assignment(name, pointer, role, scope, unit)]

    def _get_assignment(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        rows = self.store.assignments
        if p.get("Identity"):
            wanted = str(p["Identity"]).lower()
            rows = [a for a in rows if wanted in {a["Name"].lower(), a["Guid"].lower()}]
            if not rows:
                raise not_found(p["Identity"])
        if p.get("RoleAssignee"):
            pointer = self._pointer(p["RoleAssignee"])
            rows = [a for a in rows if a["RoleAssignee"] == pointer["Identity"]]
        if p.get("Role"):
            rows = [a for a in rows if a["Role"].lower() == str(p["Role"]).lower()]
        return [shown(a) for a in rows]

    def _remove_assignment(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        wanted = _required(p, "Identity").lower()
        found = next((a for a in self.store.assignments
                      if wanted in {a["Name"].lower(), a["Guid"].lower()}), None)
        if found is None:
            raise not_found(p["Identity"])
        self.store.assignments.remove(found)
        return []

    def _test(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        pointer = self._pointer(_required(p, "Identity"))
        mailbox = None
        if p.get("Resource"):
            mailbox = self.mailbox(str(p["Resource"]))
            if mailbox is None:
                raise not_found(p["Resource"])
        return [self._row(a, mailbox) for a in self.store.assignments_of(pointer)
                if a["Role"] in APPLICATION_ROLES]

    def _row(self, assignment: Mapping[str, Any], mailbox: Mailbox | None) -> dict[str, Any]:
        scope_type = str(assignment["RecipientWriteScope"])
        allowed = assignment["CustomResourceScope"] or assignment["RecipientAdministrativeUnitScope"] or ""
        in_scope: Any = "Not Run"
        if mailbox is not None:
            in_scope = self.store.in_effect(assignment, self.delay()) and self.store.covers(
                assignment, mailbox, self.units())
        return {"RoleName": assignment["Role"],
                "GrantedPermissions": ", ".join(APPLICATION_ROLES[str(assignment["Role"])]),
                "AllowedResourceScope": allowed, "ScopeType": scope_type, "InScope": in_scope}

    def reaches(self, app_id: str, mailbox: Mailbox, roles: frozenset[str]) -> bool:
        """Whether some RBAC assignment in effect gives the app any of ``roles`` on the mailbox."""
        pointer = self.store.pointer(app_id)
        if pointer is None:
            return False
        return any(a["Role"] in roles and self.store.in_effect(a, self.delay())
                   and self.store.covers(a, mailbox, self.units())
                   for a in self.store.assignments_of(pointer))
