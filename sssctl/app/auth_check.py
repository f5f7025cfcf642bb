"""``sssctl auth check [--identity plan|apply] [--strict]``: missing rights, and rights held beyond need.

The probe (:mod:`sssctl.clients.probe`) signs in, checks each right the identity needs and
records what the identity holds. This use case compares the two against the config's
computed needs (:mod:`sssctl.app.needs`): anything held that the identity does not need is
*excess*, and ``--strict`` fails on it. Excess is named where it lives:

* Dataverse: privileges not needed, privileges held at a deeper depth than needed, and the
  built-in administrator roles (a custom role holding exactly the needs replaces them);
* Graph and Exchange: application permissions in the tokens' ``roles`` claims;
* Entra ID: administrator directory roles (``wids``), which sssctl never needs: Exchange
  cmdlets come from a custom Exchange management role, not from Exchange Administrator.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sssctl.app.needs import DEPTHS, ConfigNeeds, Identity, accepted, compute
from sssctl.app.runner import Services, default_services
from sssctl.clients.probe import Report, run_checks

ADMIN_ROLES = ("System Administrator", "System Customizer")
SHOWN = 12  # excess lines per service in the text report
# Entra role template ids (the same in every tenant) that give tenant-wide administration.
DIRECTORY_ROLES = {
    "62e90394-69f5-4237-9190-012177145e10": "Global Administrator",
    "29232cdf-9323-42fd-ade2-1d097af3e4de": "Exchange Administrator",
    "e8611ab8-c189-46e8-94e1-60213ab1f814": "Privileged Role Administrator",
    "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3": "Application Administrator",
    "158c047a-c907-4556-b7ef-446551a6b5f7": "Cloud Application Administrator",
}


@dataclass
class AccessReport:
    """The probe's report, and what the identity holds beyond what ``identity`` needs."""

    identity: Identity
    probe: Report
    excess: dict[str, list[str]] = field(default_factory=dict)

    @property
    def missing_ok(self) -> bool:
        return self.probe.ok

    @property
    def has_excess(self) -> bool:
        return any(self.excess.values())

    def ok(self, *, strict: bool) -> bool:
        return self.missing_ok and not (strict and self.has_excess)

    def render(self, *, strict: bool) -> str:
        lines = [self.probe.render().rstrip(), ""]
        if self.has_excess:
            lines.append(f"Held beyond what the {self.identity} identity needs:")
            for service, names in self.excess.items():
                lines += [f"  {service}: {name}" for name in names[:SHOWN]]
                if len(names) > SHOWN:
                    lines.append(f"  {service}: ... and {len(names) - SHOWN} more (--json lists them all)")
            lines.append("remove these grants (sssctl bootstrap creates identities holding exactly the needs)"
                         + ("" if strict else "; --strict fails on them"))
        else:
            lines.append(f"Nothing held beyond what the {self.identity} identity needs.")
        return "\n".join(lines) + "\n"

    def to_json(self, *, strict: bool) -> dict[str, Any]:
        return {**self.probe.to_json(), "identity": self.identity, "excess": self.excess,
                "strict": strict, "ok": self.ok(strict=strict)}


def excess_of(held: Mapping[str, Any], needs: ConfigNeeds, identity: Identity) -> dict[str, list[str]]:
    """Name everything in ``held`` (see :attr:`Report.held`) that ``identity`` does not need."""
    wanted = needs.privileges(identity)
    found: dict[str, list[str]] = {}
    privileges = held.get("dataverse") or {}
    dataverse = []
    for name, depth in sorted(privileges.items()):
        need = wanted.get(name)
        if need is None:
            dataverse.append(f"privilege {name} ({depth or '?'})")
        elif depth in DEPTHS and DEPTHS.index(depth) > DEPTHS.index(need):
            dataverse.append(f"privilege {name} at {depth}, needs only {need}")
    admin = [f"role {role}" for role in held.get("dataverse_roles") or [] if role in ADMIN_ROLES]
    found["dataverse"] = admin + dataverse
    for service in ("graph", "exchange"):
        needed = {n.lower() for n in needs.names(identity, service, "app_role")}
        found[service] = [f"application permission {role}" for role in held.get(service) or []
                          if role.lower() not in needed]
    found["entra"] = [f"directory role {DIRECTORY_ROLES[r]}" for r in held.get("directory_roles") or []
                      if r in DIRECTORY_ROLES]
    return {service: names for service, names in found.items() if names}


def check(config_path: Path, environ: Mapping[str, str], identity: Identity = "apply",
          services: Services | None = None) -> AccessReport:
    """Sign in as the configured identity and compare what it holds with what ``identity`` needs."""
    services = services or default_services()
    desired = services.load_config(config_path, environ)
    needs = compute(services.load_kinds(), desired)
    reasons = {n.name: "; ".join(n.reasons) for n in needs.of(identity, "dataverse")}
    graph = needs.names(identity, "graph")
    probe = run_checks(desired, privileges=reasons, need_graph=bool(graph),
                       need_exchange=bool(needs.of(identity, "exchange")),
                       graph_permissions=[accepted(name) for name in graph], environ=environ)
    return AccessReport(identity, probe, excess_of(probe.held, needs, identity))
