"""Every field each kind reads, mutated five ways, against the declared reply models.

For each model a valid reply is mutated one field at a time: set to null, given a value
of the wrong type, removed, set to an empty string, and wrapped in an extra object. The
expectation follows from the declaration alone: a required field may not go missing, a
non-nullable one may not be null, an id or non-empty text may not be empty, nothing
accepts another type or an extra level of nesting. A mutation that must be refused and
is accepted would be a fake success; the test lists every one it finds.
"""

from __future__ import annotations

import copy
from typing import Any

import msgspec
import pytest

from sssctl.clients.errors import MalformedReply
from sssctl.clients.models import check
from sssctl.clients.models import dataverse as dv
from sssctl.clients.models import exchange as ex
from sssctl.clients.models import graph as gr

G1 = "11111111-1111-1111-1111-111111111111"
G2 = "22222222-2222-2222-2222-222222222222"
NULL, WRONG, MISSING, EMPTY, NESTED = "null", "wrong type", "missing", "empty string", "extra nesting"
MUTATIONS = (NULL, WRONG, MISSING, EMPTY, NESTED)

CREDENTIAL = {"keyId": G1, "displayName": "sssctl x", "hint": "abc", "startDateTime": "2026-01-01T00:00:00Z",
              "endDateTime": "2026-07-01T00:00:00Z"}
SAMPLES: list[tuple[type[msgspec.Struct], dict[str, Any]]] = [
    (gr.Application, {"id": G1, "appId": G2, "displayName": "sss", "passwordCredentials": [CREDENTIAL],
                      "requiredResourceAccess": [{"resourceAppId": G2,
                                                  "resourceAccess": [{"id": G1, "type": "Role"}]}]}),
    (gr.PasswordCredential, dict(CREDENTIAL)),
    (gr.NewPasswordCredential, {**CREDENTIAL, "secretText": "s3cr3t"}),
    (gr.ResourceAccess, {"id": G1, "type": "Role"}),
    (gr.RequiredResourceAccess, {"resourceAppId": G2, "resourceAccess": [{"id": G1, "type": "Role"}]}),
    (gr.ServicePrincipal, {"id": G1, "appId": G2, "displayName": "Office 365 Exchange Online",
                           "appRoles": [{"id": G1, "value": "full_access_as_app",
                                         "allowedMemberTypes": ["Application"], "isEnabled": True}]}),
    (gr.AppRole, {"id": G1, "value": "full_access_as_app", "allowedMemberTypes": ["Application"],
                  "isEnabled": True}),
    (gr.AppRoleAssignment, {"id": "41W1zT6z1U-kJxf62svfp1HFE8pMZhxDun-ThPczmJE", "principalId": G1,
                            "resourceId": G2, "appRoleId": G1}),
    (dv.RolePrivilege, {"PrivilegeId": G1, "Depth": "Global", "PrivilegeName": "prvApproveRejectEmailAddress",
                        "BusinessUnitId": G2}),
    (dv.WhoAmIResponse, {"UserId": G1, "BusinessUnitId": G2, "OrganizationId": G1}),
    (ex.AccessPolicy, {"Identity": f"t\\{G1}:S-1", "AppId": G1, "AccessRight": "RestrictAccess",
                       "ScopeIdentityRaw": "S-1;x"}),
    (ex.AccessCheck, {"AccessCheckResult": "Granted"}),
    (ex.GroupMember, {"PrimarySmtpAddress": "a@contoso.com"}),
    (ex.Recipient, {"DistinguishedName": "CN=g,DC=x"}),
    (ex.ServicePrincipalPointer, {"AppId": G1, "ObjectId": G2, "Identity": G2}),
    (ex.ManagementScope, {"Name": "sssctl sss", "RecipientFilter": "MemberOfGroup -eq 'x'"}),
    (ex.RoleAssignment, {"Name": "sssctl sss Application Mail.Read", "Role": "Application Mail.Read",
                         "CustomResourceScope": "sssctl sss", "RecipientAdministrativeUnitScope": None,
                         "WhenCreatedUTC": "2026-01-01T00:00:00Z"}),
    (ex.Authorization, {"InScope": True}),
]
MAILBOX_ROW = {"mailboxid": G1, "emailaddress": "a@contoso.com", "incomingemaildeliverymethod": 2,
               "outgoingemaildeliverymethod": 2, "actdeliverymethod": 2, "_emailserverprofile_value": G2,
               "_regardingobjectid_value": G1, "mailboxstatus": 1, "emailrouteraccessapproval": 1,
               "statecode": 0, "@odata.etag": 'W/"1"'}
PROFILE_ROW = {"emailserverprofileid": G1, "name": "p", "statecode": 0, "oauthclientid": G2,
               "isoauthclientsecretset": True, "exchangeonlinetenantid": G1, "usedefaulttenantid": False,
               "incomingcredentialretrieval": 4, "outgoingcredentialretrieval": 4,
               "incomingauthenticationprotocol": None, "outgoingauthenticationprotocol": None}
ORGANIZATION_ROW = {"organizationid": G1, "orgdborgsettings": "<OrgSettings/>", "defaultemailsettings": None,
                    "_defaultemailserverprofileid_value": G2, "requireapprovalforuseremail": True,
                    "requireapprovalforqueueemail": False}
OTHER_ROWS = [{"systemuserid": G1, "domainname": "a@contoso.com", "incomingemailfilteringmethod": 0},
              {"roleid": G1, "name": "System Administrator", "_parentrootroleid_value": None,
               "privilegedepthmask": 8, "_roletemplateid_value": G2},
              {"privilegeid": G1, "name": "prvApprove"}, {"businessunitid": G1,
                                                          "_parentbusinessunitid_value": None},
              {"queueid": G1}]
ROWS = [MAILBOX_ROW, PROFILE_ROW, ORGANIZATION_ROW, *OTHER_ROWS]


def _mutated(sample: dict[str, Any], field: str, how: str, info: msgspec.inspect.Type) -> dict[str, Any]:
    out = copy.deepcopy(sample)
    value = out[field]
    kinds = info.types if isinstance(info, msgspec.inspect.UnionType) else (info,)
    takes_int = any(isinstance(k, msgspec.inspect.IntType) for k in kinds)
    if how == NULL:
        out[field] = None
    elif how == WRONG:
        out[field] = "12345" if takes_int else 12345
    elif how == MISSING:
        del out[field]
    elif how == EMPTY:
        out[field] = ""
    else:
        out[field] = {"value": value}
    return out


def _may_accept(info: msgspec.inspect.Type, required: bool, how: str) -> bool:
    """Whether the declaration itself allows the mutation (a nullable or optional field)."""
    kinds = info.types if isinstance(info, msgspec.inspect.UnionType) else (info,)
    if how == NULL:
        return any(isinstance(k, msgspec.inspect.NoneType) for k in kinds)
    if how == MISSING:
        return not required
    if how == EMPTY:
        return any(isinstance(k, msgspec.inspect.StrType) and not k.min_length and not k.pattern
                   for k in kinds)
    if how == WRONG:
        return any(isinstance(k, msgspec.inspect.AnyType) for k in kinds)
    return False


def _struct_cases() -> list[Any]:
    cases = []
    for model, sample in SAMPLES:
        info = msgspec.inspect.type_info(model)
        assert isinstance(info, msgspec.inspect.StructType)
        for f in info.fields:
            if f.encode_name not in sample:
                continue
            for how in MUTATIONS:
                cases.append(pytest.param(model, sample, f.encode_name, how, f.type,
                                          _may_accept(f.type, f.required, how),
                                          id=f"{model.__name__}.{f.encode_name}-{how}"))
    return cases


@pytest.mark.parametrize(("model", "sample", "field", "how", "info", "may_accept"), _struct_cases())
def test_each_field_of_each_model_refuses_what_its_declaration_refuses(
        model: type[msgspec.Struct], sample: dict[str, Any], field: str, how: str,
        info: msgspec.inspect.Type, may_accept: bool) -> None:
    check(sample, model, service="test", call="sample")       # the sample itself is valid
    bad = _mutated(sample, field, how, info)
    if may_accept:
        return      # allowed by the declaration; a rule of the model may still refuse it
    with pytest.raises(MalformedReply, match=rf"test: .*{field}|missing required field `{field}`"):
        check(bad, model, service="test", call="mutated")


def _row_cases() -> list[Any]:
    cases = []
    for row in ROWS:
        table = next(k for k in row if k.endswith("id"))
        for column in row:
            info = msgspec.inspect.type_info(dv.column_type(column))
            for how in MUTATIONS:
                may = _may_accept(info, not column.startswith("@"), how)
                cases.append(pytest.param(row, column, how, info, may, id=f"{table}.{column}-{how}"))
    return cases


@pytest.mark.parametrize(("row", "column", "how", "info", "may_accept"), _row_cases())
def test_each_selected_column_of_each_row_is_typed(row: dict[str, Any], column: str, how: str,
                                                   info: msgspec.inspect.Type, may_accept: bool) -> None:
    selected = [c for c in row if not c.startswith("@")]
    dv.check_row_page([row], selected, call="GET rows")
    bad = _mutated(row, column, how, info)
    if may_accept:
        dv.check_row_page([bad], selected, call="GET rows")
        return
    with pytest.raises(MalformedReply, match=r"dataverse: row 1 of the answer to GET rows"):
        dv.check_row_page([bad], selected, call="GET rows")


def test_every_column_kinds_select_is_declared() -> None:
    """A column sssctl selects but does not declare would be checked for presence only."""
    from sssctl.kinds._control5.own_app import PROFILE_COLUMNS
    from sssctl.kinds._mailbox_scan import COLUMNS as SCAN
    from sssctl.kinds._shared import ORGANIZATION_COLUMNS
    from sssctl.kinds._test_enable import MAILBOX_COLUMNS

    for column in (*SCAN, *MAILBOX_COLUMNS, *ORGANIZATION_COLUMNS, *PROFILE_COLUMNS):
        assert dv.column_type(column) is not Any, column


def test_a_role_privilege_depth_outside_the_enumeration_is_refused() -> None:
    for depth in ("Everything", 9, -1, True):
        with pytest.raises(MalformedReply, match="Depth"):
            check({"PrivilegeId": G1, "Depth": depth}, dv.RolePrivilege, service="dataverse", call="f")


def test_an_application_role_without_a_value_is_refused() -> None:
    role = {"id": G1, "value": None, "allowedMemberTypes": ["Application"], "isEnabled": True}
    with pytest.raises(MalformedReply, match="has no value"):
        check({"id": G1, "appId": G2, "appRoles": [role]}, gr.ServicePrincipal, service="graph", call="GET")
    check({**role, "allowedMemberTypes": ["User"]}, gr.AppRole, service="graph", call="GET")


def test_graph_routes_find_their_models() -> None:
    assert gr.model_for("GET", "applications(uniqueName='sssctl-x')") is gr.Application
    assert gr.model_for("GET", f"servicePrincipals(appId='{G1}')") is gr.ServicePrincipal
    assert gr.model_for("GET", f"servicePrincipals/{G1}") is gr.ServicePrincipal
    assert gr.model_for("GET", f"servicePrincipals/{G1}/appRoleAssignments?$top=5") is gr.AppRoleAssignment
    assert gr.model_for("POST", f"applications/{G1}/addPassword") is gr.NewPasswordCredential
    assert gr.model_for("POST", f"applications/{G1}/removePassword") is None


@pytest.mark.parametrize("token", [None, "", 42, {"value": "eyJ"}, "eyJ a", "eyJ\r\nX-Injected: 1"])
def test_a_token_answer_that_is_not_a_bearer_token_is_refused(token: Any) -> None:
    from sssctl.clients.auth import _checked
    from sssctl.clients.errors import AuthError

    with pytest.raises(AuthError, match="access_token"):
        _checked({"access_token": token, "token_type": "Bearer", "expires_in": 3599},
                 method="client_secret", client_id=G1)
    assert _checked({"access_token": "eyJ.x.y", "expires_in": 3599}, method="client_secret",
                    client_id=G1) == "eyJ.x.y"
