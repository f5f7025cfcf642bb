#!/usr/bin/env python3
"""``configs/hardened-rbac.toml`` converges on the large dataset: a proof, with its cost.

Not a test (the suite has no room for a two-minute run): a measurement that also checks.
It seeds the large dataset (5,000 mailboxes by default), applies the config once and
then plans again, and fails (exit 1) unless

* the apply exits 0,
* the plan right after it finds nothing to change (``--detailed-exitcode`` 0), and
* the services hold no duplicate: one app registration, one service-principal pointer,
  one management scope, one role assignment, one custom profile.

Scoping by Exchange RBAC for Applications has the canary: the role assignment is only
trusted once a mailbox in scope is seen reachable. The canary has to search the whole
scope on a large organisation, which is why this is measured at size and not on the small
dataset the tests use. For each step it prints the seconds, the requests the emulator
counted and the peak resident memory of the sssctl process::

    make bench BENCH_ARGS="--rbac"               # 5,000 mailboxes, about two minutes on 2 cores
    make bench BENCH_ARGS="--rbac --quick"       # 500 mailboxes: seconds
    .venv/bin/python bench/rbac_convergence.py --mailboxes 20000 --json-out rbac.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.emulator_process import emulator_process  # needs the path above
from sssctl.emulator.admin_client import AdminClient
from sssctl.emulator.info import EmulatorInfo

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "configs" / "hardened-rbac.toml"
UNIQUE_NAME = "sssctl-contoso-prod-sss"
PROFILE = "Contoso EXO (own app)"
QUICK_MAILBOXES = 500
RUN_TIMEOUT = 1800.0


def run_sssctl(info: EmulatorInfo, state: Path, *args: str) -> dict[str, Any]:
    """One sssctl process: exit code, seconds, peak RSS (its own, from wait4) and output tail."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SSSCTL_", "MSAL_"))}
    env.update(info.environ())
    env["SSSCTL_STATE_DIR"] = str(state)
    command = [sys.executable, "-m", "sssctl", "--log-format", "json", *args, "-c", str(CONFIG)]
    started = time.monotonic()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=err, text=True)
        try:
            _, status, usage = os.wait4(process.pid, 0)
        except BaseException:
            process.kill()
            process.wait()
            raise
        process.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.monotonic() - started
        out.seek(0)
        err.seek(0)
        tail = (out.read() + err.read())[-2000:]
    # ru_maxrss is in KiB on Linux
    return {"exit": process.returncode, "seconds": round(seconds, 1),
            "peak_rss_mib": round(usage.ru_maxrss / 1024, 1), "tail": tail}


def integrity(admin: AdminClient) -> dict[str, int]:
    """What the services hold of what the config makes; each must exist exactly once."""
    snap = admin.snapshot("directory", "exchange", "dataverse")
    apps = [a for a in snap["directory"]["applications"] if a.get("uniqueName") == UNIQUE_NAME]
    app_ids = {str(a.get("appId")).lower() for a in apps}
    exchange = snap["exchange"]
    pointers = [p for p in exchange.get("servicePrincipals", [])
                if str(p.get("AppId") or p.get("appId") or "").lower() in app_ids]
    counts = {
        "apps": len(apps),
        "service_principal_pointers": len(pointers),
        "management_scopes": len(exchange.get("managementScopes", [])),
        "role_assignments": len(exchange.get("managementRoleAssignments", [])),
        "access_policies": len(exchange.get("applicationAccessPolicies", [])),
        "profiles": sum(1 for p in snap["dataverse"]["tables"]["emailserverprofile"] if p["name"] == PROFILE),
    }
    counts["duplicates"] = sum(max(0, n - 1) for k, n in counts.items() if k != "access_policies")
    return counts


def measure(info: EmulatorInfo, admin: AdminClient) -> dict[str, Any]:
    steps: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as state:
        for name, args in (("apply", ("apply", "--auto-approve")), ("plan", ("plan", "--detailed-exitcode"))):
            admin.reset_counters()
            step = run_sssctl(info, Path(state), *args)
            step["requests"] = int(admin.counters()["total"])
            steps[name] = step
            print(f"{name:<6} exit {step['exit']}  {step['seconds']:>7.1f} s  {step['requests']:>7,} requests"
                  f"  peak RSS {step['peak_rss_mib']:.0f} MiB", flush=True)
            if step["exit"] != 0:
                break
    return {"steps": steps, "integrity": integrity(admin)}


def verdict(result: dict[str, Any]) -> list[str]:
    """Every way the run fell short of convergence (empty: it converged)."""
    steps, held = result["steps"], result["integrity"]
    problems = []
    if steps["apply"]["exit"] != 0:
        problems.append(f"the apply exited {steps['apply']['exit']}:\n{steps['apply']['tail']}")
    elif steps["plan"]["exit"] != 0:
        problems.append(f"the plan after the apply exited {steps['plan']['exit']} (0 = nothing to change):\n"
                        f"{steps['plan']['tail']}")
    if held["duplicates"]:
        problems.append(f"{held['duplicates']} duplicate(s): {held}")
    for what in ("apps", "management_scopes", "role_assignments", "profiles"):
        if held[what] != 1:
            problems.append(f"expected one of {what}, found {held[what]}")
    return problems


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rbac", action="store_true", help="(how make bench routes here; no effect)")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_MAILBOXES} mailboxes: seconds")
    parser.add_argument("--mailboxes", type=int, help="mailboxes to seed (default 5,000)")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="latency of every request")
    parser.add_argument("--json-out", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(list(argv))
    mailboxes = args.mailboxes or (QUICK_MAILBOXES if args.quick else 5000)
    print(f"configs/hardened-rbac.toml on the large dataset: {mailboxes:,} mailboxes, "
          f"{args.latency_ms:g} ms latency", flush=True)
    with tempfile.TemporaryDirectory() as work, \
            emulator_process(mailboxes=mailboxes, workdir=Path(work), latency_ms=args.latency_ms) as info, \
            AdminClient(info) as admin:
        result = measure(info, admin)
    result["mailboxes"] = mailboxes
    problems = verdict(result)
    held = result["integrity"]
    print(f"held   {held['apps']} app, {held['service_principal_pointers']} service-principal pointer, "
          f"{held['management_scopes']} management scope, {held['role_assignments']} role assignment, "
          f"{held['profiles']} profile; duplicates {held['duplicates']}")
    if args.json_out:
        args.json_out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    if problems:
        print("NOT CONVERGED\n" + "\n".join(problems), file=sys.stderr)
        return 1
    print("converged: apply exit 0, the next plan has nothing to change, no duplicates")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
