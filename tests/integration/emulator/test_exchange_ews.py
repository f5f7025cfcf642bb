"""The EWS gate's cmdlets and the emulator clock over HTTPS, as sssctl reaches them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sssctl.emulator.admin_client import AdminClient
from sssctl.emulator.exchange_ews import SEEDED_ALLOWED_APP
from tests.integration.emulator import test_exchange
from tests.integration.emulator.test_exchange import Shell

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

APP = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
shell = test_exchange.shell


@pytest.fixture
def clock(emulator_admin: AdminClient) -> Iterator[AdminClient]:
    yield emulator_admin
    emulator_admin.clock(real=True)
    emulator_admin.clear_faults()


def test_organization_config_shows_the_gate_and_the_list_is_replaced(shell: Shell) -> None:
    row = shell.ok("Get-OrganizationConfig")[0]      # the default tenant
    assert (row["EwsEnabled"], row["EwsAllowedAppIDs"]) == (True, [SEEDED_ALLOWED_APP])
    assert row["EwsApplicationAccessPolicy"] is None and row["EwsAllowList"] == []
    assert shell.ok("Set-OrganizationConfig", EwsAllowedAppIDs=[SEEDED_ALLOWED_APP, APP]) == []
    assert shell.ok("Get-OrganizationConfig")[0]["EwsAllowedAppIDs"] == [SEEDED_ALLOWED_APP, APP]
    response = shell.call("Set-OrganizationConfig", EwsAllowedAppIDs={"Add": APP})
    assert response.status_code == 400 and "whole list" in response.json()["error"]["message"]
    shell.ok("Set-CASMailbox", Identity="user003@contoso.com", EwsEnabled=False)
    assert shell.ok("Get-CASMailbox", Identity="user003@contoso.com")[0]["EwsEnabled"] is False


def test_clock_moves_the_unset_tenant_to_blocked(shell: Shell, clock: AdminClient) -> None:
    assert clock.clock()["set"] is False
    clock.clock("2026-09-15T00:00:00Z")
    shell.ok("Set-OrganizationConfig", EwsEnabled=None)
    assert shell.ok("Get-OrganizationConfig")[0]["EwsEnabled"] is None
    assert clock.clock("2026-10-01T00:00:00Z")["now"] == "2026-10-01T00:00:00Z"
    assert shell.ok("Get-OrganizationConfig")[0]["EwsEnabled"] is False
    with pytest.raises(RuntimeError, match="ISO 8601"):
        clock.clock("soon")
    with pytest.raises(RuntimeError, match="between 0 and 86400"):
        clock.faults(ews_propagation_seconds=90_000)


def test_parameters_bind_as_powershell_binds_them(shell: Shell) -> None:
    """Names are case-insensitive; a Boolean takes no string; a documented but unmodelled
    parameter is refused as the emulator's limit (501), an unknown one as PowerShell does."""
    shell.ok("Set-CASMailbox", identity="user004@contoso.com", ewsenabled=False)
    assert shell.ok("Get-CASMailbox", Identity="user004@contoso.com")[0]["EwsEnabled"] is False
    # The page's own example: the IDs in one comma-separated string.
    shell.ok("Set-OrganizationConfig", EwsAllowedAppIDs=f"{SEEDED_ALLOWED_APP}, {APP}")
    assert shell.ok("Get-OrganizationConfig")[0]["EwsAllowedAppIDs"] == [SEEDED_ALLOWED_APP, APP]
    wrong = shell.call("Set-OrganizationConfig", EwsEnabled="true")
    assert wrong.status_code == 400 and "Boolean parameters accept only" in wrong.json()["error"]["message"]
    assert shell.call("Set-CASMailbox", Identity="user004@contoso.com", OWAEnabled=False).status_code == 501
    assert shell.call("Set-OrganizationConfig", OAuth2ClientProfileEnabled=True).status_code == 501
    unknown = shell.call("Set-CASMailbox", Identity="user004@contoso.com", NoSuchSwitch=True)
    assert "cannot be found that matches parameter name 'NoSuchSwitch'" in unknown.json()["error"]["message"]
    assert shell.ok("Get-CASMailbox", Identity="user004@contoso.com")[0]["EwsEnabled"] is False
    # The page's own example: the IDs in one comma-separated string.
    shell.ok("Set-OrganizationConfig", EwsAllowedAppIDs=f"{SEEDED_ALLOWED_APP}, {APP}")
    assert shell.ok("Get-OrganizationConfig")[0]["EwsAllowedAppIDs"] == [SEEDED_ALLOWED_APP, APP]
