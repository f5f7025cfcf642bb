"""One measured run in a fresh process: ``python -m bench.worker JOB.json`` prints one JSON line.

A fresh process per run keeps the figures apart: nothing the previous run imported,
cached or left for the garbage collector shows up in this run's peak memory. Imports and
the config file are prepared before the clock starts; sign-in is inside the measured
section for both ways alike.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
import tracemalloc
from collections.abc import Mapping
from pathlib import Path
from typing import Any

MIB = 1024 * 1024


def environ_for(info: Mapping[str, str], state_dir: Path) -> dict[str, str]:
    """The caller's environment without any SSSCTL_* of theirs, pointed at the emulator."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("SSSCTL_")}
    return {**base, **info, "SSSCTL_STATE_DIR": str(state_dir)}


def measure(job: Mapping[str, Any]) -> dict[str, Any]:
    from bench.scenarios import RUNNERS, SCENARIOS, remaining, warm_up
    from bench.wire import counting_traffic
    from sssctl.emulator.admin_client import AdminClient
    from sssctl.emulator.info import EmulatorInfo

    info = EmulatorInfo(**job["info"])
    scenario = SCENARIOS[job["scenario"]]
    workdir = Path(job["workdir"])
    config = scenario.config_path(workdir)
    environ = environ_for(info.environ(), workdir / f"state-{job['variant']}-{os.getpid()}")
    run = RUNNERS[job["variant"]]
    warm_up()
    if job["trace"]:
        tracemalloc.start()
    with counting_traffic() as traffic:
        started = time.perf_counter()
        found = run(scenario, config, environ)
        seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] if job["trace"] else None
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    with AdminClient(info) as admin:
        counters = admin.counters()
    left = remaining(scenario, config, environ) if scenario.writes else None
    return {
        "found": found,
        "seconds": seconds,
        "peak_mib": None if peak is None else peak / MIB,
        "rss_mib": rss,
        "sent_kib": traffic.sent / 1024,
        "received_mib": traffic.received / MIB,
        "requests": counters["total"],
        "writes": counters["writes"],
        "throttled": counters["throttled"],
        "by_route": counters["by_route"],
        "remaining": left,
    }


def main(argv: list[str]) -> int:
    from sssctl.logging import configure_logging

    configure_logging(log_format="json", verbose=0)
    job = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    print(json.dumps(measure(job)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
