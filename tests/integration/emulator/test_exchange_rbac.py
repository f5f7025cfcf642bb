"""Exchange admin InvokeCommand on the emulator: RBAC for Applications cmdlets."""

from __future__ import annotations

from typing import Any

import pytest

from sssctl.emulator import constants as c
from sssctl.emulator.admin_client import AdminClient
from sssctl.emulator.directory import LIMITED_SP_OBJECT_ID, SSS_GROUP_ADDRESS, SSS_GROUP_MEMBERS
from sssctl.emulator.exchange_rbac import AU_NAME
from tests.integration.emulator import test_exchange
from tests.integration.emulator.test_exchange import Shell

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

APP = c.LIMITED_APP_ID
MEMBER = SSS_GROUP_MEMBERS[0]
OUTSIDER = c.user_email(20)
shell = test_exchange.shell  # the signed-in InvokeCommand fixture, shared


def _error(shell: Shell, cmdlet: str, **parameters: Any) -> tuple[int, str]:
    response = shell.call(cmdlet, **parameters)
    return response.status_code, response.json()["error"]["details"][0]["message"]


def _group_scope(shell: Shell) -> dict[str, Any]:
    dn = shell.ok("Get-Recipient", Identity=SSS_GROUP_ADDRESS)[0]["DistinguishedName"]
    restriction = f"MemberOfGroup -eq '{dn}'"
    return shell.ok("New-ManagementScope", Name="sss", RecipientRestrictionFilter=restriction)[0]


def _assign(shell: Shell, **scope: str) -> dict[str, Any]:
    shell.ok("New-ServicePrincipal", AppId=APP, ObjectId=LIMITED_SP_OBJECT_ID, DisplayName="sss")
    return shell.ok("New-ManagementRoleAssignment", App=APP, Role="Application EWS.AccessAsApp", **scope)[0]


def test_pointer_must_name_the_service_principal_not_the_application(shell: Shell) -> None:
    status, message = _error(shell, "New-ServicePrincipal", AppId=APP, ObjectId=c.LIMITED_APP_ID)
    assert status == 400 and "object id of the enterprise application" in message
    created = shell.ok("New-ServicePrincipal", AppId=APP, ObjectId=LIMITED_SP_OBJECT_ID)[0]
    assert (created["AppId"], created["ObjectId"]) == (APP, LIMITED_SP_OBJECT_ID)
    assert shell.ok("Get-ServicePrincipal", Identity=APP) == [created]
    assert _error(shell, "New-ServicePrincipal", AppId=APP, ObjectId=LIMITED_SP_OBJECT_ID)[0] == 400


def test_group_scope_grants_members_only(shell: Shell) -> None:
    scope = _group_scope(shell)
    assert scope["ScopeRestrictionType"] == "RecipientScope"
    assert scope["RecipientFilter"].startswith("MemberOfGroup")
    assignment = _assign(shell, CustomResourceScope="sss")
    assert (assignment["RoleAssigneeType"], assignment["RecipientWriteScope"]) == (
        "ServicePrincipal", "CustomRecipientScope")
    inside = shell.ok("Test-ServicePrincipalAuthorization", Identity=APP, Resource=MEMBER)
    outside = shell.ok("Test-ServicePrincipalAuthorization", Identity=APP, Resource=OUTSIDER)
    assert inside == [{"RoleName": "Application EWS.AccessAsApp", "GrantedPermissions": "EWS.AccessAsApp",
                       "AllowedResourceScope": "sss", "ScopeType": "CustomRecipientScope", "InScope": True}]
    assert outside[0]["InScope"] is False
    assert shell.ok("Test-ServicePrincipalAuthorization", Identity=APP)[0]["InScope"] == "Not Run"


def test_administrative_unit_and_attribute_filter_scopes(shell: Shell) -> None:
    _assign(shell, RecipientAdministrativeUnitScope=AU_NAME)
    shell.ok("New-ManagementScope", Name="attr", RecipientRestrictionFilter="CustomAttribute1 -eq 'SSS'")
    shell.ok("New-ManagementRoleAssignment", App=APP, Role="Application Mail.Read",
             CustomResourceScope="attr")
    rows = shell.ok("Test-ServicePrincipalAuthorization", Identity=APP, Resource=MEMBER)
    assert {(r["ScopeType"], r["InScope"]) for r in rows} == {("AdministrativeUnit", True),
                                                              ("CustomRecipientScope", True)}
    rows = shell.ok("Test-ServicePrincipalAuthorization", Identity=APP, Resource=OUTSIDER)
    assert {r["InScope"] for r in rows} == {False}


def test_bad_filter_unknown_role_and_scope_in_use_are_refused(shell: Shell) -> None:
    status, message = _error(shell, "New-ManagementScope", Name="x",
                             RecipientRestrictionFilter="Office = 'x'")
    assert status == 400 and "Invalid filter syntax" in message
    _group_scope(shell)
    shell.ok("New-ServicePrincipal", AppId=APP, ObjectId=LIMITED_SP_OBJECT_ID)
    assert _error(shell, "New-ManagementRoleAssignment", App=APP, Role="Mail.Read")[0] == 404
    shell.ok("New-ManagementRoleAssignment", App=APP, Role="Application EWS.AccessAsApp",
             CustomResourceScope="sss")
    status, message = _error(shell, "Remove-ManagementScope", Identity="sss")
    assert status == 400 and "used by the following management role assignments" in message


def test_assignment_takes_effect_after_the_propagation_delay(
        shell: Shell, emulator_admin: AdminClient) -> None:
    _group_scope(shell)
    _assign(shell, CustomResourceScope="sss")
    try:
        emulator_admin.faults(rbac_propagation_seconds=3600)
        pending = shell.ok("Test-ServicePrincipalAuthorization", Identity=APP, Resource=MEMBER)
        assert pending[0]["InScope"] is False
        # visible at once, not yet in effect
        assert shell.ok("Get-ManagementRoleAssignment", RoleAssignee=APP)
    finally:
        emulator_admin.clear_faults()
    assert shell.ok("Test-ServicePrincipalAuthorization", Identity=APP, Resource=MEMBER)[0]["InScope"] is True


def test_removing_the_pointer_removes_its_assignments(shell: Shell) -> None:
    _assign(shell)
    shell.ok("Remove-ServicePrincipal", Identity=APP)
    assert shell.ok("Get-ManagementRoleAssignment") == []
    assert _error(shell, "Get-ServicePrincipal", Identity=APP)[0] == 404
