"""Control 5 as a user runs it: configs/hardened.toml through the CLI against the emulator.

Own app registration -> consent -> scoped mailbox access -> custom profile with a secret
nobody ever sees -> mailboxes moved and tested -> default profile off; then rotation,
recovery from a failure between the steps, secret hygiene and the ordering guards.
"""

from __future__ import annotations

import json
import re
import ssl
import time
from pathlib import Path
from typing import Any

import httpx
import msal
import pytest

from sssctl.emulator.admin_client import AdminClient
from sssctl.emulator.info import EmulatorInfo
from sssctl.state.model import checksum_of
from tests.e2e.conftest import Cli

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

HARDENED = Path(__file__).parents[2] / "configs" / "hardened.toml"
PROFILE = "Contoso EXO (own app)"
PROFILE_ADDRESS = f'server_profile.custom["{PROFILE}"]'
UNIQUE_NAME = "sssctl-contoso-prod-sss"


@pytest.fixture
def c5(cli: Cli) -> Cli:
    cli.config.write_text(HARDENED.read_text(encoding="utf-8"), encoding="utf-8")
    return cli


def ok(result: Any, code: int = 0) -> Any:
    assert result.returncode == code, result.stdout[-4000:] + result.stderr[-4000:]
    return result


def state_file(cli: Cli) -> Path:
    return cli.state_dir / "contoso-prod.json"


def tables(admin: AdminClient) -> dict[str, list[dict[str, Any]]]:
    return dict(admin.snapshot()["dataverse"]["tables"])


def custom_profile(admin: AdminClient) -> dict[str, Any]:
    return next(r for r in tables(admin)["emailserverprofile"] if r["name"] == PROFILE)


def app_data(admin: AdminClient) -> dict[str, Any]:
    apps = admin.snapshot()["directory"]["applications"]
    return dict(next(a for a in apps if a.get("uniqueName") == UNIQUE_NAME))


def trust(info: EmulatorInfo) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=info.ca_file)


def signs_in(info: EmulatorInfo, client_id: str, secret: str) -> bool:
    """The profile's secret really works for the app (what Dataverse will do with it)."""
    http = httpx.Client(verify=trust(info))
    app = msal.ConfidentialClientApplication(
        client_id,
        client_credential=secret,
        authority=info.authority,
        http_client=http,
        instance_discovery=False,
        azure_region=False,
    )
    token = app.acquire_token_for_client(scopes=[f"{info.graph_url}/.default"])
    http.close()
    return "access_token" in token


def edit_state(cli: Cli, change: Any) -> None:
    """Change the snapshot as a crash or an old run would have left it (checksum kept valid)."""
    path = state_file(cli)
    document = json.loads(path.read_text(encoding="utf-8"))
    change(document["resources"])
    document["checksum"] = checksum_of(document)
    path.write_text(json.dumps(document), encoding="utf-8")


def apply_then_converged(cli: Cli, admin: AdminClient) -> None:
    """One apply does it all: the next plan is empty and the next apply writes nothing."""
    ok(cli.run("apply", "--auto-approve"))
    ok(cli.run("plan", "--detailed-exitcode"), 0)
    admin.reset_counters()
    ok(cli.run("apply", "--auto-approve"))
    assert admin.counters()["writes"] == 0


def test_hardened_config_validates(cli: Cli) -> None:
    ok(cli.run("validate", str(HARDENED), config=False))


def test_from_nothing_to_a_scoped_custom_profile_in_one_apply(
    c5: Cli, admin: AdminClient, emulator: EmulatorInfo
) -> None:
    ok(c5.run("plan", "--detailed-exitcode"), 2)
    started = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() - 1))
    apply_then_converged(c5, admin)

    profile = custom_profile(admin)
    app = app_data(admin)
    assert profile["oauthclientid"] == app["appId"].lower()
    assert profile["incomingcredentialretrieval"] == 7 and profile["usedefaulttenantid"] is False
    assert signs_in(emulator, app["appId"], profile["oauthclientsecret"])
    snapshot = tables(admin)
    (organization,) = snapshot["organization"]
    assert organization["_defaultemailserverprofileid_value"] == profile["emailserverprofileid"]
    moved = [
        m for m in snapshot["mailbox"] if m["_emailserverprofile_value"] == profile["emailserverprofileid"]
    ]
    assert moved and len(moved) == len(snapshot["mailbox"])
    # moving onto the custom profile scheduled Test & Enable, which ran against it just now
    assert all((m["testmailboxaccesscompletedon"] or "") >= started for m in moved)
    default = next(r for r in snapshot["emailserverprofile"] if r["name"] == "Microsoft Exchange Online")
    assert default["statecode"] == 1
    (policy,) = admin.snapshot()["exchange"]["applicationAccessPolicies"]
    assert policy["AppId"].lower() == app["appId"].lower() and policy["AccessRight"] == "RestrictAccess"
    show = ok(c5.run("plan"))
    assert "No changes" in show.stdout


def test_replication_delay_is_absorbed(c5: Cli, admin: AdminClient) -> None:
    admin.faults(replication_delay=3)
    ok(c5.run("apply", "--auto-approve"))
    admin.clear_faults()
    ok(c5.run("plan", "--detailed-exitcode"), 0)


def add_expiring_secret(admin: AdminClient, info: EmulatorInfo, c5: Cli, days: int) -> str:
    """A secret that expires in ``days``, made to look like the one the profile holds."""
    token = admin.token(info.graph_url)
    with httpx.Client(verify=trust(info), headers={"Authorization": f"Bearer {token}"}) as http:
        end = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + days * 86400))
        response = http.post(
            f"{info.graph_url}/v1.0/applications(uniqueName='{UNIQUE_NAME}')/addPassword",
            json={"passwordCredential": {"displayName": "sssctl sss old", "endDateTime": end}},
        )
        response.raise_for_status()
        key_id = str(response.json()["keyId"])

    def point_at(resources: dict[str, Any]) -> None:
        resources[PROFILE_ADDRESS]["fingerprints"]["secret_key_id"] = key_id
        resources["app_registration.sss.credential"]["fingerprints"]["latest_key_id"] = key_id

    edit_state(c5, point_at)
    return key_id


def test_secret_close_to_expiry_is_rotated_and_the_old_ones_removed(
    c5: Cli, admin: AdminClient, emulator: EmulatorInfo
) -> None:
    ok(c5.run("apply", "--auto-approve"))
    old_text = custom_profile(admin)["oauthclientsecret"]
    old_key = add_expiring_secret(admin, emulator, c5, days=10)
    plan = ok(c5.run("plan", "--detailed-exitcode"), 2)
    assert "within the 30-day grace" in plan.stdout
    ok(c5.run("apply", "--auto-approve"))
    app = app_data(admin)
    profile = custom_profile(admin)
    assert profile["oauthclientsecret"] != old_text
    keys = [c["keyId"] for c in app["passwordCredentials"]]
    assert len(keys) == 1 and old_key not in keys
    assert signs_in(emulator, app["appId"], profile["oauthclientsecret"])
    ok(c5.run("plan", "--detailed-exitcode"), 0)


def test_failure_between_secret_and_profile_is_recovered_next_run(
    c5: Cli, admin: AdminClient, emulator: EmulatorInfo, tmp_path: Path
) -> None:
    ok(c5.run("apply", "--auto-approve"))
    add_expiring_secret(admin, emulator, c5, days=5)
    plan_file = tmp_path / "rotate.plan"
    ok(c5.run("plan", "--out", str(plan_file)))
    # an outage starts right after the new secret is created: the profile write fails.
    # Latency holds every request back, so the next one is refused whatever the timing.
    admin.faults(latency_ms=250)
    failing = c5.start("apply", str(plan_file))
    deadline = time.monotonic() + 120
    while len(app_data(admin)["passwordCredentials"]) < 3 and failing.poll() is None:
        assert time.monotonic() < deadline, "the new secret was never created"
        time.sleep(0.02)
    admin.faults(error_probability=1.0, latency_ms=0)
    failing.communicate(timeout=180)
    admin.clear_faults()
    assert failing.returncode == 1
    assert len(app_data(admin)["passwordCredentials"]) == 3  # in use, expiring, and the lost one
    plan = ok(c5.run("plan", "--detailed-exitcode"), 2)
    assert "interrupted apply" in plan.stdout
    ok(c5.run("apply", "--auto-approve"))
    app = app_data(admin)
    profile = custom_profile(admin)
    assert len(app["passwordCredentials"]) == 1
    assert signs_in(emulator, app["appId"], profile["oauthclientsecret"])
    ok(c5.run("plan", "--detailed-exitcode"), 0)


def test_secret_text_appears_nowhere(
    c5: Cli, admin: AdminClient, emulator: EmulatorInfo, tmp_path: Path
) -> None:
    plan_file = tmp_path / "first.plan"
    outputs = [c5.run("-vv", "plan", "--out", str(plan_file)), c5.run("-vv", "apply", str(plan_file))]
    first = custom_profile(admin)["oauthclientsecret"]
    add_expiring_secret(admin, emulator, c5, days=3)
    outputs += [
        c5.run("-vv", "plan", "--json"),
        c5.run("-vv", "plan", "--markdown"),
        c5.run("-vv", "--log-format", "console", "apply", "--auto-approve"),
        c5.run("-vv", "show"),
    ]
    second = custom_profile(admin)["oauthclientsecret"]
    assert first != second
    texts = [o.stdout + o.stderr for o in outputs] + [plan_file.read_text(), state_file(c5).read_text()]
    for text in texts:
        for secret in (first, second, emulator.client_secret):
            assert secret not in text
        assert not re.search(r"eyJ[A-Za-z0-9_-]{10,}\.", text)


def test_guard_refuses_mailbox_defaults_on_a_profile_that_does_not_exist(c5: Cli, admin: AdminClient) -> None:
    text = HARDENED.read_text(encoding="utf-8").replace(
        'server_profile = "Contoso EXO (own app)"', 'server_profile = "Typo EXO"'
    )
    c5.config.write_text(text, encoding="utf-8")
    admin.reset_counters()
    refused = c5.run("apply", "--auto-approve")
    assert refused.returncode == 1
    assert "'Typo EXO'" in refused.stdout + refused.stderr
    assert admin.counters()["writes"] == 0


def test_guard_refuses_removing_the_custom_profile_while_mailboxes_use_it(
    c5: Cli, admin: AdminClient
) -> None:
    ok(c5.run("apply", "--auto-approve"))
    text = HARDENED.read_text(encoding="utf-8")
    text = text[: text.index('[server_profiles.custom."Contoso EXO (own app)"]')]
    text = text.replace('ews = "allow"\n', "")      # an admission serves a profile: it goes with it
    text = text.replace('server_profile = "Contoso EXO (own app)"', 'server_profile = "default"')
    text = text.replace(
        "[server_profiles.default]\nactive = false", "[server_profiles.default]\nactive = true"
    )
    # one mailbox the policy leaves alone would still point at the deleted profile
    text = text.replace('enforce = "defaults"', 'enforce = "defaults"\nexclude = ["user001@contoso.com"]')
    c5.config.write_text(text, encoding="utf-8")
    refused = c5.run("plan")
    assert refused.returncode == 1
    assert f"refusing to delete {PROFILE_ADDRESS}" in refused.stdout + refused.stderr


def control5_only() -> str:
    """hardened.toml reduced to its environment, sign-in and Control 5 sections."""
    text = HARDENED.read_text(encoding="utf-8")
    head = text[: text.index("# --- Control 1")]
    return head + text[text.index("# --- Control 5") :]


def test_destroy_removes_what_control5_created_and_nothing_else(c5: Cli, admin: AdminClient) -> None:
    c5.config.write_text(control5_only(), encoding="utf-8")
    before = {r["name"] for r in tables(admin)["emailserverprofile"]}
    ok(c5.run("apply", "--auto-approve"))
    assert PROFILE in {r["name"] for r in tables(admin)["emailserverprofile"]}
    ok(c5.run("destroy", "--auto-approve"))
    assert {r["name"] for r in tables(admin)["emailserverprofile"]} == before
    assert not [
        a for a in admin.snapshot()["directory"]["applications"] if a.get("uniqueName") == UNIQUE_NAME
    ]
    assert admin.snapshot()["exchange"]["applicationAccessPolicies"] == []
    assert json.loads(state_file(c5).read_text(encoding="utf-8"))["resources"] == {}


def test_secret_removed_from_the_app_is_drift_and_replaced(
    c5: Cli, admin: AdminClient, emulator: EmulatorInfo
) -> None:
    ok(c5.run("apply", "--auto-approve"))
    (held,) = app_data(admin)["passwordCredentials"]
    token = admin.token(emulator.graph_url)
    with httpx.Client(verify=trust(emulator), headers={"Authorization": f"Bearer {token}"}) as http:
        http.post(
            f"{emulator.graph_url}/v1.0/applications(uniqueName='{UNIQUE_NAME}')/removePassword",
            json={"keyId": held["keyId"]},
        ).raise_for_status()
    plan = ok(c5.run("plan", "--detailed-exitcode"), 2)
    assert "no longer exists on the app" in plan.stdout
    ok(c5.run("apply", "--auto-approve"))
    app = app_data(admin)
    assert len(app["passwordCredentials"]) == 1
    assert signs_in(emulator, app["appId"], custom_profile(admin)["oauthclientsecret"])
    ok(c5.run("plan", "--detailed-exitcode"), 0)
