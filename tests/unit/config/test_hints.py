"""Placeholder ids and ambient values that lost to the file are said before they cost a run."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from sssctl.cli import cli
from sssctl.clients.errors import AuthError
from sssctl.clients.session import NotedProvider, with_notes
from sssctl.config.hints import ignored_ambient, is_placeholder_guid, placeholder_warnings, sign_in_notes
from sssctl.config.loader import load

ROOT = Path(__file__).resolve().parents[3]
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CLIENT = "3c2d6f5e-9a8b-4c7d-8e6f-5a4b3c2d1e0f"


def test_placeholders_are_one_repeated_digit() -> None:
    assert is_placeholder_guid("00000000-0000-0000-0000-000000000000")
    assert is_placeholder_guid("11111111-1111-1111-1111-111111111111")
    assert not is_placeholder_guid(TENANT)
    assert not is_placeholder_guid("00000003-0000-0000-c000-000000000000")  # Graph's real app id


def test_the_shipped_example_warns_until_the_environment_supplies_real_ids() -> None:
    hardened = ROOT / "configs" / "hardened.toml"
    warnings = placeholder_warnings(load(hardened, {}))
    assert [w.split(" ")[0] for w in warnings] == ["environment.tenant_id", "auth.client_id"]
    assert "SSSCTL_TENANT_ID" in warnings[0]
    real = {"SSSCTL_TENANT_ID": TENANT, "SSSCTL_CLIENT_ID": CLIENT}
    assert placeholder_warnings(load(hardened, real)) == []


def test_validate_warns_on_stderr_and_still_exits_0() -> None:
    result = CliRunner().invoke(cli, ["validate", str(ROOT / "configs" / "minimal.toml")], env={})
    assert result.exit_code == 0
    assert "Warning:" in result.stderr and "00000000-0000-0000-0000-000000000000" in result.stderr
    assert "Warning" not in result.stdout


def test_an_azure_cli_task_value_that_lost_to_the_file_is_named_with_the_fix() -> None:
    desired = load(ROOT / "configs" / "minimal.toml", {"AZURESUBSCRIPTION_TENANT_ID": TENANT,
                                                       "AZURESUBSCRIPTION_CLIENT_ID": CLIENT})
    assert desired.environment.tenant_id == "00000000-0000-0000-0000-000000000000"  # the file wins
    notes = ignored_ambient(desired, {"AZURESUBSCRIPTION_TENANT_ID": TENANT})
    assert notes == [f"AZURESUBSCRIPTION_TENANT_ID was set to {TENANT} but environment.tenant_id = "
                     "00000000-0000-0000-0000-000000000000 was used; to use it, set "
                     "SSSCTL_TENANT_ID=$AZURESUBSCRIPTION_TENANT_ID or remove environment.tenant_id "
                     "from the file"]
    used = load(ROOT / "configs" / "minimal.toml", {"SSSCTL_TENANT_ID": TENANT})
    assert ignored_ambient(used, {"AZURESUBSCRIPTION_TENANT_ID": TENANT}) == []


def test_a_failed_sign_in_carries_the_notes_in_its_remedy() -> None:
    class Failing:
        method = "workload_identity"

        def token(self, scope: str) -> str:
            raise AuthError("sign-in failed: the tenant was not found", code="AADSTS90002",
                            remedy="check environment.tenant_id")

    desired = load(ROOT / "configs" / "minimal.toml", {})
    notes = sign_in_notes(desired, {"AZURESUBSCRIPTION_TENANT_ID": TENANT})
    try:
        NotedProvider(Failing(), notes).token("https://x/.default")
    except AuthError as exc:
        assert exc.code == "AADSTS90002"
        assert exc.remedy is not None
        assert exc.remedy.startswith("check environment.tenant_id; environment.tenant_id is the placeholder")
        assert "AZURESUBSCRIPTION_TENANT_ID was set" in exc.remedy
    else:
        raise AssertionError("the sign-in failure was swallowed")
    plain = AuthError("x", remedy="y")
    assert with_notes(plain, []) is plain


def test_validate_json_stays_a_json_document_for_tools() -> None:
    import json

    result = CliRunner().invoke(cli, ["validate", "--json", str(ROOT / "configs" / "minimal.toml")], env={})
    assert result.exit_code == 0
    assert json.loads(result.output) == []
