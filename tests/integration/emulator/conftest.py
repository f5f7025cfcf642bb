"""Fixtures shared by the emulator's integration tests."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from sssctl.emulator.admin_client import AdminClient, trusting_client
from sssctl.emulator.info import EmulatorInfo


@pytest.fixture
def graph(emulator: EmulatorInfo, emulator_admin: AdminClient) -> Iterator[httpx.Client]:
    emulator_admin.reset()
    emulator_admin.clear_faults()
    token = emulator_admin.token(emulator.graph_url)
    with trusting_client(
        emulator, base_url=f"{emulator.graph_url}/v1.0", headers={"Authorization": f"Bearer {token}"}
    ) as client:
        yield client
    emulator_admin.clear_faults()
    emulator_admin.reset()
