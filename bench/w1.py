"""``make bench BENCH_ARGS="--w1"``: a reference workload, sssctl next to the naive way and the floor.

W1 is the emulator seeded with ``--dataset large --mailboxes 50000 --business-units 200
--roles 60``, every request paying 30 ms of latency and every Dataverse operation 10 ms
of server time (inside ``$batch`` or alone), under Dataverse's default service
protection limits, with sssctl's default flags. The config is Controls 1 to 4 of
``configs/hardened.toml`` (everything but the own-app Control 5, which needs no bulk
writes).

The floor is what no client can beat: every write costs its 10 ms of server time and at
most 52 requests run at once, so ``writes x 10 ms / 52``, plus the plan's own reads.
W2 is the same shape at 100,000 mailboxes (``--w2``, :mod:`bench.w2`), which adds the
contention scenarios of :mod:`bench.contention`.

Every measured run is a fresh worker process (``python -m bench.w1 JOB.json``) on freshly
reset data; its peak RSS is the whole process's high-water mark.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.emulator_process import emulator_process
from bench.fault_profiles import fresh_data
from bench.launch import run_worker
from bench.scenarios import HEADER, REPO
from sssctl.emulator.info import EmulatorInfo

HARDENED = REPO / "configs" / "hardened.toml"
W1_MAILBOXES = 50_000
W2_MAILBOXES = 100_000
SCALING = (5_000, 20_000, 50_000)
W2_SCALING = (5_000, 50_000, 100_000)
NAIVE_APPLY_MAILBOXES = 1_000  # one request per write takes minutes even here: measured, then scaled
SHAPE = {"business_units": 200, "roles": 60}
LATENCY_MS = 30.0
OPERATION_MS = 10.0
CONCURRENT = 52
PAGE = 5_000
WORKER_TIMEOUT = 1800.0
CONTROL_5 = ("[app_registrations.", "[server_profiles.")  # the own app: no bulk writes
# User settings as most seeded users already have them: the drift W1 is defined with.
W1_FILTERING = 'incoming_email_filtering = "leads_contacts_accounts"'


def controls_1_to_4(hardened: str) -> str:
    """configs/hardened.toml without Control 5 (its own app and profiles, so the built-in
    profile stays as it is and mailbox defaults stay on the profile they use), the user
    settings as most users already have them, and no header (the bench's own goes first)."""
    kept: list[str] = []
    skipping = False
    for line in hardened.splitlines():
        stripped = line.split("#", 1)[0].strip()
        if stripped.startswith("["):
            skipping = stripped.startswith(CONTROL_5) or stripped in ("[environment]", "[auth]")
        if skipping or stripped.startswith(("server_profile =", "version =")):
            continue
        kept.append(W1_FILTERING if stripped.startswith("incoming_email_filtering") else line)
    return "\n".join(kept) + "\n"


# --- inside a worker process ---------------------------------------------------------------------


def _counters(info: EmulatorInfo, *, reset: bool = True) -> dict[str, Any]:
    from sssctl.emulator.admin_client import AdminClient

    with AdminClient(info, timeout=300.0) as admin:
        counters = admin.counters()
        if reset:
            admin.reset_counters()
    return counters


def _options(config: Path, environ: Mapping[str, str], command: str) -> Any:
    from sssctl.app import runner

    return runner.RunOptions(config, environ, command)  # default flags, as a user runs it


def sssctl_run(info: EmulatorInfo, config: Path, environ: Mapping[str, str]) -> dict[str, Any]:
    """Plan, apply, then plan and apply again (which must write nothing), as the CLI does."""
    from bench.worker import peak_rss_mib
    from sssctl.app import runner

    out: dict[str, Any] = {}
    _counters(info)
    with runner.session(_options(config, environ, "apply"), runner.default_services()) as s:
        started = time.perf_counter()
        plan = runner.plan(s)
        out["plan_seconds"] = time.perf_counter() - started
        out["plan_rss_mib"] = peak_rss_mib()
        plan_counts = _counters(info)
        out["plan_requests"] = plan_counts["total"]
        out["plan_routes"] = plan_counts["by_route"]
        out["found"] = {c.address: (c.before or {}) for c in plan.actionable}
        started = time.perf_counter()
        report = runner.execute(s, plan)
        out["apply_seconds"] = time.perf_counter() - started
        applied = _counters(info)
        out.update(apply_requests=applied["total"], writes=applied["writes"],
                   throttled=applied["throttled"], client_throttled=s.clients.stats.throttled,
                   ok=report.ok, summary=report.summary())
    with runner.session(_options(config, environ, "apply"), runner.default_services()) as s:
        again = runner.plan(s)
        runner.execute(s, again)
    out["second_writes"] = _counters(info)["writes"]
    return out


def naive_plan(info: EmulatorInfo, config: Path, environ: Mapping[str, str]) -> dict[str, Any]:
    from bench import naive
    from sssctl.clients.session import open_clients
    from sssctl.config.loader import load

    _counters(info)
    started = time.perf_counter()
    with open_clients(load(config, environ), environ=environ) as clients:
        naive.read_everything(clients.dataverse, None)
    seconds = time.perf_counter() - started
    return {"plan_seconds": seconds, "plan_requests": _counters(info)["total"]}


def naive_apply(info: EmulatorInfo, config: Path, environ: Mapping[str, str]) -> dict[str, Any]:
    from bench import naive
    from sssctl.catalog.options import INCOMING_EMAIL_FILTERING
    from sssctl.clients.session import open_clients
    from sssctl.config.loader import load

    _counters(info)
    started = time.perf_counter()
    with open_clients(load(config, environ), environ=environ) as clients:
        naive.revert_mailboxes(clients.dataverse)
        naive.set_user_filtering(clients.dataverse, INCOMING_EMAIL_FILTERING["leads_contacts_accounts"])
    seconds = time.perf_counter() - started
    counts = _counters(info)
    return {"apply_seconds": seconds, "writes": counts["writes"], "throttled": counts["throttled"]}


WAYS = {"sssctl": sssctl_run, "naive-plan": naive_plan, "naive-apply": naive_apply}


def worker(job_file: Path) -> int:
    from bench.scenarios import warm_up
    from bench.worker import environ_for, peak_rss_mib
    from sssctl.logging import configure_logging

    configure_logging(log_format="json", verbose=0)
    job = json.loads(job_file.read_text(encoding="utf-8"))
    info = EmulatorInfo(**job["info"])
    workdir = Path(job["workdir"])
    # Each measured run starts from no state, like the data it runs on (reset before each run).
    state = workdir / f"state-{job['way']}-{job['mailboxes']}{job.get('tag', '')}"
    shutil.rmtree(state, ignore_errors=True)   # a run measured again under the same name starts bare too
    environ = environ_for(info.environ(), state)
    warm_up()
    result = WAYS[job["way"]](info, Path(job["config"]), environ)
    result["rss_mib"] = peak_rss_mib()
    print(json.dumps(result), flush=True)
    return 0


# --- the orchestrator ----------------------------------------------------------------------------


def measure(info: EmulatorInfo, workdir: Path, way: str, mailboxes: int, config: Path,
            faults: Mapping[str, Any] | None = None, tag: str = "") -> dict[str, Any]:
    """Reset to W1's shape at ``mailboxes``, set W1's costs (plus ``faults``), run one way in a
    fresh process. The result also says how long the emulator took to seed the data."""
    from sssctl.emulator.admin_client import AdminClient

    with AdminClient(info, timeout=900.0) as admin:
        started = time.perf_counter()
        fresh_data(admin, mailboxes, {"latency_ms": LATENCY_MS, "batch_operation_ms": OPERATION_MS,
                                      "request_operation_ms": OPERATION_MS, **(faults or {})}, **SHAPE)
        seeded = time.perf_counter() - started
    job = {"info": asdict(info), "workdir": str(workdir), "way": way, "mailboxes": mailboxes,
           "config": str(config), "tag": tag}
    result = run_worker("bench.w1", job, workdir / f"w1-{way}-{mailboxes}{tag}.json",
                        f"{way} at {mailboxes:,} mailboxes {tag}".strip(), timeout=WORKER_TIMEOUT)
    result["seed_seconds"] = seeded
    return result


def minimal_plan_requests(result: Mapping[str, Any]) -> int:
    """What a perfect planner needs: each route it reads once (sign-in included), plus one
    more request per further 5,000-row page of the largest answers (mailboxes and user
    settings that differ), which no planner can fetch in fewer pages."""
    routes = len(result["plan_routes"])
    found = result["found"]
    extra = 0
    for address, field in (("mailboxes", "drifted"), ("user_settings", "differing")):
        rows = int((found.get(address) or {}).get(field, 0))
        extra += max(0, math.ceil(rows / PAGE) - 1)
    return routes + extra


def floor_seconds(writes: int, plan_seconds: float, share: float = 1.0) -> float:
    """``share``: the part of the concurrent-request budget left to sssctl (another
    integration using half of it leaves 0.5, so half as many writes at a time)."""
    return writes * OPERATION_MS / 1000 / (CONCURRENT * share) + plan_seconds


def apply_seconds(result: Mapping[str, Any]) -> float:
    """``sssctl apply`` as a user runs it: its plan, then the writes. The floor counts the
    plan's reads too, so the two compare like with like."""
    return float(result["plan_seconds"]) + float(result["apply_seconds"])


def main_table(ours: Mapping[str, Any], naive_plan_result: Mapping[str, Any],
               naive_apply_result: Mapping[str, Any], naive_scale: float) -> list[str]:
    minimal = minimal_plan_requests(ours)
    floor = floor_seconds(ours["writes"], ours["plan_seconds"])
    naive_apply_s = naive_apply_result["apply_seconds"] * naive_scale + naive_plan_result["plan_seconds"]
    ours_apply_s = apply_seconds(ours)
    writes = f"{ours['writes']:,}"
    rows = [
        ("plan requests", f"{ours['plan_requests']:,}", f"{naive_plan_result['plan_requests']:,}",
         f"{minimal:,} (minimal)"),
        ("plan requests / minimal", f"{ours['plan_requests'] / minimal:.2f}",
         f"{naive_plan_result['plan_requests'] / minimal:.2f}", "1.00"),
        ("plan seconds", f"{ours['plan_seconds']:.1f}", f"{naive_plan_result['plan_seconds']:.1f}", "-"),
        ("apply writes", writes, f"{writes} (a request each)", writes),
        ("apply seconds (its plan included)", f"{ours_apply_s:.1f}", f"{naive_apply_s:.0f} (est.)",
         f"{floor:.1f}"),
        ("apply / floor", f"{ours_apply_s / floor:.2f}", f"{naive_apply_s / floor:.0f}", "1.00"),
        ("429s seen (server count)", f"{ours['throttled']}", f"{naive_apply_result['throttled']} (sample)",
         "0"),
        ("peak RSS MiB (whole process)", f"{ours['rss_mib']:.0f}",
         f"{naive_plan_result['rss_mib']:.0f} (plan)", "-"),
        ("second apply writes", f"{ours['second_writes']}", "-", "0"),
    ]
    width = max(len(r[0]) for r in rows) + 2
    head = f"{'':<{width}}{'sssctl':>14}{'naive':>26}{'floor':>18}"
    return [head, *(f"{a:<{width}}{b:>14}{c:>26}{d:>18}" for a, b, c, d in rows)]


def scaling_table(results: Mapping[int, Mapping[str, Any]]) -> list[str]:
    lines = [f"{'mailboxes':>10}{'writes':>9}{'plan req':>10}{'plan s':>8}{'apply s':>9}{'floor s':>9}"
             f"{'apply/floor':>13}{'429s':>6}{'peak RSS MiB':>14}"]
    for count, r in sorted(results.items()):
        floor = floor_seconds(r["writes"], r["plan_seconds"])
        lines.append(f"{count:>10,}{r['writes']:>9,}{r['plan_requests']:>10}{r['plan_seconds']:>8.1f}"
                     f"{apply_seconds(r):>9.1f}{floor:>9.1f}{apply_seconds(r) / floor:>13.2f}"
                     f"{r['throttled']:>6}{r['rss_mib']:>14.0f}")
    return lines


def _print_main(name: str, mailboxes: int, ours: Mapping[str, Any], naive_plan_result: Mapping[str, Any],
                naive_apply_result: Mapping[str, Any], small: Mapping[str, Any] | None) -> None:
    scale = ours["writes"] / max(1, (small or naive_apply_result)["writes"])
    print(f"\n{name} at {mailboxes:,} mailboxes: sssctl | naive | floor", flush=True)
    print("\n".join(main_table(ours, naive_plan_result, naive_apply_result, scale)))
    print(f"\nfloor = writes x {OPERATION_MS:g} ms / {CONCURRENT} concurrent requests + the plan's own "
          "reads. minimal plan requests = each route sssctl's plan reads (sign-in and WhoAmI included), "
          f"once, + one per further {PAGE:,}-row page of the differing mailboxes and user settings. "
          f"Naive apply: one request per write, measured at {NAIVE_APPLY_MAILBOXES:,} mailboxes "
          f"({naive_apply_result['apply_seconds']:.0f} s for {naive_apply_result['writes']:,} writes), "
          "scaled by writes, plus its plan. Apply seconds include the plan, as `sssctl apply` runs it.")
    print(f"sssctl apply: {ours['summary']} (429s the client counted: {ours['client_throttled']})")


def _print_hardened(result: Mapping[str, Any], mailboxes: int) -> None:
    floor = floor_seconds(result["writes"], result["plan_seconds"])
    print(f"\nHardened (configs/hardened.toml, every control) at {mailboxes:,} mailboxes, default flags: "
          f"{result['writes']:,} writes in {apply_seconds(result):.1f} s with its plan (floor {floor:.1f} s, "
          f"{apply_seconds(result) / floor:.2f} x), {result['throttled']} 429s, "
          f"{'completed in one run' if result['ok'] else 'DID NOT COMPLETE'}; second apply wrote "
          f"{result['second_writes']}; peak RSS {result['rss_mib']:.0f} MiB.")


def memory_line(results: Mapping[int, Mapping[str, Any]]) -> str:
    """Peak RSS of the largest apply against the smallest one: flat means the org's size does not show."""
    small, large = min(results), max(results)
    ratio = results[large]["rss_mib"] / results[small]["rss_mib"]
    return (f"Peak RSS at {large:,} mailboxes / at {small:,}: {results[large]['rss_mib']:.0f} / "
            f"{results[small]['rss_mib']:.0f} MiB = {ratio:.2f} x. Emulator seeding: "
            + ", ".join(f"{n:,} in {r['seed_seconds']:.1f} s" for n, r in sorted(results.items())) + ".")


Extra = Callable[[EmulatorInfo, Path], list[Mapping[str, Any]]]


def run(scaling: Sequence[int], *, hardened: bool, w2: bool = False, extra: Extra | None = None) -> int:
    """Measure and print the workload; ``extra`` runs more measurements on the same emulator."""
    name, mailboxes = ("W2", W2_MAILBOXES) if w2 else ("W1", W1_MAILBOXES)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"sssctl-{name.lower()}-") as tmp:
        workdir = Path(tmp)
        config = workdir / "w1.toml"
        config.write_text(HEADER + controls_1_to_4(HARDENED.read_text(encoding="utf-8")), encoding="utf-8")
        with emulator_process(mailboxes=NAIVE_APPLY_MAILBOXES, workdir=workdir) as info:
            print(f"{name}: large dataset, {SHAPE['business_units']} business units, {SHAPE['roles']} roles, "
                  f"{LATENCY_MS:g} ms latency, {OPERATION_MS:g} ms server time per operation, Dataverse's "
                  "default service protection limits, default sssctl flags; config: Controls 1-4 of "
                  "configs/hardened.toml", flush=True)
            results = {count: measure(info, workdir, "sssctl", count, config) for count in scaling}
            naive_apply_result = measure(info, workdir, "naive-apply", NAIVE_APPLY_MAILBOXES, config)
            naive_plan_result = measure(info, workdir, "naive-plan", mailboxes, config)
            _print_main(name, mailboxes, results.get(mailboxes) or results[max(results)], naive_plan_result,
                        naive_apply_result, results.get(NAIVE_APPLY_MAILBOXES))
            print(f"\nScaling (sssctl, {name} shape; apply s includes its plan):")
            print("\n".join(scaling_table(results)))
            print(memory_line(results), flush=True)
            full = measure(info, workdir, "sssctl", mailboxes, HARDENED, tag="hardened") if hardened else None
            if full is not None:
                _print_hardened(full, mailboxes)
            crowded = extra(info, workdir) if extra is not None else []
    print(f"\nTotal {time.monotonic() - started:.0f} s.")
    runs = [*results.values(), *([full] if full else []), *crowded]
    return 0 if all(r["ok"] and r["second_writes"] == 0 for r in runs) else 1


def parse(argv: Sequence[str], *, w2: bool = False) -> tuple[list[int], argparse.Namespace]:
    name = "--w2" if w2 else "--w1"
    default = W2_SCALING if w2 else SCALING
    parser = argparse.ArgumentParser(prog=f"bench/run.py {name}", description=__doc__.splitlines()[0])
    parser.add_argument(name, action="store_true")
    parser.add_argument("--scaling", default=",".join(str(n) for n in default),
                        help=f"comma-separated mailbox counts (default {','.join(str(n) for n in default)})")
    parser.add_argument("--no-hardened", action="store_true",
                        help="skip the apply of configs/hardened.toml at the workload's size")
    if w2:
        parser.add_argument("--no-contention", action="store_true", help="skip the contention scenarios")
        parser.add_argument("--fault-seeds", type=int, default=0, metavar="N",
                            help="also apply the standard fault profile under fault seeds 1 to N and print "
                                 "their mean (one seed's figure moves by seconds from run to run)")
    args = parser.parse_args(argv)
    try:
        counts = [int(n) for n in args.scaling.split(",") if n.strip()]
    except ValueError:
        parser.error("--scaling takes comma-separated whole numbers, e.g. 5000,20000,50000")
    if not counts or min(counts) < 100:
        parser.error("--scaling needs mailbox counts of at least 100")
    return counts, args


def main(argv: Sequence[str]) -> int:
    counts, args = parse(argv)
    return run(counts, hardened=not args.no_hardened)


if __name__ == "__main__":
    sys.exit(worker(Path(sys.argv[1])))
