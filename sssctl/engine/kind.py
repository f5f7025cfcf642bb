"""The contract between the engine and the resource kinds, owned by the engine.

A resource kind is a module under ``sssctl/kinds/`` exposing ``KIND``, an object that
satisfies :class:`Kind`: it declares itself with a :class:`KindSpec` (address prefix,
the kinds it must run after, the services and privileges it needs, whether its writes
may overlap) and does four things, **read**, **diff**, **apply** and **describe**, plus
an optional **guard** over the whole plan. The engine sees kinds only through this
module: it is handed a :class:`~sssctl.engine.registry.Registry` and never names a
concrete kind, the way Terraform core sees providers only through their interface.

Adding a resource kind touches two files: the new module ``sssctl/kinds/<name>.py``
(a class with ``spec``, ``addresses``, ``read``, ``diff`` and ``apply``; ``guard`` and
``describe`` may come from :class:`KindDefaults`) and the ordered list in
``sssctl/kinds/__init__.py`` that says where it runs in the safe sequence. Its
``spec.after`` names the kinds whose failure must stop it (fail closed), its
``spec.services`` the clients it needs (``auth check`` and the runner ask it), its
``spec.privileges`` what ``auth check`` probes in Dataverse, its ``spec.grants`` the
Microsoft Graph application permissions and Exchange cmdlets it calls with (``auth
needs`` and ``bootstrap`` compute least privilege from these declarations alone).

A kind owns its audit checks too: ``spec.checks`` lists them, each an
:class:`~sssctl.engine.checks.AuditCheck` with its severity, one-line summary and SARIF
rule (id, name, description, remedy); ``sssctl audit`` reads the kinds that declare one
and names none itself. Declaring a new check is one entry there, e.g. a setting judged
by its own diff against the hardened baseline::

    checks=(AuditCheck("medium", "user mailboxes are not forced to track ...",
                       Rule("SSS006", "FilteringNotForced", "...", "...", "Set `[org_settings] ...`"),
                       address="org_setting.SSSForceFilteringMethodForUserMailboxes",
                       config_key=("org_settings", "SSSForceFilteringMethodForUserMailboxes")),)

or, for a check that needs reads of its own after every kind has read, a ``survey``
function returning :class:`~sssctl.engine.checks.Finding` objects. A new rule id is the
next free ``SSS0nn``; ids are never reused or renumbered.

Kinds talk to the outside world only through :class:`Context`, and to each other
through typed hand-offs on ``ctx.handoffs`` (a small declared object per hand-off), the
one per-run read cache ``ctx.reads`` and the public fields (``address``, ``action``,
``before``, ``after``) of each other's changes; never through another kind's ``detail``
or reading (the tests' guard runner, ``tests/support/planning.py``, seals both).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

from sssctl.config.model import Desired
from sssctl.engine.checks import AuditCheck, Finding, Rule
from sssctl.engine.plan import Change
from sssctl.errors import ChangedSinceRead

__all__ = ["LIVE", "NOTE", "Applied", "AuditCheck", "ChangedSinceRead", "Context", "Depth", "Finding",
           "Grant", "Handoffs", "Kind", "KindDefaults", "KindSpec", "Observed", "Phase", "Privilege",
           "ReadCache", "Rule", "Service"]

if TYPE_CHECKING:
    from sssctl.clients.dataverse import DataverseClient, WhoAmI
    from sssctl.clients.exchange import ExchangeClient
    from sssctl.clients.graph import GraphClient

T = TypeVar("T")

Service = Literal["dataverse", "graph", "exchange"]
# Dataverse privilege depth, as RolePrivilege names it (Basic = own records .. Global = organization).
Depth = Literal["Basic", "Local", "Deep", "Global"]
# "plan": reading live objects needs it (so apply does too); "apply": only writing does.
Phase = Literal["plan", "apply"]

# In a describe() fragment, a table's comment lines live under this key (TOML has no
# other place for "the format cannot say this"); the export renders them as ``# ...``.
NOTE = "#"
# In a describe() fragment, what was counted live that no setting can hold (how the values
# of every mailbox or user are distributed). ``export`` leaves it out of the file; ``diff``
# compares it, so two environments whose mailboxes differ are never called equal because
# the setting a config could write happens to be the same.
LIVE = "(live)"


@dataclass(frozen=True)
class Privilege:
    """A Dataverse privilege a kind needs, why (shown by ``auth check``), and when.

    ``only_if`` narrows it to configs that really need it (a mailbox policy in ``report``
    mode reads mailboxes but never writes them); without it the privilege is needed
    whenever the kind manages anything.

    ``depth`` is the narrowest depth that still reaches every row the kind touches: sssctl
    manages mailboxes, user settings and roles in every business unit, and the
    organization-owned tables (organization, privilege) only have Global depth, so almost
    every declaration says Global. Whether plan needs it follows from the name: only
    ``prvRead*`` privileges are read privileges.
    """

    name: str
    reason: str
    only_if: Callable[[Desired], bool] | None = None
    depth: Depth = "Global"

    def needed_by(self, desired: Desired) -> bool:
        return self.only_if is None or self.only_if(desired)

    @property
    def phase(self) -> Phase:
        return "plan" if self.name.startswith("prvRead") else "apply"


@dataclass(frozen=True)
class Grant:
    """A Microsoft Graph application permission or an Exchange cmdlet a kind calls with.

    ``service`` is ``graph`` (``name`` is the permission's value, e.g.
    ``Application.Read.All``) or ``exchange`` (``name`` is a cmdlet, e.g.
    ``Get-ApplicationAccessPolicy``; the identity holds it through a custom management role
    listing exactly the cmdlets needed). ``phase`` says whether plan needs it or only apply.
    ``elevated`` marks a tier-0 right (granting consent, assigning roles): the standing
    apply identity never holds it, and a change that needs it is applied only by
    ``apply --elevated``. ``source`` is the documentation page that says this call needs
    this right, so each mapping can be checked.
    """

    service: Literal["graph", "exchange"]
    name: str
    reason: str
    phase: Phase = "plan"
    elevated: bool = False
    only_if: Callable[[Desired], bool] | None = None
    source: str = ""

    def needed_by(self, desired: Desired) -> bool:
        return self.only_if is None or self.only_if(desired)


@dataclass(frozen=True)
class KindSpec:
    """What a kind declares about itself when it is registered.

    ``prefix`` is the address prefix in the user's words (``server_profile.custom``);
    every address the kind owns is the prefix itself or starts with it followed by ``.``
    or ``[``. ``after`` lists the kinds whose changes must all have succeeded before this
    kind may write: the engine skips this kind's changes when one of them failed, so a
    failure never leaves a weaker posture (the custom profile is never used while its app
    is unscoped). ``adopts_compliant`` says an address found already as the
    config wants it is recorded in the state at apply (so later drift on it is reported);
    a kind whose objects are identified by what its own apply learned says False (see
    :mod:`sssctl.engine.adoption`). ``checks`` are the kind's audit checks (see
    :class:`~sssctl.engine.checks.AuditCheck` and the module docstring).
    """

    name: str
    prefix: str
    after: tuple[str, ...] = ()
    services: frozenset[Service] = frozenset({"dataverse"})
    privileges: tuple[Privilege, ...] = ()
    grants: tuple[Grant, ...] = ()
    adopts_compliant: bool = True
    checks: tuple[AuditCheck, ...] = ()

    def owns(self, address: str) -> bool:
        if address == self.prefix:
            return True
        return address.startswith(self.prefix) and address[len(self.prefix)] in ".["


@dataclass(frozen=True)
class Observed:
    """What a kind found live, keyed by resource address.

    ``objects[address]`` is ``None`` when the object does not exist. An address listed in
    ``errors`` could not be read; its diff must be ``Action.UNKNOWN``, never a guess.
    ``recorded`` is the state snapshot's entry for the address (managed values,
    fingerprints), handed in by the engine so write-only fields can be judged. ``extra``
    belongs to the kind that read it, and so does all of ``Observed``: others get facts
    through a typed hand-off (the built-in profile's id reaches the audit's own-app check
    that way, which app each custom profile signs in with reaches the app registration's
    guard, and how far the mailbox policy's revert reaches the profiles' guards).
    """

    objects: Mapping[str, Mapping[str, Any] | None]
    etags: Mapping[str, str | None] = field(default_factory=dict)
    errors: Mapping[str, str] = field(default_factory=dict)
    recorded: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Applied:
    """The outcome of one applied change: what the state should now remember."""

    address: str
    managed: Mapping[str, Any] | None       # None: the address is no longer managed
    fingerprints: Mapping[str, str] = field(default_factory=dict)
    writes: int = 0
    message: str = ""
    # False when the change stopped part-way (Ctrl-C between chunks): what was written is
    # recorded, the run reports it as stopped, and the next plan shows what is left.
    complete: bool = True


class _Slot:
    """One shared answer: the first caller loads it, concurrent callers wait for it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.loaded = False
        self.value: Any = None
        self.error: BaseException | None = None

    def get(self, load: Callable[[], Any]) -> Any:
        with self.lock:
            if not self.loaded:
                try:
                    self.value = load()
                except Exception as exc:
                    self.error = exc
                self.loaded = True
        if self.error is not None:
            raise self.error
        return self.value


class ReadCache:
    """The one read cache of a run: each table or object is fetched once, not per kind.

    Kinds read concurrently and several need the same rows (profiles, the organization,
    the app). Two lifetimes: ``plan`` answers are shared only while the plan is computed
    and are dropped when apply starts (apply must see what it writes against as it is
    then, including its own writes); ``run`` answers are facts the run's own writes do
    not change (a resource's app roles) or that the writer drops itself after writing.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._slots: dict[tuple[str, str], _Slot] = {}
        self.sharing = False

    def get(self, key: str, load: Callable[[], T], *, lifetime: Literal["plan", "run"] = "plan") -> T:
        if lifetime == "plan" and not self.sharing:
            return load()
        with self._lock:
            slot = self._slots.setdefault((lifetime, key), _Slot())
        value: T = slot.get(load)
        return value

    def put(self, key: str, value: Any, *, lifetime: Literal["plan", "run"] = "run") -> None:
        """Remember an answer learned on the way (a row found by one key, filed under another)."""
        slot = _Slot()
        slot.get(lambda: value)
        with self._lock:
            self._slots[(lifetime, key)] = slot

    def loaded(self, keys: Sequence[str]) -> dict[tuple[str, str], Any]:
        """Answers already loaded (without error) under these keys, by (lifetime, key).

        A long-running caller (``watch``) hands them to the next run's cache with
        :meth:`put`, for small tables it has decided may be a few cycles old.
        """
        with self._lock:
            slots = {k: s for k, s in self._slots.items() if k[1] in keys}
        return {k: s.value for k, s in slots.items() if s.loaded and s.error is None}

    def forget(self, *keys: str) -> None:
        """Drop answers (every plan-lifetime one without ``keys``): the next caller reads again."""
        with self._lock:
            for slot_key in list(self._slots):
                lifetime, key = slot_key
                if (key in keys) if keys else lifetime == "plan":
                    del self._slots[slot_key]

    def forget_everything(self) -> None:
        """Drop run-lifetime answers too: after a write whose answer was lost, nothing read is sure."""
        with self._lock:
            self._slots.clear()

    def share(self) -> None:
        """Reads of this run (its plan) may be shared between kinds from now on."""
        self.sharing = True

    def stop_sharing(self) -> None:
        """From now on (apply) plan-lifetime answers are read afresh by every caller."""
        self.sharing = False
        self.forget()


class Handoffs:
    """Typed hand-offs between kinds within one run: one declared object per hand-off.

    A kind that produces something another kind needs later in the same apply (the id
    of an app it created, the text of a secret that exists only in memory) puts a small
    dataclass here under a key; the consumer asks for that type. Nothing is keyed by a
    bare string alone and nothing outlives the run.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[tuple[type[Any], str], Any] = {}

    def put(self, key: str, value: Any) -> None:
        with self._lock:
            self._items[(type(value), key)] = value

    def get(self, kind: type[T], key: str) -> T | None:
        with self._lock:
            found = self._items.get((kind, key))
        return found if isinstance(found, kind) else None

    def setdefault(self, key: str, value: T) -> T:
        with self._lock:
            found: T = self._items.setdefault((type(value), key), value)
        return found


@dataclass
class Context:
    """Everything a kind may touch. Nothing in a kind reaches for globals."""

    desired: Desired
    dataverse: DataverseClient
    graph: GraphClient | None = None
    exchange: ExchangeClient | None = None
    state: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    clock: Callable[[], float] | None = None
    allow_lockout: bool = False
    progress: Callable[[str, int, int | None], None] | None = None   # (label, done, total)
    whoami: WhoAmI | None = None        # the engine's sign-in check, so kinds need not ask again
    parallelism: int = 4                # requests a kind may have in flight for one change
    # Services without a client this run because a setting is missing ("graph", "exchange"
    # -> what to set): what needs them is unknown, never an error that stops the plan.
    unavailable: Mapping[str, str] = field(default_factory=dict)
    # ``export``: read everything that exists (every custom profile, every user's filtering
    # method, ...), not only what the config names, so describe() can write it down.
    census: bool = False
    reads: ReadCache = field(default_factory=ReadCache)
    handoffs: Handoffs = field(default_factory=Handoffs)
    # Set by the first Ctrl-C: finish what is in flight, start nothing new (between
    # changes, and between ``$batch`` chunks inside an aggregate change).
    stop: threading.Event = field(default_factory=threading.Event)


class Kind(Protocol):
    """A resource kind: what it declares, and the four things it does."""

    spec: KindSpec

    @property
    def name(self) -> str: ...

    def addresses(self, desired: Desired) -> list[str]:
        """Addresses this kind manages under ``desired`` (for --target and destroy)."""
        ...

    def read(self, ctx: Context) -> Observed: ...

    def diff(self, desired: Desired, observed: Observed) -> list[Change]: ...

    def apply(self, ctx: Context, change: Change) -> Applied:
        """Carry out one change; raise :class:`ChangedSinceRead` when If-Match refuses it."""
        ...

    def describe(self, observed: Observed) -> dict[str, Any]:
        """This kind's part of a format-v1 document describing ``observed`` (for export).

        Nested tables as the config file has them (``{"approval": {...}}``); what the format
        cannot express goes into ``NOTE`` comment lines. Empty when nothing was read.
        """
        ...

    def guard(
        self, ctx: Context, changes: Sequence[Change], observed: Mapping[str, Observed]
    ) -> list[str]:
        """Refusals this kind raises against the whole plan (empty list: no objection).

        ``changes`` is every change of the plan, ``observed`` every kind's reading keyed by
        kind name, so a kind can refuse an unsafe combination (deactivating a profile that
        mailboxes still use, removing the caller's last approve privilege …). Pure: no I/O.
        """
        ...


class KindDefaults:
    """What a kind gets unless it says otherwise: its name from its spec, no objection to
    any plan, nothing to export."""

    spec: KindSpec

    @property
    def name(self) -> str:
        return self.spec.name

    def describe(self, observed: Observed) -> dict[str, Any]:
        return {}

    def guard(
        self, ctx: Context, changes: Sequence[Change], observed: Mapping[str, Observed]
    ) -> list[str]:
        return []

    def after_lost_answer(self, ctx: Context, planned: Change, fresh: Change) -> tuple[Change, list[str]]:
        """What to send again after a lost answer (see :mod:`sssctl.engine.reconcile`), and what
        someone else changed meanwhile (named in the refusal, never overwritten).

        By default the fresh change as a whole: a kind whose one object either took effect
        or did not. Kinds standing for many rows narrow it to the rows still as planned.
        """
        return fresh, []
