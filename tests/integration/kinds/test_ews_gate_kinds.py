"""The EWS admission and the canary against the real emulator, on both sides of each date."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sssctl.emulator.admin_client import AdminClient
from sssctl.emulator.exchange_ews import SEEDED_ALLOWED_APP
from sssctl.emulator.info import EmulatorInfo
from sssctl.kinds import load_kinds
from tests.integration.kinds.test_control5_kinds import Run, connected
from tests.support.applying import ChangeFailed, apply_changes

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

NAMES = ("app_registration", "ews_admission", "exchange_scope", "server_profile_custom", "canary")


def gate_run(desired: Any, clients: Any, state: dict[str, dict[str, Any]]) -> Run:
    """Control 5's miniature engine, with the EWS admission and the canary riding along."""
    run = Run(desired, clients, state)
    run.kinds = list(load_kinds(NAMES))
    run.observed = {k.name: k.read(run.ctx) for k in run.kinds}
    return run


@pytest.fixture
def gate(emulator_admin: AdminClient) -> Iterator[AdminClient]:
    emulator_admin.reset()
    emulator_admin.clear_faults()
    yield emulator_admin
    emulator_admin.clock(real=True)


def listed(admin: AdminClient) -> list[str]:
    return list(admin.snapshot("exchange")["exchange"]["ews"]["organizationConfig"]["EwsAllowedAppIDs"])


def test_admitted_before_the_shutdown_the_canary_passes_and_others_stay_listed(
    emulator: EmulatorInfo, gate: AdminClient, tmp_path: Path
) -> None:
    gate.clock("2027-03-31T12:00:00Z")
    state: dict[str, dict[str, Any]] = {}
    with connected(emulator, tmp_path) as (desired, clients):
        run = gate_run(desired, clients, state)
        outcomes = run.apply()
        applied = {o.change.address for o in outcomes}
        assert applied >= {"ews_admission.sss", 'canary["Contoso EXO (own app)"]'}
    assert listed(gate)[0] == SEEDED_ALLOWED_APP and len(listed(gate)) == 2
    assert state['canary["Contoso EXO (own app)"]']["managed"]["transport"] == "ews"


def test_after_the_shutdown_the_canary_fails_and_says_so(
    emulator: EmulatorInfo, gate: AdminClient, tmp_path: Path
) -> None:
    gate.clock("2027-04-01T00:00:01Z")
    state: dict[str, dict[str, Any]] = {}
    with connected(emulator, tmp_path) as (desired, clients):
        run = gate_run(desired, clients, state)
        refused = r'^canary\["Contoso EXO \(own app\)"\]: .*shut down on 2027-04-01'
        with pytest.raises(ChangeFailed, match=refused):
            apply_changes(run.kinds, run.ctx, run.plan(), state)
    assert 'canary["Contoso EXO (own app)"]' not in state
    assert "ews_admission.sss" in state          # admitted, yet EWS is gone for everyone
