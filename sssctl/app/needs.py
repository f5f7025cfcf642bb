"""``sssctl auth needs``: the least privilege a config needs, computed from the kinds' declarations.

Three identities come out of one config: the *plan* identity reads only (every ``prvRead*``
privilege, every Graph and Exchange grant declared for ``plan``); the *apply* identity holds
the plan's rights plus what writes need, except the tier-0 rights (``Grant.elevated``);
those are held by nobody standing and are used only by an administrator signing in for
``apply --elevated``. Nothing here is hand-listed per config: a kind that starts calling
something new declares it in its ``KindSpec`` and every output follows.

Rights every run needs whatever the kinds manage:

* Dataverse: ``prvReadUser`` at Basic depth: the identity reads its own user and roles
  (``RetrieveUserPrivileges`` for ``auth check``, the approve-privilege lockout guard). Basic
  reaches the caller's own user row and nothing else:
  https://learn.microsoft.com/power-platform/admin/security-roles-privileges#access-levels.
* Exchange: the ``Exchange.ManageAsApp`` application permission of Office 365 Exchange
  Online lets an app call the admin API at all; which cmdlets it may run is then decided
  by Exchange RBAC:
  https://learn.microsoft.com/powershell/exchange/app-only-auth-powershell-v2#assign-api-permissions-to-the-application.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sssctl.config.model import Desired
from sssctl.engine.kind import Phase
from sssctl.engine.registry import Registry

Identity = Literal["plan", "apply", "elevated"]
IDENTITIES: tuple[Identity, ...] = ("plan", "apply", "elevated")
SERVICES = ("dataverse", "graph", "exchange")
DEPTHS = ("Basic", "Local", "Deep", "Global")

EXCHANGE_APP_ROLE = "Exchange.ManageAsApp"
EXCHANGE_APP_ROLE_DOC = ("https://learn.microsoft.com/powershell/exchange/app-only-auth-powershell-v2"
                         "#assign-api-permissions-to-the-application")
DEPTH_DOC = "https://learn.microsoft.com/power-platform/admin/security-roles-privileges#access-levels"
# Rights Microsoft treats as tier 0: a holder can grant itself anything else.
TIER_ZERO_GRAPH = frozenset({"AppRoleAssignment.ReadWrite.All", "Application.ReadWrite.All",
                             "RoleManagement.ReadWrite.Directory", "RoleManagement.ReadWrite.Exchange",
                             "Directory.ReadWrite.All"})


# A broader permission the identity may hold instead (it then has *more* than it needs, which
# ``auth check`` reports as excess, but nothing is missing).
SATISFIED_BY = {
    "Application.Read.All": ("Application.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"),
    "Application.ReadWrite.OwnedBy": ("Application.ReadWrite.All",),
}


def accepted(permission: str) -> tuple[str, ...]:
    """The permission and every broader one that includes it."""
    return (permission, *SATISFIED_BY.get(permission, ()))


@dataclass(frozen=True)
class Need:
    """One right: a Dataverse privilege (with depth), a Graph permission, an Exchange cmdlet/role."""

    service: str
    kind: Literal["privilege", "app_role", "cmdlet"]
    name: str
    phase: Phase
    elevated: bool
    reasons: tuple[str, ...]
    depth: str | None = None
    source: str = ""

    def held_by(self, identity: Identity) -> bool:
        if identity == "elevated":
            return self.elevated
        if self.elevated:
            return False
        return identity == "apply" or self.phase == "plan"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.kind, "phase": self.phase,
                               "reasons": list(self.reasons)}
        if self.depth:
            out["depth"] = self.depth
        if self.source:
            out["source"] = self.source
        return out


@dataclass(frozen=True)
class ConfigNeeds:
    """Every right a config needs, and which identity holds which."""

    needs: tuple[Need, ...]

    def of(self, identity: Identity, service: str | None = None) -> list[Need]:
        return [n for n in self.needs if n.held_by(identity) and (service is None or n.service == service)]

    def privileges(self, identity: Identity) -> dict[str, str]:
        """Dataverse privilege name -> depth, as a custom security role would hold them."""
        return {n.name: n.depth or "Global" for n in self.of(identity, "dataverse")}

    def names(self, identity: Identity, service: str, kind: str | None = None) -> list[str]:
        return sorted({n.name for n in self.of(identity, service) if kind is None or n.kind == kind})

    @staticmethod
    def union(many: Sequence[ConfigNeeds]) -> ConfigNeeds:
        """What identities serving several environments need (a fleet): every member's needs."""
        return ConfigNeeds(tuple(n for needs in many for n in needs.needs))

    def to_json(self) -> dict[str, Any]:
        return {"identities": {identity: {service: [n.to_json() for n in self.of(identity, service)]
                                          for service in SERVICES}
                               for identity in IDENTITIES}}

    def render(self) -> str:
        titles = {"plan": "plan identity (read only)", "apply": "apply identity (standing)",
                  "elevated": "elevated (an administrator, only for changes marked so in the plan)"}
        lines: list[str] = []
        for identity in IDENTITIES:
            lines.append(f"{titles[identity]}:")
            listed = self.of(identity)
            if not listed:
                lines.append("  nothing")
            for service in SERVICES:
                for need in self.of(identity, service):
                    label = {"privilege": "Dataverse privilege", "app_role": f"{_resource(need)} permission",
                             "cmdlet": "Exchange cmdlet"}[need.kind]
                    depth = f" ({need.depth})" if need.depth else ""
                    lines.append(f"  {label:<32} {need.name}{depth}  - {'; '.join(need.reasons)}")
            lines.append("")
        return "\n".join(lines).rstrip() + "\n"


def _resource(need: Need) -> str:
    return "Exchange" if need.service == "exchange" else "Graph"


class _Collector:
    def __init__(self) -> None:
        self.found: dict[tuple[str, str, bool], dict[str, Any]] = {}

    def add(self, service: str, kind: Literal["privilege", "app_role", "cmdlet"], name: str, phase: Phase,
            reason: str, *, elevated: bool = False, depth: str | None = None, source: str = "") -> None:
        key = (service, name.lower(), elevated)
        entry = self.found.setdefault(key, {"service": service, "kind": kind, "name": name, "phase": phase,
                                            "elevated": elevated, "reasons": [], "depth": depth,
                                            "source": source})
        if phase == "plan":
            entry["phase"] = "plan"
        if depth and (entry["depth"] is None or DEPTHS.index(depth) > DEPTHS.index(entry["depth"])):
            entry["depth"] = depth
        if reason not in entry["reasons"]:
            entry["reasons"].append(reason)
        entry["source"] = entry["source"] or source

    def result(self) -> ConfigNeeds:
        ordered = sorted(self.found.values(), key=lambda e: (
            SERVICES.index(e["service"]), e["phase"] != "plan", e["kind"], e["name"].lower()))
        return ConfigNeeds(tuple(Need(**{**e, "reasons": tuple(e["reasons"])}) for e in ordered))


def compute(registry: Registry, desired: Desired, recorded_kinds: Iterable[str] = ()) -> ConfigNeeds:
    """What plan and apply of ``desired`` need, asked of the kinds in use (and those state remembers)."""
    found = _Collector()
    found.add("dataverse", "privilege", "prvReadUser", "plan",
              "read its own user and roles (auth check, the lockout guard)", depth="Basic", source=DEPTH_DOC)
    for kind in registry.in_use(desired, recorded_kinds):
        for privilege in kind.spec.privileges:
            if privilege.needed_by(desired):
                found.add("dataverse", "privilege", privilege.name, privilege.phase, privilege.reason,
                          depth=privilege.depth, source=DEPTH_DOC)
        for grant in kind.spec.grants:
            if grant.needed_by(desired):
                found.add(grant.service, "app_role" if grant.service == "graph" else "cmdlet", grant.name,
                          grant.phase, grant.reason, elevated=grant.elevated, source=grant.source)
    if any(service == "exchange" for service, _, _ in found.found):
        found.add("exchange", "app_role", EXCHANGE_APP_ROLE, "plan", "call the Exchange admin API at all",
                  source=EXCHANGE_APP_ROLE_DOC)
    return found.result()


def excess(held: Mapping[str, Iterable[str]], needs: ConfigNeeds, identity: Identity) -> dict[str, list[str]]:
    """What an identity holds beyond what it needs, per service (names as held)."""
    wanted = {service: {n.name.lower() for n in needs.of(identity, service)} for service in SERVICES}
    return {service: sorted(name for name in names if name.lower() not in wanted.get(service, set()))
            for service, names in held.items()}
