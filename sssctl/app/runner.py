"""One run of sssctl against one environment: config, sign-in, lock, read, plan, apply.

The order matters. The configuration is loaded first (cheap, catches typos before any
sign-in); clients open and WhoAmI names the organization; only then is the state locked
and read, so the organization check and the saved-plan freshness check both happen
under the lock that also covers the writes.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import structlog

from sssctl.app.requests import MAX_PARALLELISM
from sssctl.config.model import Desired
from sssctl.engine import planfile
from sssctl.engine.addresses import matches_target
from sssctl.engine.applier import Applier, ApplyReport, adopt
from sssctl.engine.errors import NotConfirmed, PlanIncomplete
from sssctl.engine.kind import Context
from sssctl.engine.plan import Action, Change, Plan
from sssctl.engine.planner import compute_changes
from sssctl.engine.registry import Registry
from sssctl.engine.render.common import to_plain
from sssctl.state import factory as state_factory
from sssctl.state import locking as state_locking
from sssctl.state.backend import Backend
from sssctl.state.model import Snapshot, utc_now
from sssctl.state.store import StateStore

log = structlog.get_logger(__name__)

if TYPE_CHECKING:
    from sssctl.clients.http import PauseObserver
    from sssctl.clients.session import Clients

# They write no state: a saved plan is refused at apply if the state moved, which is the real
# guard, so a scheduled drift check never collides with a pull-request plan or an apply.
_LOCK_FREE_COMMANDS = frozenset({"plan", "refresh"})


@dataclass
class Services:
    """The outside world of a run; tests hand in fakes, the CLI the real thing."""

    load_config: Callable[[Path, Mapping[str, str]], Desired]
    open_clients: Callable[..., AbstractContextManager[Clients]]
    load_kinds: Callable[[], Registry]


def default_services() -> Services:
    from sssctl.clients.session import open_clients
    from sssctl.config.loader import load
    from sssctl.kinds import load_kinds

    return Services(load_config=load, open_clients=open_clients,
                    load_kinds=load_kinds)


@dataclass
class RunOptions:
    config_path: Path
    environ: Mapping[str, str]
    command: str
    allow_lockout: bool = False
    parallelism: int = MAX_PARALLELISM  # a cap: the service's headers decide how many really fly
    timeout: float = 0.0            # --timeout: seconds after which no request is sent; 0: no deadline
    lock_timeout: float = 0.0       # --lock-timeout: seconds to wait for a state lock another run holds
    progress: Callable[[str, int, int | None], None] | None = None
    on_pause: PauseObserver | None = None  # each wait of a second or more a service asks for
    lock: bool = True               # read-only reports (audit, export) need not wait for an apply
    every_service: bool = False     # export: Graph and Exchange too, wherever they are configured
    elevated: bool = False          # apply --elevated: only the changes that need a tier-0 right


@dataclass
class Session:
    desired: Desired
    clients: Clients
    store: StateStore
    ctx: Context
    kinds: Registry
    environment_name: str
    organization_id: str
    url: str
    elevated: bool = False

    def plan_of(self, changes: Sequence[Change], *, refresh_only: bool = False,
                destroy: bool = False) -> Plan:
        """A plan of ``changes``; a normal plan also reports the drift it saw on the way."""
        drift = () if refresh_only else tuple(
            c for c in drift_of(changes, self.store.resources) if c.action is not Action.UNKNOWN)
        return Plan(
            changes=tuple(changes), environment_url=self.url, organization_id=self.organization_id,
            state_lineage=self.store.lineage, state_serial=self.store.serial,
            config_digest=self.desired.digest, created_at=utc_now(), refresh_only=refresh_only,
            drift=drift, destroy=destroy,
        )


def backend_for(desired: Desired, environ: Mapping[str, str]) -> Backend:
    return state_factory.backend_for(desired, environ)


def _take_lock(backend: Backend, opts: RunOptions) -> str | None:
    if not opts.lock or opts.command in _LOCK_FREE_COMMANDS:
        return None
    return state_locking.acquire(backend, opts.command, timeout=opts.lock_timeout,
                                 notify=lambda message: print(message, file=sys.stderr, flush=True),
                                 config=opts.config_path)


def needs_services(registry: Registry, desired: Desired, snapshot: Snapshot | None) -> tuple[bool, bool]:
    """Whether Graph / Exchange clients are needed: by the config, or to restore state."""
    recorded = {str(e.get("kind")) for e in (snapshot.resources.values() if snapshot else ())}
    needs = registry.needs(desired, recorded)
    return needs.graph, needs.exchange


@contextmanager
def session(opts: RunOptions, services: Services) -> Iterator[Session]:
    desired = services.load_config(opts.config_path, opts.environ)
    backend = backend_for(desired, opts.environ)
    kinds = services.load_kinds()
    snapshot = backend.read()
    state_factory.refuse_unmigrated(desired, opts.environ, backend, snapshot)
    need_graph, need_exchange = needs_services(kinds, desired, snapshot)
    if opts.every_service:
        need_graph = need_exchange = True
    with services.open_clients(desired, need_graph=need_graph, need_exchange=need_exchange,
                               environ=opts.environ, missing_ok=True, max_concurrency=opts.parallelism,
                               timeout=opts.timeout or None, on_pause=opts.on_pause) as clients:
        who = clients.dataverse.whoami()
        url = str(clients.dataverse.org_url or desired.environment.url or "")
        lock_id = _take_lock(backend, opts)
        try:
            store = StateStore(backend, backend.read(), url=url, organization_id=who.organization_id,
                               name=backend.name)
            ctx = Context(
                desired=desired, dataverse=clients.dataverse, graph=clients.graph, exchange=clients.exchange,
                state=store.live_view(), allow_lockout=opts.allow_lockout, progress=opts.progress,
                whoami=who, parallelism=max(1, opts.parallelism),
                unavailable=dict(clients.unavailable),
            )
            ctx.reads.share()  # one read of each small table per run, until apply starts
            log.info("run.started", command=opts.command, organization_id=who.organization_id,
                     state=backend.describe(), serial=store.serial)
            yield Session(desired, clients, store, ctx, kinds, backend.name,
                          who.organization_id, url, elevated=opts.elevated)
        finally:
            if lock_id is not None:
                backend.unlock(lock_id)


def empty_desired(desired: Desired) -> Desired:
    """The config with every managed section removed: what ``destroy`` diffs against."""
    return Desired(version=desired.version, source=desired.source, digest=desired.digest,
                   environment=desired.environment, auth=desired.auth)


def plan(s: Session, *, targets: Sequence[str] = ()) -> Plan:
    changes, _ = compute_changes(s.kinds, s.ctx, targets=targets)
    return s.plan_of(changes)


def destroy_plan(s: Session, *, targets: Sequence[str] = ()) -> Plan:
    """Restore changes for everything recorded, in reverse safe order.

    The session keeps the empty desired state, so the kinds apply the restores with it.
    """
    s.ctx = dataclasses.replace(s.ctx, desired=empty_desired(s.desired))
    changes, _ = compute_changes(s.kinds, s.ctx, targets=targets, reverse=True)
    return s.plan_of(changes, destroy=True)


def refresh(s: Session, *, targets: Sequence[str] = ()) -> Plan:
    """Drift of managed addresses only; proposes nothing and writes nothing."""
    changes, _ = compute_changes(s.kinds, s.ctx, targets=targets)
    return s.plan_of(drift_of(changes, s.store.resources), refresh_only=True)


def drift_of(changes: Sequence[Change], recorded: Mapping[str, Mapping[str, Any]]) -> list[Change]:
    """Changes on addresses sssctl manages whose live value is not what it last applied.

    A change to a value the config now asks for is not drift; a managed field whose live
    value differs from the recorded one is. Aggregates whose recorded values are counts
    (no comparable field) drift whenever their diff is not a no-op.
    """
    drifted: list[Change] = []
    for change in changes:
        entry = recorded.get(change.address)
        if change.action is Action.UNKNOWN and (entry is not None or _part_of_recorded(change, recorded)):
            drifted.append(change)
            continue
        if entry is None or change.action is Action.NOOP:
            continue
        if change.action is Action.CREATE:
            drifted.append(Change(change.address, Action.UPDATE, entry.get("managed"), None,
                                  "the object sssctl manages no longer exists", kind=change.kind))
            continue
        managed = entry.get("managed") or {}
        live = change.before or {}
        common = [k for k in live if k in managed]
        moved = [k for k in common if to_plain(live[k]) != to_plain(managed[k])]
        if moved:
            drifted.append(Change(
                change.address, Action.UPDATE, {k: managed[k] for k in moved}, {k: live[k] for k in moved},
                "changed outside sssctl (recorded -> live)", kind=change.kind,
            ))
        elif not common:
            drifted.append(change)
    return drifted


def _part_of_recorded(change: Change, recorded: Mapping[str, Mapping[str, Any]]) -> bool:
    """An unknown row of an aggregate sssctl manages (``mailboxes["<id>"]`` of ``mailboxes``):
    the aggregate's drift cannot be told whole without it, so refresh shows it too."""
    return any(matches_target(change.address, address) for address in recorded)


def require_complete(p: Plan) -> None:
    if p.unknown:
        listed = "\n".join(f"  ? {c.address}: {c.reason}" for c in p.unknown)
        raise PlanIncomplete(
            "the plan is incomplete, so nothing was applied. These objects could not be read:\n"
            f"{listed}\nFix the cause (permissions, connectivity) and run again"
        )


def execute(s: Session, p: Plan, *,
            on_progress: Callable[[int, int, Change], None] | None = None,
            reverse: bool = False) -> ApplyReport:
    require_complete(p)
    applier = Applier(s.kinds, s.ctx, s.store, parallelism=s.ctx.parallelism, on_progress=on_progress,
                      reverse=reverse, elevation=elevation_mode(s, p))
    return applier.run(p.changes)


TIER_ZERO = "AppRoleAssignment.ReadWrite.All"


def elevation_mode(s: Session, p: Plan) -> Literal["held", "standard", "only"]:
    """How changes needing a tier-0 right are treated in this apply.

    ``only`` for ``apply --elevated`` (an administrator applies just those); ``held`` when the
    signed-in identity holds the right anyway (a person, or an app holding
    AppRoleAssignment.ReadWrite.All: nothing to skip); else ``standard``: they and what
    depends on them are skipped. The token is asked only when the plan has such a change.
    """
    if s.elevated:
        return "only"
    if not any(c.elevation and c.writes for c in p.changes):
        return "held"
    from sssctl.clients.clouds import scope_for
    from sssctl.clients.probe import token_claims

    graph, provider = s.clients.graph, s.clients.token_provider
    if graph is None or provider is None:
        return "standard"
    claims = token_claims(provider.token(scope_for(graph.graph_url)))
    if claims.get("idtyp") == "user" or TIER_ZERO in (claims.get("roles") or []):
        return "held"
    return "standard"


def adopt_compliant(s: Session, p: Plan) -> None:
    """An apply with nothing to write still starts managing what it found compliant."""
    adopt(s.kinds, s.ctx, s.store, p.changes)


def apply_interactive(s: Session, p: Plan, *, confirm: Callable[[Plan], bool],
                      on_progress: Callable[[int, int, Change], None] | None = None,
                      reverse: bool = False) -> ApplyReport:
    """Apply a freshly computed plan after the user agreed (or ``--auto-approve``)."""
    require_complete(p)
    if p.actionable and not confirm(p):
        raise NotConfirmed("apply cancelled; nothing was changed")
    return execute(s, p, on_progress=on_progress, reverse=reverse)


def apply_saved(s: Session, saved: planfile.SavedPlan, *,
                on_progress: Callable[[int, int, Change], None] | None = None) -> ApplyReport:
    """Apply the saved changes only once a fresh derivation proves each of them.

    The header must still describe this run; then the plan is computed again from fresh
    reads with the targets the plan recorded (every guard runs again, on what is live
    now), and the saved changes must equal the fresh ones. See :mod:`planfile`.
    """
    planfile.check_fresh(saved.plan, url=s.url, organization_id=s.organization_id,
                         lineage=s.store.lineage, serial=s.store.serial, config_digest=s.desired.digest)
    require_complete(saved.plan)
    if saved.plan.destroy:  # derived again as it was made: from an empty desired state, backwards
        s.ctx = dataclasses.replace(s.ctx, desired=empty_desired(s.desired))
    fresh, _ = compute_changes(s.kinds, s.ctx, targets=saved.targets, reverse=saved.plan.destroy)
    require_complete(s.plan_of(fresh))
    proven = planfile.proven_changes(saved.plan.changes, fresh)
    return execute(s, dataclasses.replace(saved.plan, changes=tuple(proven)), on_progress=on_progress,
                   reverse=saved.plan.destroy)
