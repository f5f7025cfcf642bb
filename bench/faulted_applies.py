#!/usr/bin/env python3
"""First applies of configs/hardened.toml under faults, on the 5,000-mailbox dataset.

Not a test: a measurement, run by hand (about half an hour on 2 cores)::

    .venv/bin/python bench/faulted_applies.py                 # both parts
    .venv/bin/python bench/faulted_applies.py --runs 12 --part standard
    .venv/bin/python bench/faulted_applies.py --part lost

* **standard**: the standard fault profile (:mod:`bench.fault_profiles`), one fault seed
  per run, freshly seeded data each time; a run counts when its first apply exits 0
  *and* a plan without faults right after it finds nothing to change.
* **lost**: 30 % lost answers (the request is carried out, the answer never arrives) on
  one route at a time; a scenario counts when at most two applies under the fault leave
  nothing to change, with no duplicate (one app, one access policy) and no orphan secret
  (the app holds exactly the secret the profile was given).

Retry-After is 0.2 s instead of Microsoft's usual seconds, so the runs fit the time; the
shape of the reaction (wait, then retry the same request) is the same.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.emulator_process import emulator_process  # needs the path above
from bench.fault_profiles import MAILBOXES, fresh_data, lost_answers, standard_profile
from bench.w1 import HARDENED
from sssctl.emulator.admin_client import AdminClient
from sssctl.emulator.info import EmulatorInfo

UNIQUE_NAME = "sssctl-contoso-prod-sss"
LOST_ROUTES = {
    "everything": "",
    "dataverse $batch": "/dataverse/api/data/v9.2/$batch",
    "dataverse rows and actions": "/dataverse/api/data/v9.2/",
    "graph": "/graph/v1.0/",
    "exchange": "/exchange/adminapi/",
    "organization": "/dataverse/api/data/v9.2/organizations(",
}


def sssctl(info: EmulatorInfo, state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SSSCTL_", "MSAL_"))}
    env.update(info.environ())
    env["SSSCTL_STATE_DIR"] = str(state)
    return subprocess.run([sys.executable, "-m", "sssctl", *args, "-c", str(HARDENED)], env=env,
                          capture_output=True, text=True, timeout=1800, check=False)


def integrity(admin: AdminClient) -> dict[str, Any]:
    """Duplicates and orphan secrets, as the services hold them."""
    snap = admin.snapshot("directory", "exchange", "dataverse")
    apps = [a for a in snap["directory"]["applications"] if a.get("uniqueName") == UNIQUE_NAME]
    secrets = sum(len(a.get("passwordCredentials") or []) for a in apps)
    policies = len(snap["exchange"]["applicationAccessPolicies"])
    profiles = [p for p in snap["dataverse"]["tables"]["emailserverprofile"]
                if p["name"] == "Contoso EXO (own app)"]
    return {"apps": len(apps), "secrets": secrets, "policies": policies, "profiles": len(profiles),
            "duplicates": max(0, len(apps) - 1) + max(0, policies - 1) + max(0, len(profiles) - 1),
            "orphan_secrets": max(0, secrets - 1)}


def converged(info: EmulatorInfo, admin: AdminClient, state: Path) -> bool:
    admin.clear_faults()
    return sssctl(info, state, "plan", "--detailed-exitcode").returncode == 0


def standard(info: EmulatorInfo, admin: AdminClient, runs: int, mailboxes: int) -> list[dict[str, Any]]:
    results = []
    for seed in range(1, runs + 1):
        fresh_data(admin, mailboxes, standard_profile(retry_after=0.2, seed=seed))
        with tempfile.TemporaryDirectory() as state:
            started = time.monotonic()
            applied = sssctl(info, Path(state), "apply", "--auto-approve")
            seconds = time.monotonic() - started
            ok = converged(info, admin, Path(state))
            errors = [line for line in applied.stderr.splitlines() if line.startswith("Error:")][:3]
            requests = next((line for line in applied.stdout.splitlines()
                             if line.startswith("HTTP requests this run")), "")
            results.append({"seed": seed, "exit": applied.returncode, "converged": ok,
                            "seconds": round(seconds, 1), **integrity(admin), "requests": requests,
                            "errors": errors})
            print(json.dumps(results[-1]), flush=True)
    return results


def lost(info: EmulatorInfo, admin: AdminClient, mailboxes: int) -> list[dict[str, Any]]:
    results = []
    for seed, (name, route) in enumerate(LOST_ROUTES.items(), start=1):
        fresh_data(admin, mailboxes)
        with tempfile.TemporaryDirectory() as state:
            exits = []
            settled = 0
            done = False
            for _ in range(2):
                admin.faults(**lost_answers(route, seed))
                applied = sssctl(info, Path(state), "apply", "--auto-approve")
                exits.append(applied.returncode)
                settled += applied.stderr.count("apply.answer_lost.")   # took_effect | resent
                if converged(info, admin, Path(state)):
                    done = True
                    break
            results.append({"scenario": name, "exits": exits, "converged_within_2": done,
                            "settled_in_run": settled, **integrity(admin)})
            print(json.dumps(results[-1]), flush=True)
    return results


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=12)
    parser.add_argument("--mailboxes", type=int, default=MAILBOXES)
    parser.add_argument("--part", choices=("standard", "lost", "both"), default="both")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as work, \
            emulator_process(mailboxes=args.mailboxes, workdir=Path(work)) as info, \
            AdminClient(info) as admin:
        if args.part in ("standard", "both"):
            ran = standard(info, admin, args.runs, args.mailboxes)
            good = sum(1 for r in ran if r["exit"] == 0 and r["converged"])
            print(f"standard fault profile: {good} of {len(ran)} first applies exit 0 and converge; "
                  f"duplicates {sum(r['duplicates'] for r in ran)}, "
                  f"orphan secrets {sum(r['orphan_secrets'] for r in ran)}")
        if args.part in ("lost", "both"):
            ran = lost(info, admin, args.mailboxes)
            good = sum(1 for r in ran if r["converged_within_2"])
            print(f"30 % lost answers: {good} of {len(ran)} scenarios converge within 2 applies; "
                  f"duplicates {sum(r['duplicates'] for r in ran)}, "
                  f"orphan secrets {sum(r['orphan_secrets'] for r in ran)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
