"""Fixtures shared by every test package.

``emulator`` starts one in-process HTTPS emulator for the whole session (small dataset);
tests that change its data or faults call ``emulator_admin.reset()`` / ``clear_faults()``
themselves. ``emulator_admin`` is the admin API client (counters, faults, snapshot, ...).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from sssctl.emulator.admin_client import AdminClient
from sssctl.emulator.info import EmulatorInfo

# MSAL would try regional endpoints if these leak in from the environment.
for _name in ("MSAL_FORCE_REGION", "REGION_NAME"):
    os.environ.pop(_name, None)


@pytest.fixture(scope="session")
def emulator() -> Iterator[EmulatorInfo]:
    from sssctl.emulator import running_emulator

    with running_emulator(dataset="small") as info:
        yield info


@pytest.fixture(scope="session")
def emulator_admin(emulator: EmulatorInfo) -> Iterator[AdminClient]:
    with AdminClient(emulator) as client:
        yield client


def admin(info: EmulatorInfo) -> AdminClient:
    """The admin helper for any running emulator (close it, or use it as a context manager)."""
    return AdminClient(info)
