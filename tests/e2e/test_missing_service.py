"""A service whose endpoint is not configured makes only what needs it unknown."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sssctl.emulator.admin_client import AdminClient
from tests.e2e.conftest import Cli

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

HARDENED = Path(__file__).parents[2] / "configs" / "hardened.toml"


def test_no_exchange_url_marks_the_mailbox_scope_unknown_and_plans_the_rest(
    cli: Cli, admin: AdminClient
) -> None:
    cli.config.write_text(HARDENED.read_text(encoding="utf-8"), encoding="utf-8")
    del cli.env["SSSCTL_EXCHANGE_URL"]          # custom cloud, no Exchange admin endpoint
    result = cli.run("plan", "--json")
    assert result.returncode == 3, result.stdout[-3000:] + result.stderr[-3000:]
    changes = {rc["address"]: rc for rc in json.loads(result.stdout)["resource_changes"]}
    scope = changes["exchange_scope.sss"]
    assert scope["change"]["actions"] == ["read"]
    assert "exchange_url" in scope["sssctl"]["reason"] and "SSSCTL_EXCHANGE_URL" in scope["sssctl"]["reason"]
    unknown = sorted(a for a, rc in changes.items() if rc["change"]["actions"] == ["read"])
    assert unknown == ["ews_admission.sss", "exchange_scope.sss"]
    planned = {a for a, rc in changes.items() if rc["change"]["actions"] not in (["no-op"], ["read"])}
    assert {"app_registration.sss", 'server_profile.custom["Contoso EXO (own app)"]', "approval",
            "mailbox_defaults", "server_profile.default"} <= planned
    assert admin.counters()["writes"] == 0


def test_no_graph_url_marks_what_needs_graph_unknown_and_plans_the_rest(cli: Cli) -> None:
    cli.config.write_text(HARDENED.read_text(encoding="utf-8"), encoding="utf-8")
    del cli.env["SSSCTL_GRAPH_URL"]
    result = cli.run("plan", "--json")
    assert result.returncode == 3, result.stdout[-3000:] + result.stderr[-3000:]
    changes = {rc["address"]: rc for rc in json.loads(result.stdout)["resource_changes"]}
    unknown = {a: rc["sssctl"]["reason"] for a, rc in changes.items() if rc["change"]["actions"] == ["read"]}
    assert set(unknown) == {"app_registration.sss", "app_registration.sss.credential", "exchange_scope.sss",
                            "ews_admission.sss", 'server_profile.custom["Contoso EXO (own app)"]'}
    assert "SSSCTL_GRAPH_URL" in unknown["app_registration.sss"]
    assert {"approval", "mailbox_defaults", "org_setting.RequirePrivilegeToSelfApproveEmailAddress"} <= {
        a for a, rc in changes.items() if rc["change"]["actions"] == ["update"]}
