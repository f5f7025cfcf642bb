"""``make bench BENCH_ARGS="--fleet"``: a fleet plan next to a shell loop of single plans.

What a platform team would otherwise script: one ``sssctl plan`` per environment, one
after another. Both ways run as the CLI a pipeline runs (a fresh process each), against
one emulator serving N organizations with network latency on every request, and both
must find the same changes. Figures: wall seconds, requests (the emulator's counters)
and the speed-up. A benchmark, not a test: nothing is compared against a threshold.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sssctl.emulator.admin_client import AdminClient
from sssctl.emulator.info import EmulatorInfo

BASELINE = """version = 1

[environment]
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

[privileges.prvApproveRejectEmailAddress]
allowed_roles = ["System Administrator"]

[mailboxes]
enforce = "report"
scope = "all"
"""


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/run.py --fleet",
                                     description="A fleet plan against a loop of single plans.")
    parser.add_argument("--fleet", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--members", type=int, default=20, help="environments in the fleet (default 20)")
    parser.add_argument("--latency-ms", type=float, default=30.0,
                        help="latency the emulator adds to every request (default 30)")
    parser.add_argument("--parallel-environments", type=int, default=8,
                        help="members the fleet plans at once (default 8)")
    return parser.parse_args(argv)


def write_fleet(root: Path, info: EmulatorInfo) -> tuple[Path, dict[str, Path]]:
    """The baseline, one overlay per organization, and the fleet file naming their URLs."""
    (root / "baseline.toml").write_text(BASELINE, encoding="utf-8")
    lines = ["version = 1", ""]
    configs: dict[str, Path] = {}
    for org in info.organizations:
        name = str(org["name"])
        overlay = root / f"{name}.toml"
        overlay.write_text(f'version = 1\nextends = "baseline.toml"\n[environment]\nname = "fleet-{name}"\n'
                           f'url = "{org["dataverse_url"]}"\n', encoding="utf-8")
        configs[name] = overlay
        lines += [f"[members.{name}]", f'config = "{name}.toml"', ""]
    fleet = root / "fleet.toml"
    fleet.write_text("\n".join(lines), encoding="utf-8")
    return fleet, configs


def _sssctl(info: EmulatorInfo, root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SSSCTL_")}
    env.update({k: v for k, v in info.environ().items() if k != "SSSCTL_URL"})
    env["SSSCTL_STATE_DIR"] = str(root / "state")
    return subprocess.run([sys.executable, "-m", "sssctl", *args], env=env, cwd=root, capture_output=True,
                          text=True, timeout=1800, check=False)


def _timed(admin: AdminClient, run: Any) -> tuple[float, int, Any]:
    admin.reset_counters()
    started = time.perf_counter()
    result = run()
    return time.perf_counter() - started, int(admin.counters()["total"]), result


def fleet_way(info: EmulatorInfo, root: Path, fleet: Path, width: int) -> tuple[int, str]:
    done = _sssctl(info, root, "fleet", "plan", str(fleet), "--parallel-environments", str(width),
                   "--detailed-exitcode", "--json")
    if done.returncode not in (0, 2):
        raise RuntimeError(f"fleet plan exited {done.returncode}: {done.stderr[-2000:]}")
    members = json.loads(done.stdout)["members"]
    return sum(int(m["changes"]) for m in members), "fleet plan"


def loop_way(info: EmulatorInfo, root: Path, configs: Mapping[str, Path]) -> tuple[int, str]:
    changes = 0
    for config in configs.values():
        done = _sssctl(info, root, "plan", "-c", str(config), "--detailed-exitcode", "--json")
        if done.returncode not in (0, 2):
            raise RuntimeError(f"plan of {config.name} exited {done.returncode}: {done.stderr[-2000:]}")
        document = json.loads(done.stdout)
        changes += sum(1 for c in document["resource_changes"] if c["change"]["actions"] != ["no-op"])
    return changes, "loop of single plans"


def main(argv: Sequence[str]) -> int:
    from sssctl.emulator import running_emulator

    args = parse(argv)
    faults = {"latency_ms": args.latency_ms}
    with running_emulator(dataset="small", organizations=args.members, faults=faults) as info, \
            AdminClient(info) as admin, tempfile.TemporaryDirectory(prefix="sssctl-bench-fleet-") as tmp:
        root = Path(tmp)
        fleet, configs = write_fleet(root, info)
        fleet_s, fleet_requests, (fleet_changes, _) = _timed(
            admin, lambda: fleet_way(info, root, fleet, args.parallel_environments))
        loop_s, loop_requests, (loop_changes, _) = _timed(admin, lambda: loop_way(info, root, configs))
    if fleet_changes != loop_changes:
        print(f"Error: the ways disagree: fleet found {fleet_changes} changes, the loop {loop_changes}",
              file=sys.stderr)
        return 1
    print(f"Fleet plan of {args.members} environments, {args.latency_ms:g} ms latency per request, "
          f"{args.parallel_environments} environments at once")
    print(f"  {'':36}{'fleet plan':>14}{'loop of plans':>16}{'loop/fleet':>12}")
    print(f"  {'seconds (wall)':36}{fleet_s:>14.1f}{loop_s:>16.1f}{loop_s / fleet_s:>11.1f}x")
    print(f"  {'HTTP requests (emulator)':36}{fleet_requests:>14,}{loop_requests:>16,}"
          f"{loop_requests / max(fleet_requests, 1):>11.1f}x")
    print(f"  {'changes found':36}{fleet_changes:>14,}{loop_changes:>16,}")
    return 0
