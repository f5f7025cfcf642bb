"""The scenarios: one desired state each, an sssctl way and a naive way to reach it.

The sssctl way is the engine itself (session, plan, apply; the same calls ``sssctl
apply --auto-approve`` makes), so what is measured is what users run. Convergence is
judged afterwards by a fresh sssctl plan for both ways, an independent reading of the
data: after either run it must find nothing left to change.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import naive
from sssctl.catalog.options import INCOMING_EMAIL_FILTERING
from sssctl.engine.plan import Plan

HEADER = """version = 1
[environment]
name = "bench"
cloud = "custom"
[auth]
method = "client_secret"
"""
REPO = Path(__file__).resolve().parent.parent
PARALLELISM = 52  # sssctl apply's default (a cap: the service's headers decide what flies)
FILTERING = "leads_contacts_accounts"  # what 80% of the seeded users already use: a realistic drift


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    sssctl_way: str
    naive_way: str
    address: str                 # the plan address whose count says how much was found ("": changes)
    count_field: str             # the field of that change's ``before`` holding the count
    config: str | None           # TOML body after HEADER, or None for ``config_file``
    found_label: str = "rows found to change"
    config_file: Path | None = None
    writes: bool = True          # False: read-only (plan), nothing to converge
    need_graph: bool = False

    def config_path(self, workdir: Path) -> Path:
        if self.config_file is not None:
            return self.config_file
        path = workdir / f"{self.key}.toml"
        path.write_text(HEADER + (self.config or ""), encoding="utf-8")
        return path


MAILBOXES = Scenario(
    key="mailboxes",
    title="Mailbox drift: find and revert mailboxes that differ from the org defaults",
    sssctl_way="sssctl apply: server-side $filter, 7 columns, streamed pages, $batch of 50 with If-Match",
    naive_way="GET every mailbox (all columns) via nextLink, compare in Python, one PATCH per mailbox",
    address="mailboxes",
    count_field="drifted",
    config='[mailboxes]\nenforce = "defaults"\nscope = "all"\n',
)
USER_SETTINGS = Scenario(
    key="user_settings",
    title="User settings policy: one email filtering method for every user",
    sssctl_way="sssctl apply: $filter 'ne <value>', 2 columns, $batch of 50 with If-Match",
    naive_way="GET every user and user setting (all columns), compare in Python, one PATCH per user",
    address="user_settings",
    count_field="differing",
    config=f'[user_settings]\nincoming_email_filtering = "{FILTERING}"\n',
)
PLAN = Scenario(
    key="plan",
    title="Plan of the full hardened config (configs/hardened.toml), read-only",
    sssctl_way="sssctl plan: every kind reads only what it manages, rendered as text",
    naive_way="GET every table the config touches (all columns, no filter) + role privileges; no diff",
    address="",
    count_field="",
    config=None,
    found_label="changes planned (sssctl) / rows read (naive)",
    config_file=REPO / "configs" / "hardened.toml",
    writes=False,
    need_graph=True,
)
SCENARIOS: dict[str, Scenario] = {s.key: s for s in (MAILBOXES, PLAN, USER_SETTINGS)}


PRELOADED = (
    "sssctl.clients.session",
    "sssctl.config.loader",
    "sssctl.engine.render.text",
    "sssctl.app.runner",
)


def warm_up() -> None:
    """Import what either way uses before the clock starts: import time is not the subject."""
    from sssctl.kinds import load_kinds

    for name in PRELOADED:
        importlib.import_module(name)
    load_kinds()


# --- the sssctl way -------------------------------------------------------------------------------


def _options(config: Path, environ: Mapping[str, str], command: str) -> Any:
    from sssctl.app import runner

    return runner.RunOptions(config, environ, command, parallelism=PARALLELISM)


def found_in(plan: Plan, scenario: Scenario) -> int:
    """How many rows the plan found to change (the count in the aggregate's ``before``).

    Without an address: how many changes the plan proposes.
    """
    if not scenario.address:
        return len(plan.actionable)
    for change in plan.changes:
        if change.address == scenario.address:
            return int((change.before or {}).get(scenario.count_field, 0))
    return 0


def run_sssctl(scenario: Scenario, config: Path, environ: Mapping[str, str]) -> int:
    """Plan, and for writing scenarios apply, exactly as the command line does."""
    from sssctl.app import runner
    from sssctl.engine.render import text

    command = "apply" if scenario.writes else "plan"
    with runner.session(_options(config, environ, command), runner.default_services()) as s:
        plan = runner.plan(s)
        text.render(plan, color=False)
        if scenario.writes:
            report = runner.execute(s, plan)  # the session's parallelism: PARALLELISM
            if not report.ok:
                raise RuntimeError(f"sssctl apply did not complete: {report.summary()}")
    return found_in(plan, scenario)


# --- the naive way --------------------------------------------------------------------------------


def run_naive(scenario: Scenario, config: Path, environ: Mapping[str, str]) -> int:
    from sssctl.clients.session import open_clients
    from sssctl.config.loader import load

    desired = load(config, environ)
    with open_clients(desired, need_graph=scenario.need_graph, environ=environ) as clients:
        return NAIVE[scenario.key](clients)


NAIVE: dict[str, Callable[[Any], int]] = {
    "mailboxes": lambda clients: naive.revert_mailboxes(clients.dataverse),
    "user_settings": lambda clients: naive.set_user_filtering(
        clients.dataverse, INCOMING_EMAIL_FILTERING[FILTERING]
    ),
    "plan": lambda clients: naive.read_everything(clients.dataverse, clients.graph),
}


def remaining(scenario: Scenario, config: Path, environ: Mapping[str, str]) -> int:
    """What a fresh sssctl plan still finds to change (0: converged)."""
    from sssctl.app import runner

    with runner.session(_options(config, environ, "plan"), runner.default_services()) as s:
        return found_in(runner.plan(s), scenario)


RUNNERS: dict[str, Callable[[Scenario, Path, Mapping[str, str]], int]] = {
    "sssctl": run_sssctl,
    "naive": run_naive,
}
