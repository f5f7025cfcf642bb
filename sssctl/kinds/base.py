"""The one shape every resource kind has: read, diff, apply, describe.

A kind is a module (``sssctl/kinds/<name>.py``) exposing a module-level ``KIND`` object
that satisfies :class:`Kind`. The engine knows nothing about Dataverse; a kind knows
nothing about plan files, locks or rendering. Kinds receive everything through
:class:`Context` so tests can hand in a client pointed at the emulator or a fake clock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from sssctl.config.model import Desired
from sssctl.engine.plan import Change

if TYPE_CHECKING:
    from sssctl.clients.dataverse import DataverseClient, WhoAmI
    from sssctl.clients.exchange import ExchangeClient
    from sssctl.clients.graph import GraphClient


# In a describe() fragment, a table's comment lines live under this key (TOML has no
# other place for "the format cannot say this"); the export renders them as ``# ...``.
NOTE = "#"


@dataclass(frozen=True)
class Observed:
    """What a kind found live, keyed by resource address.

    ``objects[address]`` is ``None`` when the object does not exist. An address listed in
    ``errors`` could not be read; its diff must be ``Action.UNKNOWN``, never a guess.
    ``recorded`` is the state snapshot's entry for the address (managed values,
    fingerprints), handed in by the engine so write-only fields can be judged.
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
    scratch: dict[str, Any] = field(default_factory=dict)            # per-run hand-offs between kinds
    whoami: WhoAmI | None = None        # the engine's sign-in check, so kinds need not ask again
    parallelism: int = 4                # requests a kind may have in flight for one change
    # Services without a client this run because a setting is missing ("graph", "exchange"
    # -> what to set): what needs them is unknown, never an error that stops the plan.
    unavailable: Mapping[str, str] = field(default_factory=dict)
    # ``export``: read everything that exists (every custom profile, every user's filtering
    # method, ...), not only what the config names, so describe() can write it down.
    census: bool = False


class Kind(Protocol):
    """A resource kind. ``name`` is the address prefix (``org_setting``, ``mailboxes`` …)."""

    name: str

    def addresses(self, desired: Desired) -> list[str]:
        """Addresses this kind manages under ``desired`` (for --target and destroy)."""
        ...

    def read(self, ctx: Context) -> Observed: ...

    def diff(self, desired: Desired, observed: Observed) -> list[Change]: ...

    def apply(self, ctx: Context, change: Change) -> Applied: ...

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
