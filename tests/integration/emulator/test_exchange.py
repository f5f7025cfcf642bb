"""Exchange admin InvokeCommand on the emulator: application access policies."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sssctl.emulator import constants as c
from sssctl.emulator.admin_client import AdminClient, trusting_client
from sssctl.emulator.directory import DISTRIBUTION_GROUP_ADDRESS, SSS_GROUP_ADDRESS, SSS_GROUP_ID
from sssctl.emulator.info import EmulatorInfo

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

APP = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
OTHER_APP = "1b2c3d4e-5f6a-4b7c-9d8e-0f1a2b3c4d5e"


class Shell:
    def __init__(self, http: httpx.Client, url: str) -> None:
        self.http, self.url = http, url

    def call(
        self, cmdlet: str, page_size: int | None = None, url: str | None = None, **parameters: Any
    ) -> httpx.Response:
        headers = {"Prefer": f"odata.maxpagesize={page_size}"} if page_size else {}
        body = {"CmdletInput": {"CmdletName": cmdlet, "Parameters": parameters}}
        return self.http.post(url or self.url, json=body, headers=headers)

    def ok(self, cmdlet: str, **parameters: Any) -> list[dict[str, Any]]:
        response = self.call(cmdlet, **parameters)
        assert response.status_code == 200, response.text
        return list(response.json()["value"])


def _restrict_to_sss_group(shell: Shell, **extra: Any) -> list[dict[str, Any]]:
    return shell.ok(
        "New-ApplicationAccessPolicy",
        AppId=APP,
        PolicyScopeGroupId=SSS_GROUP_ADDRESS,
        AccessRight="RestrictAccess",
        **extra,
    )


@pytest.fixture
def shell(emulator: EmulatorInfo, emulator_admin: AdminClient) -> Iterator[Shell]:
    emulator_admin.reset()
    token = emulator_admin.token(emulator.exchange_url)
    url = f"{emulator.exchange_url}/adminapi/beta/{c.TENANT_ID}/InvokeCommand"
    with trusting_client(emulator, headers={"Authorization": f"Bearer {token}"}) as http:
        yield Shell(http, url)
    emulator_admin.reset()


def test_new_policy_then_get_returns_it(shell: Shell) -> None:
    created = _restrict_to_sss_group(shell, Description="sssctl")
    assert len(created) == 1
    policy = created[0]
    assert policy["Identity"].startswith(f"{c.TENANT_ID}\\{APP}:S-1-5-21-")
    assert policy["Identity"].endswith(f";{SSS_GROUP_ID}")
    assert (policy["AppId"], policy["AccessRight"], policy["IsValid"]) == (APP, "RestrictAccess", True)
    assert (policy["ScopeName"], policy["ScopeIdentity"]) == ("sss-mailboxes", "SSS Mailboxes")
    assert shell.ok("Get-ApplicationAccessPolicy") == created
    assert shell.ok("Get-ApplicationAccessPolicy", Identity=policy["Identity"]) == created


def test_scope_group_may_be_named_by_name_or_guid(shell: Shell) -> None:
    by_name = shell.ok(
        "New-ApplicationAccessPolicy",
        AppId=[APP],
        PolicyScopeGroupId="SSS Mailboxes",
        AccessRight="DenyAccess",
    )
    assert by_name[0]["ScopeIdentityRaw"].endswith(f";{SSS_GROUP_ID}")
    by_guid = shell.call(
        "New-ApplicationAccessPolicy", AppId=APP, PolicyScopeGroupId=SSS_GROUP_ID, AccessRight="DenyAccess"
    )
    assert by_guid.status_code == 400  # same app and scope already has a policy


def test_distribution_group_is_refused(shell: Shell) -> None:
    response = shell.call(
        "New-ApplicationAccessPolicy",
        AppId=APP,
        PolicyScopeGroupId=DISTRIBUTION_GROUP_ADDRESS,
        AccessRight="RestrictAccess",
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert "mail-enabled security group" in error["message"]
    assert error["details"][0]["message"].startswith("|Microsoft.Exchange.")
    assert "mail-enabled security group" in error["details"][0]["message"]


def test_bad_access_right_and_unknown_parameter_are_refused(shell: Shell) -> None:
    bad_right = shell.call(
        "New-ApplicationAccessPolicy",
        AppId=APP,
        PolicyScopeGroupId=SSS_GROUP_ADDRESS,
        AccessRight="AllowAccess",
    )
    assert "RestrictAccess, DenyAccess" in bad_right.json()["error"]["details"][0]["message"]
    unknown = shell.call("Get-ApplicationAccessPolicy", Foo="x")
    assert "ParameterBindingException" in unknown.json()["error"]["details"][0]["message"]
    assert shell.call("Get-Mailbox").status_code == 400


def test_access_check_follows_the_documented_order(shell: Shell) -> None:
    member, outsider = c.user_email(1), c.user_email(20)
    assert (
        shell.ok("Test-ApplicationAccessPolicy", Identity=outsider, AppId=APP)[0]["AccessCheckResult"]
        == "Granted"
    )
    shell.ok(
        "New-ApplicationAccessPolicy",
        AppId=APP,
        PolicyScopeGroupId=SSS_GROUP_ADDRESS,
        AccessRight="RestrictAccess",
    )
    results = {
        m: shell.ok("Test-ApplicationAccessPolicy", Identity=m, AppId=APP)[0]["AccessCheckResult"]
        for m in (member, outsider)
    }
    assert results == {member: "Granted", outsider: "Denied"}
    shell.ok(
        "New-ApplicationAccessPolicy",
        AppId=OTHER_APP,
        PolicyScopeGroupId=SSS_GROUP_ADDRESS,
        AccessRight="DenyAccess",
    )
    other = {
        m: shell.ok("Test-ApplicationAccessPolicy", Identity=m, AppId=OTHER_APP)[0]["AccessCheckResult"]
        for m in (member, outsider)
    }
    assert other == {member: "Denied", outsider: "Granted"}
    assert (
        shell.call("Test-ApplicationAccessPolicy", Identity="nobody@contoso.com", AppId=APP).status_code
        == 404
    )


def test_set_and_remove_policy(shell: Shell, emulator_admin: AdminClient) -> None:
    identity = shell.ok(
        "New-ApplicationAccessPolicy",
        AppId=APP,
        PolicyScopeGroupId=SSS_GROUP_ADDRESS,
        AccessRight="RestrictAccess",
    )[0]["Identity"]
    assert shell.ok("Set-ApplicationAccessPolicy", Identity=identity, Description="changed") == []
    assert shell.ok("Get-ApplicationAccessPolicy")[0]["Description"] == "changed"
    assert shell.ok("Remove-ApplicationAccessPolicy", Identity=identity, Confirm=False) == []
    assert shell.ok("Get-ApplicationAccessPolicy") == []
    assert shell.call("Remove-ApplicationAccessPolicy", Identity=identity).status_code == 404
    counters = emulator_admin.counters()
    assert counters["by_route"]["POST exchange:New-ApplicationAccessPolicy"] == 1
    assert counters["writes"] == 4  # New, Set, Remove, failed Remove
    assert emulator_admin.snapshot()["exchange"]["applicationAccessPolicies"] == []


def test_results_are_paged_with_next_link(shell: Shell) -> None:
    apps = [f"00000000-0000-4000-8000-00000000000{n}" for n in range(5)]
    shell.ok(
        "New-ApplicationAccessPolicy",
        AppId=apps,
        PolicyScopeGroupId=SSS_GROUP_ADDRESS,
        AccessRight="RestrictAccess",
    )
    seen: list[str] = []
    url: str | None = None
    while True:
        body = shell.call("Get-ApplicationAccessPolicy", page_size=2, url=url).json()
        seen += [p["AppId"] for p in body["value"]]
        url = body.get("@odata.nextLink")
        if not url:
            break
    assert seen == apps


def test_caller_without_exchange_admin_rights_is_forbidden(
    emulator: EmulatorInfo, emulator_admin: AdminClient
) -> None:
    token = emulator_admin.token(emulator.exchange_url, client_id=c.LIMITED_APP_ID)
    with trusting_client(emulator, headers={"Authorization": f"Bearer {token}"}) as http:
        response = http.post(
            f"{emulator.exchange_url}/adminapi/beta/{c.TENANT_ID}/InvokeCommand",
            json={"CmdletInput": {"CmdletName": "Get-ApplicationAccessPolicy"}},
        )
    assert response.status_code == 403


def test_group_members_are_listed(shell: Shell) -> None:
    members = shell.ok("Get-DistributionGroupMember", Identity=SSS_GROUP_ADDRESS)
    addresses = [m["PrimarySmtpAddress"] for m in members]
    assert c.user_email(1) in addresses and c.queue_email(1) in addresses
    assert c.user_email(20) not in addresses
    assert shell.call("Get-DistributionGroupMember", Identity="nobody@contoso.com").status_code == 404


def test_single_mailbox_can_be_the_scope(shell: Shell) -> None:
    policy = shell.ok(
        "New-ApplicationAccessPolicy",
        AppId=APP,
        PolicyScopeGroupId=c.user_email(3),
        AccessRight="RestrictAccess",
    )[0]
    assert policy["ScopeName"] == c.user_email(3)
    verdicts = [
        shell.ok("Test-ApplicationAccessPolicy", Identity=m, AppId=APP)[0]["AccessCheckResult"]
        for m in (c.user_email(3), c.user_email(4))
    ]
    assert verdicts == ["Granted", "Denied"]


def test_policy_storage_limit_is_enforced(shell: Shell) -> None:
    apps = [f"00000000-0000-4000-8000-{n:012d}" for n in range(301)]
    response = shell.call(
        "New-ApplicationAccessPolicy",
        AppId=apps,
        PolicyScopeGroupId=SSS_GROUP_ADDRESS,
        AccessRight="RestrictAccess",
    )
    assert response.status_code == 400
    assert "exceeded the limit" in response.json()["error"]["details"][0]["message"]
    assert shell.ok("Get-ApplicationAccessPolicy") == []


def test_exchange_knows_the_same_mailboxes_as_a_scaled_dataverse_seed() -> None:
    from sssctl.emulator import running_emulator

    with running_emulator(dataset="large", mailboxes=2000, business_units=3, roles=20) as info:
        with AdminClient(info) as admin:
            token = admin.token(info.exchange_url)
            mailboxes = {
                r["emailaddress"]
                for r in admin.snapshot("dataverse")["dataverse"]["tables"]["mailbox"]
                if r.get("emailaddress")
            }
        assert c.user_email(1900) in mailboxes and c.user_email(1901) not in mailboxes
        url = f"{info.exchange_url}/adminapi/beta/{c.TENANT_ID}/InvokeCommand"
        with trusting_client(info, headers={"Authorization": f"Bearer {token}"}) as http:
            shell = Shell(http, url)
            for address in (c.user_email(1900), c.queue_email(100), c.user_email(1901), c.queue_email(101)):
                known = (
                    shell.call("Test-ApplicationAccessPolicy", Identity=address, AppId=APP).status_code == 200
                )
                assert known == (address in mailboxes), address


def test_a_missing_object_is_a_404_shaped_as_the_module_prints_it(shell: Shell) -> None:
    response = shell.call("Get-ApplicationAccessPolicy", Identity="no-such-policy")
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "NotFound" and "object 'no-such-policy' couldn't be found" in error["message"]
    detail = error["details"][0]
    assert (detail["code"], detail["target"]) == ("Client", "")
    assert detail["message"].startswith(
        "Ex6F9304|Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException|"
        "The operation couldn't be performed because object 'no-such-policy' couldn't be found"
    )
    assert error["innererror"]["type"] == "Microsoft.Exchange.Admin.OData.Core.ODataServiceException"
    assert error["innererror"]["internalexception"]["type"].endswith("DirectInvokeCmdletExecutionException")


def test_policy_objects_carry_the_documented_properties(shell: Shell) -> None:
    policy = _restrict_to_sss_group(shell)[0]
    assert set(policy) >= {
        "ScopeName", "ScopeIdentity", "Identity", "AppId", "ScopeIdentityRaw", "Description", "AccessRight",
        "ShardType", "IsValid",
    }
    sid, _, guid = policy["ScopeIdentityRaw"].partition(";")
    assert sid.startswith("S-1-5-21-") and guid == SSS_GROUP_ID
    assert policy["Identity"] == f"{c.TENANT_ID}\\{APP}:{policy['ScopeIdentityRaw']}"
    assert policy["ShardType"] == "All"
