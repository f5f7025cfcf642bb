"""Exchange management roles limited to named cmdlets, and the authorization they give an app.

Exchange Online authorizes an app's admin cmdlets by Exchange RBAC: the app holds the
``Exchange.ManageAsApp`` application permission, and either an Entra administrator role
(Exchange Administrator: every cmdlet) or, through its Exchange service principal pointer,
management role assignments whose roles list the cmdlets it may run:
https://learn.microsoft.com/powershell/exchange/app-only-auth-powershell-v2#assign-custom-exchange-online-role-groups-to-the-application-using-service-principals.
A custom role is a copy of a built-in parent with entries removed, never added beyond it
(``New-ManagementRole -Name -Parent``, ``Remove-ManagementRoleEntry "<role>\\<cmdlet>"``):
https://learn.microsoft.com/powershell/module/exchange/new-managementrole,
https://learn.microsoft.com/powershell/module/exchange/remove-managementroleentry.
A cmdlet outside the caller's roles does not exist for it: Exchange answers as for an unknown
command (RBAC hides what a session may not run).

Guesses, written down because Microsoft documents the model, not these tables: which
built-in role holds which of the emulated cmdlets (``BUILT_IN`` below; the real lists are
found with ``Get-ManagementRoleEntry "*\\<cmdlet>"``), and the texts of the errors.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sssctl.emulator import constants as c

BUILT_IN: Mapping[str, frozenset[str]] = {
    "Organization Configuration": frozenset({
        "New-ApplicationAccessPolicy", "Get-ApplicationAccessPolicy", "Set-ApplicationAccessPolicy",
        "Remove-ApplicationAccessPolicy", "Test-ApplicationAccessPolicy", "Get-OrganizationConfig",
        "Set-OrganizationConfig"}),
    "Mail Recipients": frozenset({"Get-CASMailbox", "Set-CASMailbox", "Get-Recipient"}),
    "View-Only Configuration": frozenset({
        "Get-ApplicationAccessPolicy", "Test-ApplicationAccessPolicy", "Get-ServicePrincipal",
        "Get-OrganizationConfig",
        "Get-ManagementScope", "Get-ManagementRoleAssignment", "Get-ManagementRole",
        "Get-ManagementRoleEntry", "Test-ServicePrincipalAuthorization"}),
    "View-Only Recipients": frozenset({"Get-Recipient", "Get-DistributionGroupMember", "Get-CASMailbox"}),
    "Role Management": frozenset({
        "New-ServicePrincipal", "Get-ServicePrincipal", "Remove-ServicePrincipal", "New-ManagementScope",
        "Get-ManagementScope", "Set-ManagementScope", "Remove-ManagementScope",
        "New-ManagementRoleAssignment", "Get-ManagementRoleAssignment", "Remove-ManagementRoleAssignment",
        "New-ManagementRole", "Get-ManagementRole", "Remove-ManagementRole", "Get-ManagementRoleEntry",
        "Remove-ManagementRoleEntry", "Test-ServicePrincipalAuthorization"}),
}
PARAMETERS: dict[str, frozenset[str]] = {
    "New-ManagementRole": frozenset({"Name", "Parent", "Description", "Confirm"}),
    "Get-ManagementRole": frozenset({"Identity"}),
    "Remove-ManagementRole": frozenset({"Identity", "Confirm"}),
    "Get-ManagementRoleEntry": frozenset({"Identity"}),
    "Remove-ManagementRoleEntry": frozenset({"Identity", "Confirm"}),
}
_EXISTS = "Microsoft.Exchange.Data.Directory.ADObjectAlreadyExistsException"
_NOT_FOUND = "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException"
_INVALID = "Microsoft.Exchange.Configuration.Tasks.TaskArgumentException"


class RoleError(Exception):
    def __init__(self, type_name: str, text: str) -> None:
        super().__init__(text)
        self.type_name, self.text = type_name, text


@dataclass
class ManagementRoles:
    """Custom management roles (built-in ones are fixed); the caller holds the service lock."""

    custom: dict[str, dict[str, Any]] = field(default_factory=dict)

    def reset(self) -> None:
        self.custom.clear()

    def snapshot(self) -> dict[str, Any]:
        return {"managementRoles": [{**r, "Entries": sorted(r["Entries"])} for r in self.custom.values()]}

    def name_of(self, raw: str) -> str | None:
        wanted = raw.strip().lower()
        for name in (*BUILT_IN, *self.custom):
            if name.lower() == wanted:
                return name
        return None

    def cmdlets_of(self, role: str) -> frozenset[str]:
        name = self.name_of(role)
        if name is None:
            return frozenset()
        return BUILT_IN.get(name) or frozenset(self.custom[name]["Entries"])

    # --- cmdlets -----------------------------------------------------------------------
    def cmdlets(self) -> dict[str, Callable[[dict[str, Any]], list[dict[str, Any]]]]:
        return {"New-ManagementRole": self._new, "Get-ManagementRole": self._get,
                "Remove-ManagementRole": self._remove, "Get-ManagementRoleEntry": self._entries,
                "Remove-ManagementRoleEntry": self._remove_entry}

    def _shown(self, name: str) -> dict[str, Any]:
        if name in BUILT_IN:
            return {"Name": name, "Identity": name, "Parent": None, "IsRootRole": True,
                    "RoleType": name.replace(" ", "").replace("-", ""),
                    "Guid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"exchange-role:{name}"))}
        role = self.custom[name]
        return {k: v for k, v in role.items() if k != "Entries"}

    def _new(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        name, parent_raw = str(p.get("Name") or "").strip(), str(p.get("Parent") or "").strip()
        if not name or not parent_raw:
            raise RoleError("System.Management.Automation.ParameterBindingException",
                            "Cannot process command because of one or more missing mandatory parameters: "
                            + ("Name" if not name else "Parent") + ".")
        if self.name_of(name) is not None:
            raise RoleError(_EXISTS, f"The role \"{name}\" already exists.")
        parent = self.name_of(parent_raw)
        if parent is None:
            raise RoleError(_NOT_FOUND, f"The operation couldn't be performed because object '{parent_raw}' "
                            f"couldn't be found on '{c.TENANT_DOMAIN}'.")
        self.custom[name] = {"Name": name, "Identity": name, "Parent": parent, "IsRootRole": False,
                             "RoleType": "Custom", "Description": str(p.get("Description") or ""),
                             "Guid": str(uuid.uuid4()), "Entries": set(self.cmdlets_of(parent))}
        return [self._shown(name)]

    def _role(self, raw: Any) -> str:
        name = self.name_of(str(raw or ""))
        if name is None:
            raise RoleError(_NOT_FOUND, f"The operation couldn't be performed because object '{raw}' "
                            f"couldn't be found on '{c.TENANT_DOMAIN}'.")
        return name

    def _get(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        if p.get("Identity"):
            return [self._shown(self._role(p["Identity"]))]
        return [self._shown(n) for n in (*BUILT_IN, *self.custom)]

    def _remove(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        name = self._role(p.get("Identity"))
        if name in BUILT_IN:
            raise RoleError(_INVALID, f"Built-in role \"{name}\" can't be removed.")
        del self.custom[name]
        return []

    def _split(self, raw: Any) -> tuple[str, str]:
        text = str(raw or "")
        role, sep, cmdlet = text.partition("\\")
        if not sep or not cmdlet:
            raise RoleError(_INVALID, f"The role entry identity \"{text}\" must be \"<role>\\<cmdlet>\".")
        return self._role(role), cmdlet

    def _entries(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        """``<role>\\<cmdlet>``; either side may be ``*`` (``*\\<cmdlet>``: which roles hold it)."""
        text = str(p.get("Identity") or "")
        if text.startswith("*\\"):
            roles, cmdlet = [*BUILT_IN, *self.custom], text[2:]
        else:
            role, cmdlet = self._split(text)
            roles = [role]
        return [{"Name": name, "Role": role, "Identity": f"{role}\\{name}", "Type": "Cmdlet",
                 "Parameters": []}
                for role in roles for name in sorted(self.cmdlets_of(role)) if cmdlet in ("*", name)]

    def _remove_entry(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        role, cmdlet = self._split(p.get("Identity"))
        if role in BUILT_IN:
            raise RoleError(_INVALID, f"Role entries can't be removed from built-in role \"{role}\"; "
                            "create a custom role with New-ManagementRole -Parent first.")
        entries = self.custom[role]["Entries"]
        if cmdlet not in entries:
            raise RoleError(_NOT_FOUND, f"The role entry \"{role}\\{cmdlet}\" couldn't be found.")
        entries.discard(cmdlet)
        return []
