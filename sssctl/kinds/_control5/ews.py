"""Exchange's EWS gate as sssctl reads it: will Exchange let the profile's app in over EWS?

The own-app server profile signs in as the customer's app with ``full_access_as_app``, an
EWS permission. Exchange Online retires EWS (Message Center MC1227454 and the Learn page
"Deprecation of Exchange Web Services in Exchange Online", as third parties quote them):
from 2026-10-01 a tenant whose ``EwsEnabled`` was never set is switched to False; a
tenant that set it True admits only the application IDs on ``EWSAllowedAppIDs``
(Set-OrganizationConfig, MicrosoftDocs/office-docs-powershell PR 13643: "When EwsEnabled
is $true, only applications specified by this parameter can access EWS"; the Exchange
blog "Introducing EWSAllowedAppIDs": "when this is configured"); list changes take up to
24 hours; on 2027-04-01 EWS in Exchange Online is shut down for everyone. The older
user-agent gate (``EwsApplicationAccessPolicy`` with ``EwsAllowList``/``EwsBlockList``,
"Control access to EWS in Exchange") applies as well, and a mailbox can be closed on its
own (``Set-CASMailbox -EwsEnabled $false``; both levels must allow it, MC1015893).

Microsoft's docs PR "Update Graph claims for cross tenant profile"
(MicrosoftDocs/power-platform PR 2892, 2026-08-12) adds Graph permissions for the
profile; the list itself was not found in any stored source, so :data:`GRAPH_SYNC` is the
set sssctl assumes and says so, and ``permissions`` accepts any Graph application
permission by name.

Dates are Exchange's: the answer's ``Date`` header when Exchange was asked, else this
machine's clock.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sssctl.engine.kind import Context
from sssctl.kinds._control5.names import now

UNSET_BLOCKED_FROM = datetime(2026, 10, 1, tzinfo=timezone.utc).timestamp()
SHUTDOWN = datetime(2027, 4, 1, tzinfo=timezone.utc).timestamp()
PROPAGATION_SECONDS = 24 * 3600
EWS_PERMISSION = "exchange:full_access_as_app"
# The Graph permissions assumed to let server-side sync work without EWS (see docstring).
GRAPH_SYNC: tuple[str, ...] = ("graph:mail.readwrite", "graph:calendars.readwrite",
                               "graph:contacts.readwrite", "graph:mailboxsettings.read")
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
_POLICIES = ("EnforceAllowList", "EnforceBlockList")


class MalformedEwsSettings(ValueError):
    """Exchange answered Get-OrganizationConfig with EWS settings sssctl cannot trust."""


@dataclass(frozen=True)
class EwsSettings:
    """The organization's EWS settings, as Get-OrganizationConfig shows them."""

    enabled: bool | None
    app_ids: tuple[str, ...]
    policy: str | None
    allow_list: tuple[str, ...]
    block_list: tuple[str, ...]

    def lists(self, app_id: str) -> bool:
        return app_id.lower() in {a.lower() for a in self.app_ids}

    def to_dict(self) -> dict[str, Any]:
        return {"EwsEnabled": self.enabled, "EWSAllowedAppIDs": list(self.app_ids),
                "EwsApplicationAccessPolicy": self.policy, "EwsAllowList": list(self.allow_list),
                "EwsBlockList": list(self.block_list)}


def _field(row: Mapping[str, Any], name: str) -> Any:
    """Exchange property names are case-insensitive (``EWSAllowedAppIDs`` = ``EwsAllowedAppIDs``)."""
    for key, value in row.items():
        if key.lower() == name.lower():
            return value
    return None


def _strings(row: Mapping[str, Any], name: str) -> tuple[str, ...]:
    raw = _field(row, name)
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
        raise MalformedEwsSettings(f"Exchange returned {name} as {raw!r}, not a list of strings")
    return tuple(raw)


def _app_ids(row: Mapping[str, Any]) -> tuple[str, ...]:
    """The allow list as Exchange gives it: a list, or one comma-separated string.

    The parameter page types ``-EwsAllowedAppIDs`` as one ``String`` and its example joins
    the IDs with commas; tools that read it through the admin API (CIPP's EWS standard)
    meet both forms, so both are read, and any other shape is malformed.
    """
    raw = _field(row, "EwsAllowedAppIDs")
    if isinstance(raw, str):
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    return _strings(row, "EwsAllowedAppIDs")


def as_parameter(app_ids: Sequence[str]) -> str | None:
    """``-EwsAllowedAppIDs`` as the parameter page gives it: one comma-separated string.

    An empty list is sent as null (``$null``), the page's way to remove the list, never as
    an empty string whose meaning the page does not state.
    """
    return ",".join(app_ids) if app_ids else None


def parse_settings(row: Mapping[str, Any]) -> EwsSettings:
    enabled = _field(row, "EwsEnabled")
    if enabled is not None and not isinstance(enabled, bool):
        raise MalformedEwsSettings(f"Exchange returned EwsEnabled as {enabled!r}, not true, false or null")
    app_ids = _app_ids(row)
    bad = [a for a in app_ids if not _GUID.match(a)]
    if bad:
        raise MalformedEwsSettings(f"Exchange returned EWSAllowedAppIDs with {bad[0]!r}, which is not an "
                                   "application (client) ID")
    policy = _field(row, "EwsApplicationAccessPolicy") or None
    if policy is not None and policy not in _POLICIES:
        raise MalformedEwsSettings(f"Exchange returned EwsApplicationAccessPolicy {policy!r}")
    return EwsSettings(enabled, app_ids, policy, _strings(row, "EwsAllowList"), _strings(row, "EwsBlockList"))


def read_settings(ctx: Context) -> EwsSettings:
    if ctx.exchange is None:
        raise RuntimeError("no Exchange admin API configured (SSSCTL_EXCHANGE_URL)")
    rows = ctx.exchange.invoke("Get-OrganizationConfig", {})
    if len(rows) != 1:
        raise MalformedEwsSettings(f"Get-OrganizationConfig returned {len(rows)} objects, not one")
    return parse_settings(rows[0])


def exchange_now(ctx: Context) -> float:
    known = getattr(ctx.exchange, "server_time", None) if ctx.exchange is not None else None
    return float(known) if isinstance(known, (int, float)) else now(ctx)


def days_left(moment: float) -> int:
    return int((SHUTDOWN - moment) // 86400)


def transport(permissions: Sequence[str]) -> str | None:
    """``graph`` when the app holds the Graph set, else ``ews`` with full_access_as_app, else None."""
    held = {p.strip().lower() for p in permissions}
    if all(p in held for p in GRAPH_SYNC):
        return "graph"
    return "ews" if EWS_PERMISSION in held else None


def refusals(settings: EwsSettings, app_id: str, moment: float) -> list[str]:
    """Why Exchange would refuse EWS for the app now, in the user's words; [] when admitted."""
    if moment >= SHUTDOWN:
        return ["EWS in Exchange Online was shut down on 2027-04-01 for every tenant; give the app "
                "Graph permissions (see configs/hardened-graph.toml)"]
    enabled = settings.enabled
    if enabled is None and moment >= UNSET_BLOCKED_FROM:
        enabled = False
    if enabled is False:
        why = ["EWS is blocked in this tenant (EwsEnabled is False)"]
        if not settings.lists(app_id):
            why.append("the app is not on EWSAllowedAppIDs")
        return why
    if enabled is True and settings.app_ids and not settings.lists(app_id):
        return ["EWS is restricted in this tenant and the app is not on EWSAllowedAppIDs"]
    return []


def user_agent_warning(settings: EwsSettings) -> str | None:
    """The user-agent gate may still block server-side sync; sssctl reports, never changes it.

    Microsoft does not publish the user agent server-side sync sends, so any enforced list
    is a risk to check, not a verdict."""
    if settings.policy == "EnforceAllowList":
        listed = ", ".join(settings.allow_list) or "no entries"
        return (f"EwsApplicationAccessPolicy is EnforceAllowList (EwsAllowList: {listed}): EWS clients whose "
                "user agent matches no entry are refused; check that server-side sync's matches")
    if settings.policy == "EnforceBlockList" and settings.block_list:
        listed = ", ".join(settings.block_list)
        return (f"EwsApplicationAccessPolicy is EnforceBlockList (EwsBlockList: {listed}): check that no "
                "entry matches server-side sync's user agent")
    return None


def mailbox_closed(ctx: Context, mailbox: str) -> bool:
    """``Get-CASMailbox``: the mailbox's own EWS switch is off."""
    if ctx.exchange is None:
        return False
    rows = ctx.exchange.invoke("Get-CASMailbox", {"Identity": mailbox})
    return bool(rows) and _field(rows[0], "EwsEnabled") is False
