"""The contention scenarios: a hardened apply when the service is not the client's alone.

Run by ``make bench BENCH_ARGS="--w2"`` at 5,000 mailboxes with ``configs/hardened.toml``
(every control), W1's costs and limits, each next to the same apply without faults:

- **standard fault profile** (:mod:`bench.fault_profiles`) with a 1 s ``Retry-After``,
  fault seed 7. Target: within 4 x the fault-free apply. Where a seed's faults land
  depends on timing, so one run can differ from the next by several seconds;
  ``--fault-seeds N`` also applies seeds 1 to N and prints each and their mean.
- **half the budgets**: another integration signing in as the same user takes half of
  each service protection budget (requests, execution time, concurrent requests). Its
  floor is W1's computed on what is left: ``writes x 10 ms / 26 + the plan's reads``.
  Target: within 2.5 x that floor.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.fault_profiles import HALF_BUDGETS, MAILBOXES, standard_profile
from bench.w1 import HARDENED, apply_seconds, floor_seconds, measure
from sssctl.emulator.info import EmulatorInfo

STANDARD_FAULTS = standard_profile(retry_after=1.0, seed=7)


def run_contention(info: EmulatorInfo, workdir: Path, *, more_seeds: int = 0) -> list[Mapping[str, Any]]:
    """Measure the three runs and print them side by side, then the standard profile under
    fault seeds 1 to ``more_seeds``; returns every run for the exit status."""
    calm = measure(info, workdir, "sssctl", MAILBOXES, HARDENED, tag="calm")
    faulted = measure(info, workdir, "sssctl", MAILBOXES, HARDENED, STANDARD_FAULTS, tag="faults")
    shared = measure(info, workdir, "sssctl", MAILBOXES, HARDENED, HALF_BUDGETS, tag="shared")
    print("\n".join(contention_table(calm, faulted, shared)), flush=True)
    seeded = [measure(info, workdir, "sssctl", MAILBOXES, HARDENED, standard_profile(retry_after=1.0, seed=n),
                      tag=f"faults-seed{n}") for n in range(1, more_seeds + 1)]
    if seeded:
        print(seeds_line(calm, seeded), flush=True)
    return [calm, faulted, shared, *seeded]


def seeds_line(calm: Mapping[str, Any], seeded: Sequence[Mapping[str, Any]]) -> str:
    seconds = [apply_seconds(r) for r in seeded]
    mean = statistics.mean(seconds)
    each = ", ".join(f"{s:.1f}" for s in seconds)
    return (f"standard fault profile, fault seeds 1 to {len(seconds)}: {each} s; mean {mean:.1f} s = "
            f"{mean / apply_seconds(calm):.2f} x the fault-free apply")


def contention_table(calm: Mapping[str, Any], faulted: Mapping[str, Any],
                     shared: Mapping[str, Any]) -> list[str]:
    base = apply_seconds(calm)
    rows = [
        ("fault-free", calm, floor_seconds(calm["writes"], calm["plan_seconds"])),
        ("standard fault profile", faulted, floor_seconds(faulted["writes"], faulted["plan_seconds"])),
        ("another integration, half the budgets", shared,
         floor_seconds(shared["writes"], shared["plan_seconds"], share=0.5)),
    ]
    lines = [f"\nContention: configs/hardened.toml at {MAILBOXES:,} mailboxes (apply s includes its plan; "
             "floor on the budget left to sssctl)",
             f"{'scenario':<40}{'apply s':>9}{'/ fault-free':>14}{'floor s':>9}{'/ floor':>9}"
             f"{'429s':>7}{'writes':>9}{'one run':>9}{'2nd writes':>12}"]
    for label, r, floor in rows:
        seconds = apply_seconds(r)
        lines.append(f"{label:<40}{seconds:>9.1f}{seconds / base:>14.2f}{floor:>9.1f}{seconds / floor:>9.2f}"
                     f"{r['throttled']:>7}{r['writes']:>9,}{'yes' if r['ok'] else 'NO':>9}"
                     f"{r['second_writes']:>12}")
    return lines
