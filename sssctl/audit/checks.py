"""Posture checks: where the live environment falls short of the hardened baseline.

Each difference between live values and :func:`sssctl.audit.baseline.baseline` is one
finding; the severity says how much it widens what synchronization can reach. Objects
that could not be read are findings too (severity ``unknown``): an audit that silently
skipped them would read as a clean bill of health.
"""

from __future__ import annotations

import shutil
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

from sssctl.audit.own_app import EWS_READINESS, OWN_APP, EwsReadiness, OwnAppProfile
from sssctl.engine.plan import Action, Change
from sssctl.engine.planner import Reading
from sssctl.engine.render.common import field_rows, spell

SEVERITY_ORDER = ("high", "medium", "low")

# Why each baseline address matters, and how much.
CHECKS: dict[str, tuple[str, str]] = {
    "server_profile.default": (
        "high",
        "the first-party Exchange Online profile is active: Dataverse's own app can reach every mailbox",
    ),
    "privilege.prvApproveRejectEmailAddress": (
        "high", "roles other than System Administrator can approve mailboxes",
    ),
    "org_setting.RequirePrivilegeToSelfApproveEmailAddress": (
        "high", "users can approve their own mailbox without the approve privilege",
    ),
    "approval": ("medium", "mailboxes synchronize without an administrator's approval"),
    "org_setting.SSSForceFilteringMethodForUserMailboxes": (
        "medium", "user mailboxes are not forced to track only email from email-enabled records",
    ),
    "user_settings": ("medium", "some users track all email (or more than email-enabled records)"),
    "mailbox_defaults": ("low", "new mailboxes do not default to server-side synchronization"),
}


_NOT_EVIDENCE = frozenset({"sample"})   # aggregates' sample rows: the plan shows them, a table cannot
_EVIDENCE_WIDTH = 80


def _short(text: str) -> str:
    return text if len(text) <= _EVIDENCE_WIDTH else text[: _EVIDENCE_WIDTH - 1] + "…"


@dataclass(frozen=True)
class Finding:
    severity: str        # high | medium | low | unknown
    address: str
    summary: str
    evidence: str


UNSCOPED_APP = "its app is not restricted by an Exchange application access policy: it can read every mailbox"
NO_OWN_APP = "an active profile that does not sign in with an app of yours: no mailbox scope can limit it"


def findings_of(changes: Sequence[Change], reading: Reading | None = None) -> list[Finding]:
    found: list[Finding] = []
    if reading is not None:
        found += first_party_mailboxes(reading) + own_app_findings(reading) + ews_findings(reading)
    for change in changes:
        severity, summary = CHECKS.get(change.address, ("low", "differs from the hardened baseline"))
        if change.action is Action.UNKNOWN:
            found.append(Finding("unknown", change.address, "could not be checked", change.reason))
        elif change.action in (Action.UPDATE, Action.CREATE, Action.DELETE):
            evidence = "; ".join(
                f"{name} is {_short(spell(before))}" for name, before, _ in field_rows(change)
                if name not in _NOT_EVIDENCE and before is not None
            )
            found.append(Finding(severity, change.address, summary, evidence or change.reason))
    rank = {s: i for i, s in enumerate(("unknown", *SEVERITY_ORDER))}
    return sorted(found, key=lambda f: (rank.get(f.severity, 9), f.address))


def first_party_mailboxes(reading: Reading) -> list[Finding]:
    """Mailboxes still synchronizing through the built-in profile (counted by its kind's read)."""
    observed = reading.observed.get("server_profile_default")
    count = int((observed.extra.get("mailboxes_on_profile") or 0) if observed else 0)
    if not count:
        return []
    summary = "mailboxes synchronize through the first-party Exchange Online profile"
    return [Finding("high", "mailboxes", summary, f"{count} mailbox(es) on it")]


def own_app_findings(reading: Reading) -> list[Finding]:
    """Active custom profiles whose app is unscoped, or that use no app of yours.

    A scoped own app is the hardened posture of Control 5, so it yields nothing.
    """
    observed = reading.observed.get(OWN_APP)
    profiles: Sequence[OwnAppProfile] = observed.extra.get("profiles", ()) if observed else ()
    found: list[Finding] = []
    for profile in profiles:
        if profile.unreadable is not None:
            found.append(Finding("unknown", profile.address, "could not be checked", profile.unreadable))
        elif profile.app_id is None:
            found.append(Finding("high", profile.address, NO_OWN_APP, "no OAuth client id"))
        elif profile.voided_by:
            evidence = (f"app {profile.app_id}: tenant-wide consent of {', '.join(profile.voided_by)} "
                        "voids its RBAC scope (grants are additive)")
            found.append(Finding("high", profile.address, UNSCOPED_APP, evidence))
        elif not profile.scoped_to:
            evidence = f"app {profile.app_id}: no RestrictAccess policy and no RBAC scope"
            found.append(Finding("high", profile.address, UNSCOPED_APP, evidence))
    return found


EWS_BLOCKED = "its app signs in over EWS and Exchange refuses EWS for it today: synchronization stops"
EWS_SUNSET = "its app signs in over EWS, which Exchange Online shuts down on 2027-04-01"
EWS_NO_PERMISSION = "its app holds neither full_access_as_app (EWS) nor the Graph mailbox permissions"


def ews_findings(reading: Reading) -> list[Finding]:
    """Own-app profiles that depend on EWS: high when Exchange refuses the app today (or
    EWS is already shut down), medium while it still works, with the days left."""
    observed = reading.observed.get(EWS_READINESS)
    found: list[Finding] = []
    readiness: Sequence[EwsReadiness] = observed.extra.get("readiness", ()) if observed else ()
    for item in readiness:
        if item.unreadable is not None:
            found.append(Finding("unknown", item.address, "could not be checked", item.unreadable))
        elif item.transport is None:
            found.append(Finding("high", item.address, EWS_NO_PERMISSION, f"app {item.app_id}"))
        elif item.transport == "ews" and item.refusals:
            found.append(Finding("high", item.address, EWS_BLOCKED,
                                 f"app {item.app_id}: {'; '.join(item.refusals)}"))
        elif item.transport == "ews":
            extra = f"; {item.user_agent}" if item.user_agent else ""
            evidence = f"app {item.app_id}: admitted today, {max(item.days_left, 0)} days left{extra}"
            found.append(Finding("medium", item.address, EWS_SUNSET, evidence))
    return found


def fails(findings: Sequence[Finding], threshold: str | None) -> bool:
    """``--fail-on``: any finding at ``threshold`` or more severe (unknown counts as high)."""
    if threshold is None:
        return False
    limit = SEVERITY_ORDER.index(threshold)
    return any(SEVERITY_ORDER.index("high" if f.severity == "unknown" else f.severity) <= limit
               for f in findings)


def render_table(findings: Sequence[Finding], columns: int | None = None) -> str:
    """One row per finding; on a terminal (or given ``columns``) FINDING and LIVE wrap so a row
    fits the width, piped or in a CI log every row stays one line for grep."""
    if not findings:
        return "No findings: the environment meets the hardened baseline.\n"
    rows: list[tuple[str, ...]] = [("SEVERITY", "CHECK", "FINDING", "LIVE")]
    rows += [(f.severity, f.address, f.summary, f.evidence) for f in findings]
    if columns is None and sys.stdout.isatty():
        columns = shutil.get_terminal_size().columns
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    fixed = widths[0] + widths[1] + 6
    if columns and fixed + widths[2] + max(len(r[3]) for r in rows) > columns:
        room = max(40, columns - fixed)
        widths[2] = min(widths[2], max(16, room * 2 // 5))
        live = max(16, room - widths[2])
        wrapped = [[[r[0]], [r[1]], textwrap.wrap(r[2], widths[2]) or [""], textwrap.wrap(r[3], live) or [""]]
                   for r in rows]
        rows = [tuple(cell[i] if i < len(cell) else "" for cell in row)
                for row in wrapped for i in range(max(map(len, row)))]
    lines = ["  ".join(cell.ljust(widths[i]) if i < 3 else cell for i, cell in enumerate(r)).rstrip()
             for r in rows]
    counts = {s: sum(1 for f in findings if f.severity == s) for s in ("high", "medium", "low", "unknown")}
    tally = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    return "\n".join([*lines, "", f"Audit: {len(findings)} finding(s): {tally}."]) + "\n"
