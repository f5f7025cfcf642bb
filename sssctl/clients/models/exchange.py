"""Exchange Online admin API (``InvokeCommand``) output sssctl acts on, one model per cmdlet.

Each cmdlet answers an OData collection of PowerShell objects serialised to JSON; the
property names and types are those of the cmdlet's output type in the Exchange Online
PowerShell reference (``Get-ApplicationAccessPolicy``: Identity, AppId, ScopeIdentityRaw,
AccessRight; ``Test-ApplicationAccessPolicy``: AccessCheckResult;
``Get-ManagementRoleAssignment``: Name, Role, CustomResourceScope,
RecipientAdministrativeUnitScope, WhenCreatedUTC; ``Test-ServicePrincipalAuthorization``:
RoleName, InScope; ``Get-ServicePrincipal``: AppId, ObjectId;
``Get-ManagementScope``: Name, RecipientFilter). Cmdlets without a model here are ones
whose output sssctl does not read (``Remove-*``, ``Set-*``).
"""

from __future__ import annotations

from typing import Any

from sssctl.clients.models import Guid, NonEmpty, Reply, check_rows


class AccessPolicy(Reply):
    Identity: NonEmpty
    AppId: Guid | list[Guid]
    AccessRight: NonEmpty
    ScopeIdentityRaw: str | None = None


class AccessCheck(Reply):
    AccessCheckResult: NonEmpty


class GroupMember(Reply):
    PrimarySmtpAddress: str | None


class Recipient(Reply):
    DistinguishedName: str | None


class ServicePrincipalPointer(Reply):
    AppId: Guid
    ObjectId: Guid
    Identity: NonEmpty


class ManagementScope(Reply):
    Name: NonEmpty
    RecipientFilter: str | None = None


class RoleAssignment(Reply):
    Name: NonEmpty
    Role: NonEmpty
    CustomResourceScope: str | None = None
    RecipientAdministrativeUnitScope: str | None = None
    WhenCreatedUTC: str | None = None


class Authorization(Reply):
    InScope: bool


CMDLETS: dict[str, type[Reply]] = {
    "Get-ApplicationAccessPolicy": AccessPolicy,
    "New-ApplicationAccessPolicy": AccessPolicy,
    "Test-ApplicationAccessPolicy": AccessCheck,
    "Get-DistributionGroupMember": GroupMember,
    "Get-Recipient": Recipient,
    "Get-ServicePrincipal": ServicePrincipalPointer,
    "New-ServicePrincipal": ServicePrincipalPointer,
    "Get-ManagementScope": ManagementScope,
    "New-ManagementScope": ManagementScope,
    "Get-ManagementRoleAssignment": RoleAssignment,
    "New-ManagementRoleAssignment": RoleAssignment,
    "Test-ServicePrincipalAuthorization": Authorization,
}


def check_output(cmdlet: str, rows: list[Any]) -> None:
    """One page of a cmdlet's output against the cmdlet's model, when it has one."""
    model = CMDLETS.get(cmdlet)
    if model is not None:
        check_rows(rows, model, service="exchange", call=cmdlet)
