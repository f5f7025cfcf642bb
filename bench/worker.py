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
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from sssctl.emulator.info import EmulatorInfo

MIB = 1024 * 1024


def environ_for(info: Mapping[str, str], state_dir: Path) -> dict[str, str]:
    """The caller's environment without any SSSCTL_* of theirs, pointed at the emulator."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("SSSCTL_")}
    return {**base, **info, "SSSCTL_STATE_DIR": str(state_dir)}


def peak_rss_mib() -> float:
    """The process's high-water resident set; ru_maxrss is KiB on Linux but bytes on macOS."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / MIB if sys.platform == "darwin" else peak / 1024


def measured_section(run: Callable[[], int], *, trace: bool) -> dict[str, Any]:
    """Run ``run`` under the clock (and tracemalloc when asked), counting bytes on the wire."""
    from bench.wire import counting_traffic

    if trace:
        tracemalloc.start()
    try:
        with counting_traffic() as traffic:
            started = time.perf_counter()
            found = run()
            seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1] / MIB if trace else None
    finally:
        tracemalloc.stop()
    return {
        "found": found,
        "seconds": seconds,
        "peak_mib": peak,
        "rss_mib": peak_rss_mib(),
        "sent_kib": traffic.sent / 1024,
        "received_mib": traffic.received / MIB,
    }


def server_counts(info: EmulatorInfo) -> dict[str, Any]:
    """What the emulator saw since the reset: requests, writes, 429s, per route."""
    from sssctl.emulator.admin_client import AdminClient

    with AdminClient(info) as admin:
        counters = admin.counters()
    return {key: counters[key] for key in ("total", "writes", "throttled", "by_route")}


def measure(job: Mapping[str, Any]) -> dict[str, Any]:
    from bench.scenarios import RUNNERS, SCENARIOS, remaining, warm_up

    info = EmulatorInfo(**job["info"])
    scenario = SCENARIOS[job["scenario"]]
    workdir = Path(job["workdir"])
    config = scenario.config_path(workdir)
    environ = environ_for(info.environ(), workdir / f"state-{job['variant']}-{os.getpid()}")
    run = RUNNERS[job["variant"]]
    warm_up()
    result = measured_section(lambda: run(scenario, config, environ), trace=bool(job["trace"]))
    counts = server_counts(info)
    result.update(requests=counts["total"], writes=counts["writes"], throttled=counts["throttled"],
                  by_route=counts["by_route"])
    result["remaining"] = remaining(scenario, config, environ) if scenario.writes else None
    return result


def main(argv: list[str]) -> int:
    from sssctl.logging import configure_logging

    configure_logging(log_format="json", verbose=0)
    job = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    print(json.dumps(measure(job)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
