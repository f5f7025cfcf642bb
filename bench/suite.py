"""``make bench``: every scenario, the sssctl way and the naive way, figures side by side.

Each measured run follows the same steps: reset the emulator to the same seed (identical
data, zeroed counters, fresh service-protection windows), run the way in a fresh worker
process, read the emulator's counters. Seconds come from a run without tracemalloc
(tracing slows Python down); the memory peak from a second, otherwise identical run with
tracemalloc on. ``--quick`` uses a smaller dataset and one traced run per way.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from types import FrameType
from typing import Any

from bench import report
from bench.emulator_process import EmulatorFailed, emulator_process
from bench.launch import BenchError, run_worker
from bench.scenarios import HEADER, SCENARIOS, Scenario
from sssctl.emulator.info import EmulatorInfo

DEFAULT_MAILBOXES = 12_000  # naive mailbox revert stays well under 6,000 requests per 5 minutes
QUICK_MAILBOXES = 3_000
REQUEST_LIMIT = 6_000  # Dataverse service protection: requests per user per 5 minutes
DRIFT_SHARE = 0.3  # the large dataset drifts three mailboxes in ten from the defaults


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/run.py",
        description="Benchmarks: sssctl next to a naive script, same emulator, same data.",
    )
    parser.add_argument("--mailboxes", type=int, help=f"mailboxes to seed (default {DEFAULT_MAILBOXES:,}; "
                        f"--quick: {QUICK_MAILBOXES:,}); 5%% of them are queue mailboxes")
    parser.add_argument("--quick", action="store_true", help="small dataset, one traced run per way")
    parser.add_argument("--latency-ms", type=float, default=0.0,
                        help="latency the emulator adds to every request (default 0)")
    parser.add_argument("--only", default=",".join(SCENARIOS),
                        help=f"comma-separated scenarios (default: {','.join(SCENARIOS)})")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated data (default 1)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="timed runs per way; seconds are their median (default 1)")
    parser.add_argument("--routes", action="store_true", help="also print the busiest routes per way")
    parser.add_argument("--json-out", type=Path, help="also write every figure to this JSON file")
    parser.add_argument("--traceback", action="store_true", help="show where an unexpected error came from")
    args = parser.parse_args(argv)
    unknown = [key for key in args.only.split(",") if key not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}")
    if args.mailboxes is not None and args.mailboxes < 100:
        parser.error("--mailboxes must be at least 100 (the large dataset's shape)")
    if args.json_out is not None and not args.json_out.resolve().parent.is_dir():
        parser.error(f"--json-out: directory {args.json_out.resolve().parent} does not exist")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.latency_ms < 0:
        parser.error("--latency-ms cannot be negative")
    args.mailboxes = args.mailboxes or (QUICK_MAILBOXES if args.quick else DEFAULT_MAILBOXES)
    return args


# --- one measured run --------------------------------------------------------------------------


def _worker(job: Mapping[str, Any], workdir: Path) -> dict[str, Any]:
    job_file = workdir / f"job-{job['scenario']}-{job['variant']}.json"
    return run_worker("bench.worker", job, job_file, f"{job['scenario']} ({job['variant']})")


def measure(
    info: EmulatorInfo, scenario: Scenario, variant: str, workdir: Path, *, quick: bool, repeat: int = 1
) -> dict[str, Any]:
    """Timed runs (and, unless quick, a traced run for memory), each on freshly reset data."""
    from sssctl.emulator.admin_client import AdminClient

    job = {"scenario": scenario.key, "variant": variant, "info": asdict(info), "workdir": str(workdir)}
    passes = (True,) if quick else (*([False] * repeat), True)
    results = []
    with AdminClient(info, timeout=300.0) as admin:
        for trace in passes:
            admin.reset()
            results.append(_worker({**job, "trace": trace}, workdir))
    return combine(results)


def combine(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The timed runs' figures (median seconds), the traced run's memory peak.

    Convergence must hold in every run, and every run must find the same count.
    """
    timed_runs = results[:-1] or results
    timed = dict(timed_runs[0])
    timed["seconds"] = statistics.median(r["seconds"] for r in timed_runs)
    timed["peak_mib"] = results[-1]["peak_mib"]
    left = [r["remaining"] for r in results if r["remaining"] is not None]
    timed["remaining"] = max(left) if left else None
    found = [r["found"] for r in results]
    if len(set(found)) > 1:
        raise BenchError(f"two runs on identical data found different counts: {found}")
    return timed


# --- output ------------------------------------------------------------------------------------


def census(info: EmulatorInfo, workdir: Path) -> dict[str, int]:
    """Rows per table, counted through the Web API like any client would."""
    from sssctl.clients.session import open_clients
    from sssctl.config.loader import load

    config = workdir / "census.toml"
    config.write_text(HEADER, encoding="utf-8")
    environ = {**info.environ(), "SSSCTL_STATE_DIR": str(workdir / "state-census")}
    tables = {
        "mailboxes": ("mailboxes", "mailboxid"),
        "queues": ("queues", "queueid"),
        "users": ("systemusers", "systemuserid"),
        "business units": ("businessunits", "businessunitid"),
        "role rows (one copy per business unit)": ("roles", "roleid"),
    }
    with open_clients(load(config, environ), environ=environ) as clients:
        query = clients.dataverse.query
        return {name: sum(1 for _ in query(table, select=[key])) for name, (table, key) in tables.items()}


def header(args: argparse.Namespace, sizes: Mapping[str, int]) -> list[str]:
    machine = f"{os.cpu_count()} cores, {platform.machine()}, {platform.system()} {platform.release()}"
    sized = ", ".join(f"{count:,} {name}" for name, count in sizes.items())
    timed = "an untraced run" if args.repeat == 1 else f"the median of {args.repeat} untraced runs"
    how = ("one traced run per way (seconds include tracemalloc overhead)" if args.quick else
           f"seconds from {timed}; memory from one more, traced run")
    facts = report.header([
        ("machine", machine),
        ("python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("emulator", f"separate process, dataset large (seed {args.seed}), latency {args.latency_ms:g} ms"),
        ("dataset", sized),
        ("limits", f"real Dataverse service protection ({REQUEST_LIMIT:,} requests per user per 5 min)"),
        ("runs", how),
        ("ratio", "naive / sssctl: how many times more the naive way costs"),
    ])
    lines = ["sssctl benchmarks: sssctl next to a naive script, same emulator, same data", "", *facts]
    expected = int(sizes.get("mailboxes", 0) * DRIFT_SHARE)
    if "mailboxes" in args.only.split(",") and expected > REQUEST_LIMIT * 0.9:
        lines.append(f"note      the naive mailbox revert needs about {expected:,} requests: beyond "
                     "the limit the service answers 429 and the naive run waits out the window")
    return lines


def section(
    number: int, scenario: Scenario, results: Mapping[str, Mapping[str, Any]], args: argparse.Namespace
) -> list[str]:
    lines = ["", f"{number}. {scenario.title}", f"   sssctl: {scenario.sssctl_way}",
             f"   naive:  {scenario.naive_way}", ""]
    lines += report.table(results["sssctl"], results["naive"], scenario.found_label,
                          estimate=args.latency_ms == 0)
    if scenario.writes and results["sssctl"]["found"] != results["naive"]["found"]:
        lines.append("  WARNING: the two ways disagree on how many rows differ; the comparison is not fair")
    if args.routes:
        for variant in ("sssctl", "naive"):
            lines += report.routes(variant, results[variant])
    return lines


def run_scenarios(info: EmulatorInfo, workdir: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Each chosen scenario both ways, its table printed as soon as it is known."""
    everything: dict[str, Any] = {}
    for number, key in enumerate(args.only.split(","), start=1):
        scenario = SCENARIOS[key]
        everything[key] = {
            variant: measure(info, scenario, variant, workdir, quick=args.quick, repeat=args.repeat)
            for variant in ("sssctl", "naive")
        }
        print("\n".join(section(number, scenario, everything[key], args)), flush=True)
    return everything


def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="sssctl-bench-") as tmp:
        workdir = Path(tmp)
        with emulator_process(mailboxes=args.mailboxes, workdir=workdir,
                              latency_ms=args.latency_ms, seed=args.seed) as info:
            print("\n".join(header(args, census(info, workdir))), flush=True)
            everything = run_scenarios(info, workdir, args)
    print(f"\nTotal {time.monotonic() - started:.0f} s.")
    if args.json_out is not None:
        args.json_out.write_text(json.dumps({"args": vars_of(args), "results": everything}, indent=2) + "\n",
                                 encoding="utf-8")
    return 0 if all(fair(SCENARIOS[key], results) for key, results in everything.items()) else 1


def fair(scenario: Scenario, results: Mapping[str, Mapping[str, Any]]) -> bool:
    """Both ways converged and agreed on how much differed; otherwise the figures mean nothing."""
    converged = all(r.get("remaining") in (0, None) for r in results.values())
    agreed = not scenario.writes or results["sssctl"]["found"] == results["naive"]["found"]
    return converged and agreed


def vars_of(args: argparse.Namespace) -> dict[str, Any]:
    return {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def stop_on_signals() -> None:
    """Ctrl-C and SIGTERM (a cancelled CI job) both unwind, so the emulator is always stopped.

    SIGINT is set explicitly: a shell starting us in the background hands us SIGINT ignored.
    """
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)


def main(argv: Sequence[str]) -> int:
    from sssctl.logging import configure_logging

    if "--fleet" in argv:
        from bench.fleet import main as fleet_main

        configure_logging(log_format="json", verbose=0)
        return fleet_main(argv)
    if "--watch" in argv:
        from bench.watch import main as watch_main

        stop_on_signals()
        configure_logging(log_format="json", verbose=0)
        return watch_main(argv)
    if "--rbac" in argv:
        from bench.rbac_convergence import main as rbac_main

        stop_on_signals()
        return rbac_main(argv)
    if "--w1" in argv or "--w2" in argv:
        from bench.w1 import main as w1_main
        from bench.w2 import main as w2_main

        stop_on_signals()
        configure_logging(log_format="json", verbose=0)
        return (w2_main if "--w2" in argv else w1_main)(argv)
    args = parse(argv)
    stop_on_signals()
    configure_logging(log_format="json", verbose=0)
    try:
        return run(args)
    except (BenchError, EmulatorFailed) as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        if args.traceback:
            raise
        print(f"Error: {type(exc).__name__}: {exc}\n  (run with --traceback for where it failed)",
              file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("Interrupted; the emulator was stopped.", file=sys.stderr)
        return 130
