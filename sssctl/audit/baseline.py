"""The hardened baseline that ``audit`` measures against and ``export`` reads through.

Kinds read only what a desired state names, so both commands hand them this baseline:
the settings every Server-Side Synchronization lockdown cares about (ARCHITECTURE §3,
controls 1-4). Which profile new mailboxes default to is not part of it: the built-in
profile (judged by ``server_profile.default``) and an own-app profile (Control 5, judged
by :mod:`sssctl.audit.own_app`: hardened only when Exchange scopes its app) are both
legitimate, so naming one here would flag the other. The aggregate mailbox policy is
left out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sssctl.audit.own_app import (
    EWS_READINESS,
    OWN_APP,
    EwsReadiness,
    OwnAppProfile,
    address_of,
    read_ews_readiness,
    read_own_app_profiles,
)
from sssctl.clients.errors import ClientError
from sssctl.config.model import (
    Approval,
    DefaultProfile,
    Desired,
    MailboxDefaults,
    PrivilegeAllowlist,
    UserSettingsPolicy,
)
from sssctl.engine.kind import Context, Kind, Observed
from sssctl.engine.plan import Change
from sssctl.engine.planner import Reading, diff_all, read_all

APPROVE_PRIVILEGE = "prvApproveRejectEmailAddress"
BASELINE_ORG_SETTINGS: Mapping[str, Any] = {
    "RequirePrivilegeToSelfApproveEmailAddress": True,
    "SSSForceFilteringMethodForUserMailboxes": 3,
}
PROBED_KINDS = ("approval", "org_setting", "privilege", "mailbox_defaults", "user_settings",
                "server_profile_default")


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


def probe(kinds: Iterable[Kind], ctx: Context, wanted: Desired) -> tuple[list[Change], Reading]:
    """Read the baseline kinds and diff them against ``wanted``; no guards, no writes.

    The state is hidden from the kinds so that restores of recorded addresses (which may
    need Graph or Exchange) do not enter a read-only report. The own-app profiles ride
    along in the reading under :data:`OWN_APP`.
    """
    chosen = [k for k in kinds if k.name in PROBED_KINDS]
    probe_ctx = dataclasses.replace(ctx, desired=wanted, state={})
    reading = read_all(chosen, probe_ctx)
    profiles = _own_app(probe_ctx, reading)
    reading.observed[OWN_APP] = Observed(objects={}, extra={"profiles": profiles})
    reading.observed[EWS_READINESS] = Observed(objects={}, extra={"readiness": _ews(probe_ctx, profiles)})
    return diff_all(chosen, wanted, reading, {}), reading


def builtin_profile_id(reading: Reading) -> str | None:
    observed = reading.observed.get("server_profile_default")
    live = observed.objects.get("server_profile.default") if observed else None
    return str(live["id"]) if live and live.get("id") else None


def _own_app(ctx: Context, reading: Reading) -> list[OwnAppProfile]:
    observed = reading.observed.get("server_profile_default")
    if observed is None or observed.errors:
        why = "the built-in profile was not read, so it cannot be told apart from custom ones"
        return [OwnAppProfile(address_of("*"), None, (), unreadable=why)]
    try:
        return read_own_app_profiles(ctx, builtin_profile_id(reading))
    except ClientError as exc:
        return [OwnAppProfile(address_of("*"), None, (), unreadable=f"could not be read: {exc}")]


def _ews(ctx: Context, profiles: Sequence[OwnAppProfile]) -> list[EwsReadiness]:
    try:
        return read_ews_readiness(ctx, profiles)
    except ClientError as exc:
        return [EwsReadiness(address_of("*"), "?", None, (), 0, unreadable=f"could not be read: {exc}")]
