"""An apply the service throttles, as a user runs it: waited out as told, or ended by --timeout."""

from __future__ import annotations

import re

import pytest

from sssctl.emulator.admin_client import AdminClient
from tests.e2e.conftest import Cli

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(180)]


def _expensive_reverts(admin: AdminClient, *, budget_seconds: float, window_seconds: float) -> None:
    """A thousand drifted mailboxes whose $batch requests outrun a small execution-time budget."""
    admin.reset(mailboxes=3000)
    admin.faults(batch_operation_ms=5.0, limit_execution_seconds=budget_seconds,
                 limit_window_seconds=window_seconds)
    admin.reset_counters()


def _documented_limits(admin: AdminClient) -> None:
    admin.faults(batch_operation_ms=0, limit_execution_seconds=1200, limit_window_seconds=300)


def test_a_throttled_apply_waits_as_told_says_so_and_completes_in_one_run(
    cli: Cli, admin: AdminClient
) -> None:
    _expensive_reverts(admin, budget_seconds=1.5, window_seconds=8)
    try:
        done = cli.run("apply", "--auto-approve", timeout=150)
        throttled = admin.counters()["throttled"]
    finally:
        _documented_limits(admin)
    assert done.returncode == 0, done.stdout + done.stderr
    assert throttled > 0
    assert "asked the run to wait" in done.stderr and "then it continues" in done.stderr
    summary = re.search(r"(\d+) throttled\)", done.stdout)
    assert summary is not None and int(summary.group(1)) == throttled  # every 429 the server sent
    assert cli.run("plan", "--detailed-exitcode").returncode == 0


def test_timeout_ends_a_throttled_apply_keeping_what_was_applied(cli: Cli, admin: AdminClient) -> None:
    _expensive_reverts(admin, budget_seconds=0.5, window_seconds=120)
    try:
        done = cli.run("apply", "--auto-approve", "--timeout", "20s", timeout=90)
    finally:
        _documented_limits(admin)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "--timeout of 20 s" in done.stdout + done.stderr
    assert "the service asked the run to" in done.stdout + done.stderr  # to wait, or to pause longer
    again = cli.run("apply", "--auto-approve")
    assert again.returncode == 0, again.stdout + again.stderr
    assert cli.run("plan", "--detailed-exitcode").returncode == 0
