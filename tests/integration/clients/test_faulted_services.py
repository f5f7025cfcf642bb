"""Faults aimed at one emulated service: sign-in retried with exact counts, and a broken
Exchange answer leaving `sssctl plan` incomplete (exit 3) with the state lock released."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sssctl import exitcodes
from sssctl.cli import cli
from sssctl.clients.errors import AuthError
from sssctl.clients.session import open_clients
from sssctl.emulator.admin_client import AdminClient
from sssctl.emulator.info import EmulatorInfo

from .conftest import RecordingSleep, emulator_desired, fast_options, secret_environ

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

HARDENED = Path(__file__).resolve().parents[3] / "configs" / "hardened.toml"


def _login_requests(admin: AdminClient) -> int:
    return sum(n for route, n in admin.counters()["by_route"].items() if " login:" in route)


def test_sign_in_is_retried_through_a_503_429_burst(emulator: EmulatorInfo, calm: AdminClient) -> None:
    calm.reset_counters()
    calm.faults(fault_service="login", throttle_probability=0.5, error_probability=1.0, max_faults=3,
                fault_seed=5)
    sleep = RecordingSleep()
    with open_clients(emulator_desired(emulator), environ=secret_environ(emulator),
                      options=fast_options(sleep)) as clients:
        assert clients.dataverse.whoami().organization_id
        dataverse_requests = clients.stats.total
    # Discovery and the token request once each, plus one repeat per injected fault.
    assert _login_requests(calm) == 2 + 3
    assert len(sleep.calls) == 3
    assert dataverse_requests == 1  # sign-in is not counted as an API call of the run


def test_a_login_service_that_stays_down_is_reported_as_down(emulator: EmulatorInfo,
                                                              calm: AdminClient) -> None:
    calm.reset_counters()
    calm.faults(fault_service="login", error_probability=1.0)
    with (pytest.raises(AuthError) as caught,
          open_clients(emulator_desired(emulator), environ=secret_environ(emulator),
                       options=fast_options(max_attempts=3)) as clients):
        clients.dataverse.whoami()
    message = str(caught.value)
    assert "HTTP 503" in message and "unavailable or throttling" in message
    assert "tenant" not in (caught.value.remedy or "")
    assert _login_requests(calm) == 3


def _run(emulator: EmulatorInfo, state_dir: Path, *args: str) -> Any:
    env = {**emulator.environ(), "SSSCTL_STATE_DIR": str(state_dir)}
    return CliRunner().invoke(cli, ["--log-format", "json", *args, "-c", str(HARDENED)], env=env)


def test_a_non_json_exchange_answer_makes_the_plan_incomplete(emulator: EmulatorInfo, calm: AdminClient,
                                                              tmp_path: Path) -> None:
    calm.reset()
    try:
        # Applied first: only an app that exists has a mailbox scope to read from Exchange.
        applied = _run(emulator, tmp_path, "apply", "--auto-approve")
        assert applied.exit_code == exitcodes.OK, applied.output
        calm.faults(fault_service="exchange", malformed_probability=1.0)
        result = _run(emulator, tmp_path, "plan")
        assert result.exit_code == exitcodes.INCOMPLETE, result.output
        assert "exchange_scope" in result.output and "JSON" in result.output
        assert not list(tmp_path.glob("*.lock")), "the state lock must be released"
        calm.clear_faults()
        again = _run(emulator, tmp_path, "plan", "--detailed-exitcode")
        assert again.exit_code == exitcodes.OK, again.output
    finally:
        calm.reset()

