"""Cmdlet parameters bound as PowerShell binds them (names, aliases, common parameters, types)."""

from __future__ import annotations

from typing import Any

import pytest

from sssctl.emulator.exchange_params import BINDING, BindingError, bind

CAS = frozenset({"Identity", "EwsEnabled", "Confirm"})


def _refused(cmdlet: str, given: dict[str, Any], modelled: frozenset[str] = CAS) -> BindingError:
    with pytest.raises(BindingError) as caught:
        bind(cmdlet, given, modelled)
    return caught.value


def test_names_bind_case_insensitively_and_by_alias_and_common_parameters_are_taken() -> None:
    bound = bind("Set-CASMailbox", {"identity": "a@contoso.com", "EWSENABLED": 0, "cf": False,
                                    "ErrorAction": "Stop"}, CAS)
    assert bound == {"Identity": "a@contoso.com", "EwsEnabled": False, "Confirm": False}


def test_unknown_and_repeated_names_are_refused_with_the_binder_text() -> None:
    unknown = _refused("Set-CASMailbox", {"Identity": "a", "EwsEnable": True})
    assert (unknown.type_name, unknown.text) == (
        BINDING, "A parameter cannot be found that matches parameter name 'EwsEnable'.")
    twice = _refused("Set-CASMailbox", {"EwsEnabled": True, "ewsenabled": True})
    assert "specified more than once" in twice.text


def test_a_documented_parameter_the_emulator_does_not_model_says_so() -> None:
    refused = _refused("Set-CASMailbox", {"Identity": "a", "OWAEnabled": False})
    assert refused.status == 501 and "'OWAEnabled' of Set-CASMailbox" in refused.text


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"EwsEnabled": "true"}, 'Cannot convert value "System.String" to type "System.Boolean"'),
        ({"Confirm": "yes"}, '"System.Management.Automation.SwitchParameter"'),
        ({"Identity": ["a", "b"]}, "Cannot convert 'System.Object[]' to the type 'System.String'"),
    ],
)
def test_values_of_the_wrong_type_are_refused(given: dict[str, Any], expected: str) -> None:
    refused = _refused("Set-CASMailbox", given)
    assert refused.type_name == BINDING and expected in refused.text


def test_role_assignment_and_access_policy_parameters_follow_their_pages() -> None:
    modelled = frozenset({"Name", "App", "Role", "CustomResourceScope", "RecipientAdministrativeUnitScope",
                          "Confirm"})
    assert bind("New-ManagementRoleAssignment", {"role": "Application Mail.Read", "app": "x"}, modelled) == {
        "Role": "Application Mail.Read", "App": "x"}
    assert _refused("New-ManagementRoleAssignment", {"User": "u"}, modelled).status == 501
    policy = frozenset({"AccessRight", "AppId", "PolicyScopeGroupId", "Description", "Confirm"})
    bound = bind("New-ApplicationAccessPolicy", {"PolicyScopeGroupID": "g", "AppId": ["a", "b"]}, policy)
    assert bound == {"PolicyScopeGroupId": "g", "AppId": ["a", "b"]}


def test_organization_config_knows_its_page_parameters() -> None:
    modelled = frozenset({"EwsEnabled", "EwsAllowedAppIDs", "EwsApplicationAccessPolicy", "EwsAllowList",
                          "EwsBlockList", "Confirm"})
    assert _refused("Set-OrganizationConfig", {"OAuth2ClientProfileEnabled": True}, modelled).status == 501
    assert _refused("Set-OrganizationConfig", {"NoSuchSetting": True}, modelled).type_name == BINDING
    ids = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee,11111111-2222-3333-4444-555555555555"
    assert bind("Set-OrganizationConfig", {"ewsallowedappids": ids}, modelled) == {"EwsAllowedAppIDs": ids}
