"""The kinds of a run, in safe order, and what the engine asks about them.

The registry is built by ``sssctl.kinds`` and handed to the engine, so nothing under
``sssctl/engine/`` names a concrete kind: which kind owns an address, where it runs in
the sequence, which kinds a failure must stop and which services a config needs all come
from what each kind declared in its :class:`~sssctl.engine.kind.KindSpec`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from sssctl.config.model import Desired
from sssctl.engine.kind import Kind, Service


@dataclass(frozen=True)
class Registry:
    """Kinds in apply order (the documented safe sequence), checked when built.

    A registry may hold a subset of the kinds (a test of one kind, the audit's probe); a
    kind named in ``after`` that is not registered then has nothing to wait for.
    :meth:`unresolved` lists such names so the full registry can be proven complete.
    """

    kinds: tuple[Kind, ...]
    _by_name: dict[str, Kind] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_name: dict[str, Kind] = {}
        for kind in self.kinds:
            if kind.spec.name in by_name:
                raise ValueError(f"two resource kinds are named {kind.spec.name!r}")
            by_name[kind.spec.name] = kind
        for kind in self.kinds:
            own_rank = self.rank_of(kind.spec.name, by_name)
            for needed in kind.spec.after:
                if needed in by_name and self.rank_of(needed, by_name) > own_rank:
                    raise ValueError(f"kind {kind.spec.name!r} must be registered after {needed!r}")
        object.__setattr__(self, "_by_name", by_name)

    def rank_of(self, name: str, by_name: dict[str, Kind] | None = None) -> int:
        """Position in the safe apply order; an unknown kind goes last."""
        names = list(by_name or self._by_name)
        return names.index(name) if name in names else len(names)

    def unresolved(self) -> set[str]:
        """Names in some kind's ``after`` that no registered kind has."""
        return {n for k in self.kinds for n in k.spec.after if n not in self._by_name}

    def __iter__(self) -> Iterator[Kind]:
        return iter(self.kinds)

    def __len__(self) -> int:
        return len(self.kinds)

    def get(self, name: str) -> Kind | None:
        return self._by_name.get(name)

    def only(self, names: Iterable[str]) -> Registry:
        wanted = set(names)
        return Registry(tuple(k for k in self.kinds if k.spec.name in wanted))

    def kind_of(self, address: str) -> str | None:
        """The kind that owns ``address``; the longest matching prefix wins."""
        owners = [k for k in self.kinds if k.spec.owns(address)]
        if not owners:
            return None
        return max(owners, key=lambda k: len(k.spec.prefix)).spec.name

    def blockers(self, name: str, *, reverse: bool = False) -> set[str]:
        """Kinds whose failure makes ``name`` unsafe to run, transitively.

        Building up, a kind waits for the kinds it declared in ``after``; tearing down
        (destroy) runs the sequence backwards, so the dependency points the other way.
        """
        graph: dict[str, set[str]] = {}
        for kind in self.kinds:
            for needed in kind.spec.after:
                source, target = (needed, kind.spec.name) if reverse else (kind.spec.name, needed)
                graph.setdefault(source, set()).add(target)
        seen: set[str] = set()
        todo = list(graph.get(name, ()))
        while todo:
            found = todo.pop()
            if found not in seen:
                seen.add(found)
                todo.extend(graph.get(found, ()))
        return seen

    def needing(self, service: Service) -> frozenset[str]:
        return frozenset(k.spec.name for k in self.kinds if service in k.spec.services)

    def in_use(self, desired: Desired, recorded_kinds: Iterable[str] = ()) -> list[Kind]:
        """Kinds the config manages something with, or that state still remembers."""
        recorded = set(recorded_kinds)
        return [k for k in self.kinds if k.spec.name in recorded or _manages(k, desired)]

    def needs(self, desired: Desired, recorded_kinds: Iterable[str] = ()) -> Needs:
        """Services and Dataverse privileges a run of ``desired`` needs, asked of the kinds."""
        used = self.in_use(desired, recorded_kinds)
        privileges: dict[str, str] = {}
        for kind in used:
            for privilege in kind.spec.privileges:
                if privilege.needed_by(desired):
                    privileges.setdefault(privilege.name, privilege.reason)
        services = {service for kind in used for service in kind.spec.services}
        return Needs(privileges=privileges, graph="graph" in services, exchange="exchange" in services)


@dataclass(frozen=True)
class Needs:
    """What a config asks of the identity: privileges (name -> reason) and services."""

    privileges: Mapping[str, str]
    graph: bool
    exchange: bool


def _manages(kind: Kind, desired: Desired) -> bool:
    try:
        return bool(kind.addresses(desired))
    except Exception:
        return False


def registry_of(kinds: Registry | Sequence[Kind]) -> Registry:
    """Tests and callers may hand in a plain list; the engine always works on a Registry."""
    return kinds if isinstance(kinds, Registry) else Registry(tuple(kinds))
