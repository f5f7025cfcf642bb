"""``make bench BENCH_ARGS="--watch"``: continuous enforcement next to a scheduled apply.

Against one emulator process (so the RSS measured is the watcher's own), with
``interval = "2s"``:

* **change → revert**: rounds of changes made as the users themselves (``/_emulator/act``),
  half to their mailbox, half to their email filtering, each round at a random phase of
  the cycle; each change is polled (as that user) until it reads reverted. A scheduled
  apply every 5 minutes reverts a change made at a uniformly random moment after half the
  period on average: p50 = 150 s, p95 = 285 s, plus the apply's own duration (measured).
* **requests per idle hour**: the emulator's request counters over idle cycles, scaled to
  the default 60 s interval; an idle scheduled apply is measured once and scaled to 12 an
  hour. Sign-in requests are not counted on either side.
* **RSS over a soak**: cycles back to back (each one's worth of emulated time is one
  interval), a user's change every tenth, the process's resident set sampled as it goes.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.emulator_process import emulator_process
from bench.worker import environ_for
from sssctl.app import runner
from sssctl.app.watch import Watch, WatchRequest
from sssctl.emulator import constants as c
from sssctl.emulator.admin_client import AdminClient
from sssctl.state.store import StateStore

CONFIG = """
version = 1

[environment]
name = "bench-watch"

[mailbox_defaults]
incoming_email = "server_side_sync"
outgoing_email = "server_side_sync"
appointments_contacts_tasks = "server_side_sync"

[mailboxes]
enforce = "defaults"
scope = "users"

[user_settings]
incoming_email_filtering = "email_enabled_records"

[watch]
interval = "{interval}s"
"""
SCHEDULE_SECONDS = 300.0
DEFAULT_INTERVAL = 60.0


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/run.py --watch", description=__doc__.splitlines()[0])
    parser.add_argument("--watch", action="store_true")
    parser.add_argument("--mailboxes", type=int, default=5_000, help="mailboxes to seed (default 5,000)")
    parser.add_argument("--changes", type=int, default=40, help="changes per round (default 40)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of changes (default 3)")
    parser.add_argument("--interval", type=int, default=2, help="watch interval in seconds (default 2)")
    parser.add_argument("--soak-cycles", type=int, default=900,
                        help="cycles in the soak (default 900: 30 min of emulated time at 2 s)")
    parser.add_argument("--json-out", type=Path)
    return parser.parse_args(list(argv))


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


class People:
    """Users who change their own settings, and a way to see when theirs is back."""

    def __init__(self, admin: AdminClient, count: int) -> None:
        self.admin = admin
        self.people: list[dict[str, Any]] = []
        for n in range(2, 2 + count):
            upn = c.user_email(n)
            found = admin.act(upn, "GET", "systemusers?$select=systemuserid,_defaultmailbox_value"
                                          f"&$filter=domainname eq '{upn}'")["body"]["value"][0]
            self.people.append({"upn": upn, **found, "mailbox": n % 2 == 0})

    def change(self, person: dict[str, Any]) -> None:
        path, body = self._target(person, 0)
        answer = self.admin.act(person["upn"], "PATCH", path, body)
        if answer["status"] != 204:
            raise RuntimeError(f"{person['upn']} could not change their own settings: {answer}")

    def reverted(self, person: dict[str, Any]) -> bool:
        path, body = self._target(person, None)
        column = next(iter(body))
        row = self.admin.act(person["upn"], "GET", f"{path}?$select={column}")["body"]
        return bool(row.get(column) not in (0, None))

    @staticmethod
    def _target(person: dict[str, Any], value: int | None) -> tuple[str, dict[str, Any]]:
        if person["mailbox"]:
            return f"mailboxes({person['_defaultmailbox_value']})", {"incomingemaildeliverymethod": value}
        return f"usersettingscollection({person['systemuserid']})", {"incomingemailfilteringmethod": value}


def latencies(people: People, rounds: int, interval: float) -> list[float]:
    measured: list[float] = []
    rng = random.Random(1)
    for _ in range(rounds):
        time.sleep(rng.uniform(0, interval))
        started: dict[str, float] = {}
        for person in people.people:
            people.change(person)
            started[person["upn"]] = time.monotonic()
        waiting = list(people.people)
        deadline = time.monotonic() + 60
        while waiting and time.monotonic() < deadline:
            for person in list(waiting):
                if people.reverted(person):
                    measured.append(time.monotonic() - started[person["upn"]])
                    waiting.remove(person)
            time.sleep(0.05)
        if waiting:
            raise RuntimeError(f"{len(waiting)} changes were not reverted within 60 s")
    return measured


def requests_of(admin: AdminClient) -> int:
    return int(admin.counters()["total"])


def scheduled_apply(config: Path, environ: dict[str, str], admin: AdminClient) -> dict[str, float]:
    """One idle apply, as a scheduler would run it every 5 minutes: requests and seconds."""
    admin.reset_counters()
    started = time.monotonic()
    opts = runner.RunOptions(config, environ, "apply")
    with runner.session(opts, runner.default_services()) as session:
        plan = runner.plan(session)
        runner.execute(session, plan)
    return {"requests": requests_of(admin), "seconds": time.monotonic() - started}


def soak(watch: Watch, people: People, cycles: int) -> list[tuple[int, float]]:
    samples: list[tuple[int, float]] = []
    with watch.signed_in() as (clients, who):
        backend = runner.backend_for(watch.desired, watch.request.environ)
        for n in range(1, cycles + 1):
            if n % 10 == 0:
                people.change(people.people[n // 10 % len(people.people)])
            store = StateStore(backend, backend.read(), url=str(clients.dataverse.org_url),
                               organization_id=who.organization_id, name=backend.name)
            watch.cycle(clients, who, store)  # takes the state lock itself when it writes
            if n % 50 == 0 or n == 1:
                samples.append((n, rss_mib()))
    return samples


def main(argv: Sequence[str]) -> int:
    args = parse(argv)
    with tempfile.TemporaryDirectory(prefix="sssctl-bench-watch-") as tmp:
        workdir = Path(tmp)
        with emulator_process(mailboxes=args.mailboxes, workdir=workdir) as info, AdminClient(info) as admin:
            config = workdir / "bench-watch.toml"
            config.write_text(CONFIG.format(interval=args.interval))
            environ = environ_for(info.environ(), workdir / "state")
            first = scheduled_apply(config, environ, admin)      # converges the seeded drift
            idle_apply = scheduled_apply(config, environ, admin)  # what every later run costs
            watch = Watch(WatchRequest(config, environ))
            thread = threading.Thread(target=watch.run, daemon=True)
            thread.start()
            while watch.cycles < 1:
                time.sleep(0.05)
            people = People(admin, args.changes)
            measured = latencies(people, args.rounds, args.interval)
            settled = watch.cycles + 2  # the cycle after writes reads its context afresh: not idle
            while watch.cycles < settled:
                time.sleep(0.05)
            admin.reset_counters()
            start = watch.cycles
            time.sleep(args.interval * 5 + 0.5)
            idle_cycles = max(1, watch.cycles - start)
            per_cycle = requests_of(admin) / idle_cycles
            watch.stop()
            thread.join(timeout=15)
            watch.stopping.clear()
            samples = soak(watch, people, args.soak_cycles)
    apply_seconds = idle_apply["seconds"]
    figures = {
        "mailboxes": args.mailboxes,
        "changes": len(measured),
        "watch_p50_s": statistics.median(measured), "watch_p95_s": percentile(measured, 0.95),
        "schedule_p50_s": SCHEDULE_SECONDS / 2 + apply_seconds,
        "schedule_p95_s": SCHEDULE_SECONDS * 0.95 + apply_seconds,
        "watch_requests_per_idle_cycle": per_cycle,
        "watch_requests_per_idle_hour_at_60s": per_cycle * 3600 / DEFAULT_INTERVAL,
        "schedule_requests_per_idle_hour": idle_apply["requests"] * 3600 / SCHEDULE_SECONDS,
        "first_apply": first, "idle_apply": idle_apply,
        "rss_samples_mib": samples,
        "rss_growth_mib": samples[-1][1] - samples[min(2, len(samples) - 1)][1],
    }
    print(f"sssctl watch vs scheduled apply (every 5 min), {args.mailboxes:,} mailboxes, "
          f"{len(measured)} changes made as users, interval {args.interval} s")
    print(f"{'':38}{'watch':>12}{'apply/5 min':>14}")
    print(f"{'change -> revert p50 (s)':38}{figures['watch_p50_s']:>12.2f}{figures['schedule_p50_s']:>14.1f}")
    print(f"{'change -> revert p95 (s)':38}{figures['watch_p95_s']:>12.2f}{figures['schedule_p95_s']:>14.1f}")
    print(f"{'requests per idle hour (60 s interval)':38}"
          f"{figures['watch_requests_per_idle_hour_at_60s']:>12.0f}{figures['schedule_requests_per_idle_hour']:>14.0f}")
    print(f"RSS over {args.soak_cycles} back-to-back cycles: "
          + ", ".join(f"{n}: {mib:.1f}" for n, mib in samples) + " MiB")
    if args.json_out is not None:
        args.json_out.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0
