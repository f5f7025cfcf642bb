"""End-to-end fixtures: the sssctl CLI run as a user runs it, against the shared emulator.

Each test gets a freshly reseeded emulator, no faults, its own state directory and a
config file; ``Cli.run`` starts ``python -m sssctl`` as a subprocess with the emulator's
``SSSCTL_*`` variables, exactly as a pipeline would.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sssctl.emulator.admin_client import AdminClient
from sssctl.emulator.info import EmulatorInfo

DATAVERSE_CONFIG = """
version = 1

[environment]
name = "e2e"
url = "https://contoso.crm.dynamics.com"
tenant_id = "00000000-0000-0000-0000-000000000000"

[auth]
method = "client_secret"
client_id = "11111111-1111-1111-1111-111111111111"
client_secret = { env = "SSSCTL_CLIENT_SECRET" }

[approval]
require_for_users = true
require_for_queues = true

[org_settings]
RequirePrivilegeToSelfApproveEmailAddress = true
SSSForceFilteringMethodForUserMailboxes = 3

[mailbox_defaults]
incoming_email = "server_side_sync"
outgoing_email = "server_side_sync"
appointments_contacts_tasks = "server_side_sync"

[mailboxes]
enforce = "defaults"
scope = "users"
"""


@dataclass
class Cli:
    env: dict[str, str]
    config: Path
    state_dir: Path
    workdir: Path

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "sssctl", "--log-format", "json", *args]

    def run(self, *args: str, timeout: float = 120, config: bool = True) -> subprocess.CompletedProcess[str]:
        extra = ["-c", str(self.config)] if config else []
        return subprocess.run(self.command(*args, *extra), env=self.env, cwd=self.workdir,
                              capture_output=True, text=True, timeout=timeout, check=False)

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(self.command(*args, "-c", str(self.config)), env=self.env, cwd=self.workdir,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    @property
    def state_file(self) -> Path:
        return self.state_dir / "e2e.json"


@pytest.fixture
def admin(emulator_admin: AdminClient) -> Iterator[AdminClient]:
    emulator_admin.reset()
    emulator_admin.clear_faults()
    yield emulator_admin
    emulator_admin.clear_faults()


@pytest.fixture
def cli(emulator: EmulatorInfo, admin: AdminClient, tmp_path: Path) -> Cli:
    config = tmp_path / "e2e.toml"
    config.write_text(DATAVERSE_CONFIG)
    state_dir = tmp_path / "state"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SSSCTL_", "MSAL_")) and k != "REGION_NAME"}
    env.update(emulator.environ())
    env["SSSCTL_STATE_DIR"] = str(state_dir)
    return Cli(env=env, config=config, state_dir=state_dir, workdir=tmp_path)

def wait_for(predicate: Any, *, timeout: float = 60, what: str = "condition") -> None:
    """Poll ``predicate`` until it holds; a run under test is watched, never slept past."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
