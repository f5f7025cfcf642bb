"""The hardened baseline that ``audit`` measures against and ``export`` reads through.

Kinds read only what a desired state names, so both commands hand them this baseline:
the settings every Server-Side Synchronization lockdown cares about (ARCHITECTURE §3,
controls 1-4). Which profile new mailboxes default to is not part of it: the built-in
profile and an own-app profile (Control 5: hardened only when Exchange scopes its app)
are both legitimate, so naming one here would flag the other. The aggregate mailbox
policy is left out. Which kinds are read, and how their readings are judged, the kinds
declare (``spec.checks``); this module names none of them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sssctl.config.model import (
    Approval,
    DefaultProfile,
    Desired,
    MailboxDefaults,
    PrivilegeAllowlist,
    UserSettingsPolicy,
)
from sssctl.engine.kind import AuditCheck, Context, Finding, Kind
from sssctl.engine.plan import Change
from sssctl.engine.planner import Reading, diff_all, read_all

APPROVE_PRIVILEGE = "prvApproveRejectEmailAddress"
BASELINE_ORG_SETTINGS: Mapping[str, Any] = {
    "RequirePrivilegeToSelfApproveEmailAddress": True,
    "SSSForceFilteringMethodForUserMailboxes": 3,
}


def baseline(desired: Desired, *, keep_user_values: bool) -> Desired:
    """The hardened desired state; with ``keep_user_values`` the config's own sections win."""
    mine = desired if keep_user_values else None
    return dataclasses.replace(
        desired,
        default_profile=(mine and mine.default_profile) or DefaultProfile(active=False),
        approval=(mine and mine.approval) or Approval(require_for_users=True, require_for_queues=True),
        org_settings={**BASELINE_ORG_SETTINGS, **(mine.org_settings if mine else {})},
        privileges={
            APPROVE_PRIVILEGE: PrivilegeAllowlist(APPROVE_PRIVILEGE, ("System Administrator",)),
            **(mine.privileges if mine else {}),
        },
        mailbox_defaults=MailboxDefaults(server_profile=None, incoming_email="server_side_sync",
                                         outgoing_email="server_side_sync",
                                         appointments_contacts_tasks="server_side_sync"),
        user_settings=UserSettingsPolicy(incoming_email_filtering="email_enabled_records"),
        mailboxes=None, app_registrations={}, custom_profiles={},
    )


@dataclass(frozen=True)
class Probe:
    """What the audit read: the baseline's diff, every reading, and the surveys' findings."""

    changes: list[Change]
    reading: Reading
    surveyed: list[Finding]


def probe(kinds: Iterable[Kind], ctx: Context, wanted: Desired) -> Probe:
    """Read the kinds that declare checks and diff them against ``wanted``; no guards, no writes.

    The state is hidden from the kinds so that restores of recorded addresses (which may
    need Graph or Exchange) do not enter a read-only report. A check's ``survey`` runs
    once every kind has read, with what the kinds handed over while reading.
    """
    kinds = list(kinds)
    chosen = [k for k in kinds if any(check.reads_kind for check in k.spec.checks)]
    probe_ctx = dataclasses.replace(ctx, desired=wanted, state={})
    reading = read_all(chosen, probe_ctx)
    surveyed = [stamped(finding, check) for k in kinds for check in k.spec.checks if check.survey is not None
                for finding in check.survey(probe_ctx)]
    return Probe(diff_all(chosen, wanted, reading, {}), reading, surveyed)


def stamped(finding: Finding, check: AuditCheck) -> Finding:
    """The finding under its check's SARIF rule, located at its check's key unless it says otherwise."""
    return dataclasses.replace(finding, rule_id=check.rule.id if check.rule else None,
                               config_key=finding.config_key or check.config_key)
