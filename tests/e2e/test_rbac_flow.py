"""Control 5 scoped by Exchange RBAC for Applications: configs/hardened-rbac.toml through the
CLI against the emulator, from nothing, by migration from an access policy, through the
consent trap and through the propagation delay."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from sssctl import exitcodes
from sssctl.emulator.admin_client import AdminClient
from sssctl.emulator.directory import EXCHANGE_ROLES, EXCHANGE_SP_OBJECT_ID, SSS_GROUP_MEMBERS
from tests.e2e.conftest import Cli
from tests.e2e.test_audit_flow import exchange as run_cmdlet
from tests.e2e.test_control5_flow import (
    HARDENED,
    UNIQUE_NAME,
    app_data,
    apply_then_converged,
    custom_profile,
    ok,
    tables,
    trust,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

HARDENED_RBAC = Path(__file__).parents[2] / "configs" / "hardened-rbac.toml"
ADDRESS = "exchange_scope.sss"
EXCHANGE_APP_ID = "00000002-0000-0ff1-ce00-000000000000"


@pytest.fixture
def rbac_cli(cli: Cli) -> Cli:
    cli.config.write_text(HARDENED_RBAC.read_text(encoding="utf-8"), encoding="utf-8")
    return cli


def exchange(admin: AdminClient) -> dict[str, Any]:
    return dict(admin.snapshot("exchange")["exchange"])


def exchange_consent(admin: AdminClient, app_id: str) -> list[dict[str, Any]]:
    """Tenant-wide app-role assignments on the app's service principal."""
    directory = admin.snapshot("directory")["directory"]
    sp = next(s for s in directory["servicePrincipals"] if s["appId"].lower() == app_id.lower())
    return [a for a in directory["appRoleAssignments"] if a["principalId"] == sp["id"]]


def scope_reason(cli: Cli) -> str:
    """What the plan says about the mailbox scope, no-op included (the JSON plan keeps those)."""
    document = json.loads(ok(cli.run("plan", "--json")).stdout)
    return str(next(c["sssctl"]["reason"] for c in document["resource_changes"] if c["address"] == ADDRESS))


def synced_in_scope(admin: AdminClient) -> dict[str, bool]:
    """Mailbox address -> whether Test & Enable succeeded on the custom profile."""
    profile = custom_profile(admin)["emailserverprofileid"]
    return {m["emailaddress"]: m["mailboxstatus"] == 1 for m in tables(admin)["mailbox"]
            if m["_emailserverprofile_value"] == profile and m["emailaddress"] in SSS_GROUP_MEMBERS}


def test_from_nothing_to_an_rbac_scoped_custom_profile_in_one_apply(
        rbac_cli: Cli, admin: AdminClient) -> None:
    plan = ok(rbac_cli.run("plan", "--detailed-exitcode"), 2)
    assert "Application EWS.AccessAsApp" in plan.stdout
    apply_then_converged(rbac_cli, admin)

    app = app_data(admin)
    live = exchange(admin)
    assert live["applicationAccessPolicies"] == []
    (pointer,) = live["servicePrincipals"]
    assert pointer["AppId"].lower() == app["appId"].lower()
    (assignment,) = live["managementRoleAssignments"]
    assert assignment["Role"] == "Application EWS.AccessAsApp"
    assert assignment["CustomResourceScope"] == "sssctl sss"
    assert exchange_consent(admin, app["appId"]) == []   # no tenant-wide mailbox consent at all
    approved = {m["emailaddress"] for m in tables(admin)["mailbox"] if m["emailrouteraccessapproval"] == 1}
    reached = {address: ok for address, ok in synced_in_scope(admin).items() if address in approved}
    # Test & Enable reached them through RBAC alone (approval is required, so only approved ones pass)
    assert reached and all(reached.values())
    assert "scoped to sss-mailboxes@contoso.com by RBAC (checked: granted for" in scope_reason(rbac_cli)


def test_migration_from_an_access_policy_in_one_apply(cli: Cli, admin: AdminClient) -> None:
    cli.config.write_text(HARDENED.read_text(encoding="utf-8"), encoding="utf-8")
    ok(cli.run("apply", "--auto-approve"))
    app_id = app_data(admin)["appId"]
    assert exchange(admin)["applicationAccessPolicies"] and exchange_consent(admin, app_id)

    cli.config.write_text(HARDENED_RBAC.read_text(encoding="utf-8"), encoding="utf-8")
    plan = ok(cli.run("plan", "--detailed-exitcode"), 2)
    assert "remove the application access policy, last" in plan.stdout
    ok(cli.run("apply", "--auto-approve"))
    live = exchange(admin)
    assert live["applicationAccessPolicies"] == [] and live["managementRoleAssignments"]
    assert exchange_consent(admin, app_id) == []
    ok(cli.run("plan", "--detailed-exitcode"), 0)


def test_a_scope_with_a_tenant_wide_consent_is_reported_unscoped_and_fixed(
        rbac_cli: Cli, admin: AdminClient) -> None:
    ok(rbac_cli.run("apply", "--auto-approve"))
    app_id = app_data(admin)["appId"]
    grant_full_access(admin, app_id)
    plan = ok(rbac_cli.run("plan", "--detailed-exitcode"), 2)
    assert "unscoped: tenant-wide consent of exchange:full_access_as_app" in plan.stdout
    audit = ok(rbac_cli.run("audit", "--fail-on", "high"), exitcodes.FINDINGS)
    assert "tenant-wide consent of exchange:full_access_as_app voids its RBAC scope" in audit.stdout
    ok(rbac_cli.run("apply", "--auto-approve"))
    assert exchange_consent(admin, app_id) == []
    ok(rbac_cli.run("plan", "--detailed-exitcode"), 0)
    assert "voids" not in ok(rbac_cli.run("audit")).stdout


def test_propagation_delay_is_pending_then_verified_without_drift(rbac_cli: Cli, admin: AdminClient) -> None:
    """While the role assignment propagates, the scope is pending (a no-op, not drift) and the
    canary cannot pass, so no mailbox moves onto the profile; once it is in effect, apply
    finishes the job."""
    admin.faults(rbac_propagation_seconds=3600)
    stopped = rbac_cli.run("apply", "--auto-approve")
    assert stopped.returncode == exitcodes.ERROR, stopped.stdout + stopped.stderr
    assert 'canary["Contoso EXO (own app)"] failed:' in stopped.stderr
    assert "mailboxes: skipped" in stopped.stdout
    assert synced_in_scope(admin) == {}                  # nothing moved onto an app not yet in effect
    assert scope_reason(rbac_cli).startswith("pending: the role assignments")
    shown = rbac_cli.run("plan")                         # the text plan says so too, as information
    assert "exchange_scope.sss" in shown.stdout and "pending: the role assignments" in shown.stdout
    admin.faults(rbac_propagation_seconds=0)
    apply_then_converged(rbac_cli, admin)
    assert "checked: granted for" in scope_reason(rbac_cli)


def grant_full_access(admin: AdminClient, app_id: str) -> None:
    """An administrator grants tenant-wide admin consent of full_access_as_app behind sssctl's back."""
    directory = admin.snapshot("directory")["directory"]
    sp = next(s for s in directory["servicePrincipals"] if s["appId"].lower() == app_id.lower())
    info = admin.info
    token = admin.token(info.graph_url)
    body = {"principalId": sp["id"], "resourceId": EXCHANGE_SP_OBJECT_ID,
            "appRoleId": EXCHANGE_ROLES["full_access_as_app"]}
    with httpx.Client(verify=trust(info), headers={"Authorization": f"Bearer {token}"}) as http:
        response = http.post(f"{info.graph_url}/v1.0/servicePrincipals/{EXCHANGE_SP_OBJECT_ID}/"
                             "appRoleAssignedTo", json=body)
    assert response.status_code == 201, response.text


def test_a_failing_canary_stops_the_run_before_any_other_mailbox_moves(
        rbac_cli: Cli, admin: AdminClient) -> None:
    """Server-side sync refuses RBAC-only apps here: the canary fails, goes back to where it
    was, and the defaults, the mailbox policy and the default profile are left alone."""
    admin.faults(sync_rejects_rbac_only=True)
    stopped = rbac_cli.run("apply", "--auto-approve")
    assert stopped.returncode == exitcodes.ERROR, stopped.stdout + stopped.stderr
    assert "failed Test & Enable on profile 'Contoso EXO (own app)'" in stopped.stderr
    for skipped in ("mailbox_defaults", "mailboxes", "server_profile.default"):
        assert f"{skipped}: skipped" in stopped.stdout
    profile = custom_profile(admin)["emailserverprofileid"]
    live = tables(admin)
    assert [m["emailaddress"] for m in live["mailbox"] if m["_emailserverprofile_value"] == profile] == []
    (organization,) = live["organization"]
    assert organization["_defaultemailserverprofileid_value"] != profile
    built_in = next(p for p in live["emailserverprofile"] if p["name"] == "Microsoft Exchange Online")
    assert built_in["statecode"] == 0                    # still synchronizing as before: not weaker
    admin.faults(sync_rejects_rbac_only=False)
    apply_then_converged(rbac_cli, admin)
    reached = synced_in_scope(admin)     # approval is required by now, so unapproved ones fail their test
    assert reached and any(reached.values())


def unscoped(admin: AdminClient, app_id: str) -> bool:
    """A tenant-wide mailbox consent that no access policy narrows. The consent is looked at
    first: a policy is always made before the consent, so a look never races to a false alarm."""
    consented = bool(exchange_consent(admin, app_id))
    policies = [p for p in exchange(admin)["applicationAccessPolicies"]
                if app_id.lower() in str(p.get("AppId", "")).lower()]
    return consented and not policies


def watched(cli: Cli, admin: AdminClient, app_id: str, *args: str) -> tuple[int, str]:
    """Run a command, looking at the emulator all along: the app is never unscoped.
    (looks made, what the command printed)."""
    admin.faults(latency_ms=40)          # slow enough for the watcher to see each step
    run = cli.start(*args, "--auto-approve", "--parallelism", "1")
    looks = 0
    while run.poll() is None or looks == 0:
        assert not unscoped(admin, app_id), f"the app was unscoped at look {looks}: {exchange(admin)}"
        looks += 1
    out, err = run.communicate(timeout=120)
    assert run.returncode == 0, out + err
    admin.faults(latency_ms=0)
    return looks, out


def no_rbac_objects(admin: AdminClient) -> bool:
    live = exchange(admin)
    return not (live["servicePrincipals"] or live["managementScopes"] or live["managementRoleAssignments"])


def test_switching_back_to_an_access_policy_never_leaves_the_app_unscoped(
        rbac_cli: Cli, admin: AdminClient) -> None:
    """rbac -> access_policy: the policy first, then the consent it narrows, then the RBAC
    objects, last."""
    ok(rbac_cli.run("apply", "--auto-approve"))
    app_id = app_data(admin)["appId"]
    rbac_cli.config.write_text(HARDENED.read_text(encoding="utf-8"), encoding="utf-8")
    plan = ok(rbac_cli.run("plan", "--detailed-exitcode"), 2).stdout
    assert "restrict it to sss-mailboxes@contoso.com; then grant the tenant-wide consent" in plan
    assert "service principal pointer sssctl made, last" in plan
    looks, _ = watched(rbac_cli, admin, app_id, "apply")
    assert looks > 3
    assert exchange(admin)["applicationAccessPolicies"] and exchange_consent(admin, app_id)
    assert no_rbac_objects(admin)
    ok(rbac_cli.run("plan", "--detailed-exitcode"), 0)


def adopt_legacy_app(admin: AdminClient) -> str:
    """The app as an administrator left it before sssctl: same uniqueName, tenant-wide
    full_access_as_app narrowed by an access policy. Its appId."""
    info = admin.info
    graph = f"{info.graph_url}/v1.0"
    headers = {"Authorization": f"Bearer {admin.token(info.graph_url)}"}
    declared = [{"resourceAppId": EXCHANGE_APP_ID,
                 "resourceAccess": [{"id": EXCHANGE_ROLES["full_access_as_app"], "type": "Role"}]}]
    with httpx.Client(verify=trust(info), headers=headers) as http:
        response = http.patch(f"{graph}/applications(uniqueName='{UNIQUE_NAME}')",
                              json={"displayName": "SSS (before sssctl)", "requiredResourceAccess": declared},
                              headers={"Prefer": "create-if-missing"})
        assert response.status_code in (200, 201, 204), response.text
        app_id = str(http.get(f"{graph}/applications(uniqueName='{UNIQUE_NAME}')").json()["appId"])
        assert http.post(f"{graph}/servicePrincipals", json={"appId": app_id}).status_code == 201
    grant_full_access(admin, app_id)
    run_cmdlet(info, admin, "New-ApplicationAccessPolicy", AppId=app_id, AccessRight="RestrictAccess",
               PolicyScopeGroupId="sss-mailboxes@contoso.com")
    return app_id


def test_destroy_puts_back_the_access_policy_and_consent_found_before(
        rbac_cli: Cli, admin: AdminClient) -> None:
    app_id = adopt_legacy_app(admin)
    ok(rbac_cli.run("apply", "--auto-approve"))
    assert exchange(admin)["applicationAccessPolicies"] == [] and exchange_consent(admin, app_id) == []
    _, shown = watched(rbac_cli, admin, app_id, "destroy")
    assert "put back the application access policy found before" in shown
    (policy,) = exchange(admin)["applicationAccessPolicies"]
    assert policy["AppId"].lower() == app_id.lower() and policy["AccessRight"] == "RestrictAccess"
    assert [a["appRoleId"] for a in exchange_consent(admin, app_id)] == [EXCHANGE_ROLES["full_access_as_app"]]
    assert no_rbac_objects(admin)
    assert app_data(admin)["displayName"] == "SSS (before sssctl)"


def test_a_migration_whose_canary_fails_keeps_the_access_policy_and_the_consent(
        cli: Cli, admin: AdminClient) -> None:
    """access_policy -> rbac where server-side sync refuses RBAC-only apps: the mailbox tested
    through RBAC alone fails, so the consent comes back (narrowed by the policy), the policy
    stays, and the mailboxes on the profile still synchronize."""
    cli.config.write_text(HARDENED.read_text(encoding="utf-8"), encoding="utf-8")
    ok(cli.run("apply", "--auto-approve"))
    app_id = app_data(admin)["appId"]
    synchronizing = synced_in_scope(admin)
    assert any(synchronizing.values())
    admin.faults(sync_rejects_rbac_only=True)
    cli.config.write_text(HARDENED_RBAC.read_text(encoding="utf-8"), encoding="utf-8")
    assert "through RBAC alone (if it fails" in ok(cli.run("plan", "--detailed-exitcode"), 2).stdout
    stopped = cli.run("apply", "--auto-approve")
    assert stopped.returncode == exitcodes.ERROR, stopped.stdout + stopped.stderr
    assert "the migration to RBAC stopped before removing the access policy" in stopped.stderr
    assert "failed Test & Enable through RBAC alone" in stopped.stderr
    assert exchange(admin)["applicationAccessPolicies"] and exchange_consent(admin, app_id)
    assert synced_in_scope(admin) == synchronizing          # as before, the tested one included
    admin.faults(sync_rejects_rbac_only=False)
    ok(cli.run("apply", "--auto-approve"))
    live = exchange(admin)
    assert live["applicationAccessPolicies"] == [] and exchange_consent(admin, app_id) == []


def test_dropping_an_adopted_app_from_the_config_puts_its_policy_back_before_its_consent(
        rbac_cli: Cli, admin: AdminClient) -> None:
    """Not destroy, a plan: the app registration's restore is a teardown too, so it grants
    the original consent only after the scope has put the original policy back."""
    app_id = adopt_legacy_app(admin)
    ok(rbac_cli.run("apply", "--auto-approve"))
    settings_only = HARDENED_RBAC.read_text(encoding="utf-8").split("[server_profiles.default]")[0]
    rbac_cli.config.write_text(settings_only, encoding="utf-8")
    watched(rbac_cli, admin, app_id, "apply")
    (policy,) = exchange(admin)["applicationAccessPolicies"]
    assert policy["AppId"].lower() == app_id.lower()
    assert [a["appRoleId"] for a in exchange_consent(admin, app_id)] == [EXCHANGE_ROLES["full_access_as_app"]]
    assert no_rbac_objects(admin)


def test_migration_never_leaves_the_app_unscoped_at_any_moment(cli: Cli, admin: AdminClient) -> None:
    """Watch the emulator while the access-policy -> RBAC apply runs: at every look a
    tenant-wide consent is narrowed by the access policy, and at the end RBAC alone holds."""
    cli.config.write_text(HARDENED.read_text(encoding="utf-8"), encoding="utf-8")
    ok(cli.run("apply", "--auto-approve"))
    app_id = app_data(admin)["appId"]
    cli.config.write_text(HARDENED_RBAC.read_text(encoding="utf-8"), encoding="utf-8")
    looks, _ = watched(cli, admin, app_id, "apply")
    assert looks > 3
    live = exchange(admin)
    assert live["applicationAccessPolicies"] == [] and live["managementRoleAssignments"]
    assert exchange_consent(admin, app_id) == []


def test_a_migration_failing_before_any_role_assignment_leaves_no_pointer(
        rbac_cli: Cli, admin: AdminClient) -> None:
    """The pointer and scope a failed run made would be recorded nowhere: they are taken away."""
    admin.faults(fault_route="/exchange/adminapi/", fault_request_contains="New-ManagementRoleAssignment",
                 error_probability=1.0)
    failed = rbac_cli.run("apply", "--auto-approve", timeout=300)
    assert failed.returncode == exitcodes.ERROR, failed.stdout + failed.stderr
    live = exchange(admin)
    assert live["servicePrincipals"] == [] and live["managementRoleAssignments"] == []
    assert live.get("managementScopes", []) == []
    admin.clear_faults()
    ok(rbac_cli.run("apply", "--auto-approve"))


GRAPH_ROLES = ["Application Calendars.ReadWrite", "Application Contacts.ReadWrite",
               "Application Mail.ReadWrite", "Application MailboxSettings.Read"]


def role_names(admin: AdminClient) -> list[str]:
    return sorted(str(a["Role"]) for a in exchange(admin)["managementRoleAssignments"])


def on_profiles(admin: AdminClient) -> dict[str, str]:
    return {m["emailaddress"]: str(m["_emailserverprofile_value"]) for m in tables(admin)["mailbox"]}


def test_a_swap_to_graph_keeps_the_ews_role_until_the_canary_passed(
        rbac_cli: Cli, admin: AdminClient) -> None:
    ok(rbac_cli.run("apply", "--auto-approve"))
    assert role_names(admin) == ["Application EWS.AccessAsApp"]
    placed, synced = on_profiles(admin), synced_in_scope(admin)
    assert any(synced.values())
    graph = json.dumps([f"graph:{r.removeprefix('Application ')}" for r in GRAPH_ROLES])
    rbac_cli.config.write_text(HARDENED_RBAC.read_text(encoding="utf-8").replace(
        'permissions = ["exchange:full_access_as_app"]', f"permissions = {graph}"), encoding="utf-8")
    wanted = admin.faults()["graph_sync_permissions"]
    admin.faults(graph_sync_permissions="Mail.ReadWrite,Mail.Send")     # Graph refuses: Mail.Send is missing
    plan = " ".join(ok(rbac_cli.run("plan")).stdout.split())
    assert "Application EWS.AccessAsApp only after the canary passed" in plan
    failed = ok(rbac_cli.run("apply", "--auto-approve"), exitcodes.ERROR)
    assert "failed Test & Enable" in failed.stdout + failed.stderr
    assert "Application EWS.AccessAsApp" in role_names(admin)          # the old path stays
    assert on_profiles(admin) == placed and synced_in_scope(admin) == synced     # as before: nothing moved
    admin.faults(graph_sync_permissions=wanted)
    ok(rbac_cli.run("apply", "--auto-approve"))
    assert role_names(admin) == GRAPH_ROLES
    assert synced_in_scope(admin) == synced
    ok(rbac_cli.run("plan", "--detailed-exitcode"))
