"""Exchange Online's EWS gate: whether server-side sync, signing in as an app, may use EWS.

Sources, as stored copies of public pages:

* Set-OrganizationConfig ``-EwsAllowedAppIDs`` (MicrosoftDocs/office-docs-powershell PR
  13643, June 2026): "When EwsEnabled is $true, only applications specified by this
  parameter can access EWS. When EwsEnabled is $false, all EWS access is blocked
  regardless of this parameter. When EwsEnabled is $null (not configured), this parameter
  has no effect." Applications are named by their application (client) ID, a GUID.
* The Exchange Team blog "Introducing EWSAllowedAppIDs" (as republished): "When this is
  configured, only apps with IDs on this list will have EWS access while EWSEnabled is set
  to True"; the older ``EwsAllowList`` works on the user agent and both gates apply.
* Message Center MC1227454 and the Learn page "Deprecation of Exchange Web Services in
  Exchange Online", as third parties quote them (particlenews, windowsnews.ai, the
  demisto/content PR 45145): on 2026-10-01 tenants whose ``EWSEnabled`` is null are set
  to False, unless the admin set True and an allow list by the end of August 2026; EWS in
  Exchange Online is disabled on 2027-04-01, no exceptions. Changes to the list take up
  to 24 hours (community readiness scripts; the reference file of this project).
* MC1015893 / Exchange Team blog "The way to control EWS usage in Exchange Online is
  changing" (2025): EWS is allowed only when both the organization and the mailbox
  (``Set-CASMailbox -EwsEnabled``) allow it; null counts as allowing at both levels.
* "Control access to EWS in Exchange" (MicrosoftDocs/office-developer-exchange-docs):
  ``EwsApplicationAccessPolicy`` = ``EnforceAllowList`` lets only user agents matching
  ``EwsAllowList`` in ("OWA/*" style patterns); ``EnforceBlockList`` keeps out those
  matching ``EwsBlockList``.

Where the sources disagree: the parameter page says only listed apps pass whenever
EwsEnabled is true, the blog says so "when this is configured". The emulator follows the
blog: an empty list restricts nothing (a tenant that set EwsEnabled before the list
existed kept working); a non-empty one admits only its entries.

Not documented, and an assumption of the emulator: the user agent server-side sync sends
(:data:`SYNC_USER_AGENT`). Get-OrganizationConfig shows a list change at once while the
gate enforces it only after the propagation delay (``ews_propagation_seconds``, 0 to the
documented 24 hours), as Exchange shows a new setting before it takes effect.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sssctl.emulator import constants as c
from sssctl.emulator.clock import Clock

UNSET_BLOCKED_FROM = dt.datetime(2026, 10, 1, tzinfo=dt.timezone.utc)
SHUTDOWN = dt.datetime(2027, 4, 1, tzinfo=dt.timezone.utc)
MAX_PROPAGATION_SECONDS = 24 * 3600
SYNC_USER_AGENT = "MicrosoftDynamics365-ServerSideSync/9.2"   # assumption: not published
# An app the tenant admitted before sssctl ever ran (the archiving tool of the seed story):
# sssctl must keep it on the list through apply, a concurrent change and destroy.
SEEDED_ALLOWED_APP = "4c1d9a7e-2b3f-4e5d-8c6b-7a9f0e1d2c3b"
DEFAULT_APP_IDS: tuple[str, ...] = (SEEDED_ALLOWED_APP,)

PARAMETERS: dict[str, frozenset[str]] = {
    "Get-OrganizationConfig": frozenset(),
    "Set-OrganizationConfig": frozenset({"EwsEnabled", "EwsAllowedAppIDs", "EwsApplicationAccessPolicy",
                                         "EwsAllowList", "EwsBlockList", "Confirm"}),
    "Get-CASMailbox": frozenset({"Identity"}),
    "Set-CASMailbox": frozenset({"Identity", "EwsEnabled", "Confirm"}),
}
_POLICIES = ("EnforceAllowList", "EnforceBlockList")
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)


class EwsError(Exception):
    def __init__(self, type_name: str, text: str) -> None:
        super().__init__(text)
        self.type_name, self.text = type_name, text


@dataclass
class EwsState:
    """The organization's EWS settings and each mailbox's own switch."""

    enabled: bool | None = True
    policy: str | None = None
    allow_list: list[str] = field(default_factory=list)
    block_list: list[str] = field(default_factory=list)
    app_ids: list[str] = field(default_factory=lambda: list(DEFAULT_APP_IDS))
    initial_app_ids: list[str] = field(default_factory=lambda: list(DEFAULT_APP_IDS))
    # (timestamp from which it is enforced, the list) for every change, oldest first.
    app_id_history: list[tuple[float, list[str]]] = field(default_factory=list)
    mailboxes: dict[str, bool | None] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str


class EwsGate:
    """The default tenant state (documented in the README): EWS turned on before October
    2026 with an allow list holding one other app, as Microsoft asked admins to do. An own
    app gets in only once it is on that list."""

    def __init__(self, clock: Clock, delay: Callable[[], float],
                 mailbox_exists: Callable[[str], bool]) -> None:
        self.clock, self.delay, self.mailbox_exists = clock, delay, mailbox_exists
        self.state = EwsState()

    def reset(self) -> None:
        self.state = EwsState()

    def snapshot(self) -> dict[str, Any]:
        return {"organizationConfig": self._org_row(),
                "ewsAllowedAppIDsEnforced": self.enforced_app_ids(),
                "casMailboxes": dict(self.state.mailboxes)}

    # --- what the organization shows -----------------------------------------------------
    def enabled(self) -> bool | None:
        """Null turns into False on 2026-10-01: Microsoft sets it, so Get shows False."""
        if self.state.enabled is None and self.clock.now() >= UNSET_BLOCKED_FROM:
            return False
        return self.state.enabled

    def enforced_app_ids(self) -> list[str]:
        """The list the gate enforces now: the newest change whose delay has passed."""
        now = self.clock.timestamp()
        enforced = [entry for at, entry in self.state.app_id_history if at <= now]
        return list(enforced[-1] if enforced else self.state.initial_app_ids)

    def _org_row(self) -> dict[str, Any]:
        return {
            "Name": c.TENANT_DOMAIN, "Identity": c.TENANT_DOMAIN, "Guid": c.TENANT_ID,
            "EwsEnabled": self.enabled(),
            "EwsApplicationAccessPolicy": self.state.policy,
            "EwsAllowList": list(self.state.allow_list),
            "EwsBlockList": list(self.state.block_list),
            "EwsAllowedAppIDs": list(self.state.app_ids),
        }

    # --- cmdlets ---------------------------------------------------------------------------
    def cmdlets(self) -> dict[str, Callable[[dict[str, Any]], list[dict[str, Any]]]]:
        return {"Get-OrganizationConfig": lambda _p: [self._org_row()],
                "Set-OrganizationConfig": self._set_org,
                "Get-CASMailbox": self._get_cas,
                "Set-CASMailbox": self._set_cas}

    def _set_org(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        # Validate everything first: a cmdlet call changes all or nothing.
        enabled = _boolean(p["EwsEnabled"], "EwsEnabled") if "EwsEnabled" in p else self.state.enabled
        policy = self.state.policy
        if "EwsApplicationAccessPolicy" in p:
            policy = _policy(p["EwsApplicationAccessPolicy"])
        allow = _strings(p["EwsAllowList"], "EwsAllowList") if "EwsAllowList" in p else self.state.allow_list
        block = _strings(p["EwsBlockList"], "EwsBlockList") if "EwsBlockList" in p else self.state.block_list
        app_ids = self.state.app_ids
        if "EwsAllowedAppIDs" in p:
            # The parameter page's example passes the IDs as one comma-separated string.
            app_ids = [a.strip() for v in _strings(p["EwsAllowedAppIDs"], "EwsAllowedAppIDs")
                       for a in v.split(",") if a.strip()]
            bad = [a for a in app_ids if not _GUID.match(a)]
            if bad:
                raise EwsError("System.Management.Automation.ParameterBindingException",
                               f"Cannot process argument transformation on parameter 'EwsAllowedAppIDs'. "
                               f"Cannot convert value \"{bad[0]}\" to type \"System.Guid\".")
        if enabled is None and self.clock.now() >= UNSET_BLOCKED_FROM:
            enabled = False
        if "EwsAllowedAppIDs" in p:
            delay = min(max(self.delay(), 0.0), MAX_PROPAGATION_SECONDS)
            self.state.app_id_history.append((self.clock.timestamp() + delay, list(app_ids)))
        self.state.enabled, self.state.policy = enabled, policy
        self.state.allow_list, self.state.block_list = list(allow), list(block)
        self.state.app_ids = list(app_ids)
        return []

    def _get_cas(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        address = self._mailbox(p.get("Identity"))
        return [{"Identity": address, "PrimarySmtpAddress": address, "Name": address.split("@")[0],
                 "EwsEnabled": self.state.mailboxes.get(address)}]

    def _set_cas(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        address = self._mailbox(p.get("Identity"))
        if "EwsEnabled" in p:
            self.state.mailboxes[address] = _boolean(p["EwsEnabled"], "EwsEnabled")
        return []

    def _mailbox(self, raw: Any) -> str:
        address = str(raw or "").strip().lower()
        if not address or not self.mailbox_exists(address):
            raise EwsError("Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException",
                           f"The operation couldn't be performed because object '{raw}' couldn't be found "
                           f"on '{c.TENANT_DOMAIN}'.")
        return address

    # --- the gate --------------------------------------------------------------------------
    def decide(self, app_id: str, mailbox: str, user_agent: str = SYNC_USER_AGENT) -> Decision:
        """Whether an EWS request of ``app_id`` on ``mailbox`` gets in, and if not, why."""
        now = self.clock.now()
        if now >= SHUTDOWN:
            return Decision(False, "EWS in Exchange Online was shut down on 2027-04-01")
        enabled = self.enabled()
        if enabled is False:
            return Decision(False, "EWS is blocked in this tenant (EwsEnabled is False)")
        if self.state.mailboxes.get(mailbox.lower()) is False:
            return Decision(False, f"EWS is turned off for mailbox {mailbox} (Set-CASMailbox -EwsEnabled)")
        listed = [a.lower() for a in self.enforced_app_ids()]
        if enabled is True and listed and app_id.lower() not in listed:
            return Decision(False, f"app {app_id} is not on EWSAllowedAppIDs")
        agent = user_agent.lower()
        if self.state.policy == "EnforceAllowList" and not any(
                fnmatch.fnmatchcase(agent, pattern.lower()) for pattern in self.state.allow_list):
            return Decision(False, "the user agent is not on EwsAllowList (EnforceAllowList)")
        if self.state.policy == "EnforceBlockList" and any(
                fnmatch.fnmatchcase(agent, pattern.lower()) for pattern in self.state.block_list):
            return Decision(False, "the user agent is on EwsBlockList (EnforceBlockList)")
        return Decision(True, "admitted")


def _boolean(raw: Any, name: str) -> bool | None:
    if raw is None or isinstance(raw, bool):
        return raw
    text = str(raw).strip().lstrip("$").lower()
    if text in {"true", "false"}:
        return text == "true"
    if text in {"null", ""}:
        return None
    raise EwsError("System.Management.Automation.ParameterBindingException",
                   f"Cannot process argument transformation on parameter '{name}'. Cannot convert value "
                   f"\"{raw}\" to type \"System.Boolean\".")


def _policy(raw: Any) -> str | None:
    if raw is None or str(raw).strip() == "":
        return None
    for policy in _POLICIES:
        if str(raw).strip().lower() == policy.lower():
            return policy
    raise EwsError("System.Management.Automation.ParameterBindingException",
                   f"Cannot process argument transformation on parameter 'EwsApplicationAccessPolicy'. "
                   f"Unable to match the identifier name {raw} to a valid enumerator name. Specify one of "
                   "the following enumerator names and try again: EnforceAllowList, EnforceBlockList")


def _strings(raw: Any, name: str) -> list[str]:
    """A MultiValuedProperty given as a whole: it replaces the stored list."""
    if raw is None:
        return []
    if isinstance(raw, str):
        return [raw] if raw.strip() else []
    if isinstance(raw, list) and all(isinstance(v, str) for v in raw):
        return [v.strip() for v in raw if v.strip()]
    if isinstance(raw, Mapping):
        raise EwsError("System.Management.Automation.ParameterBindingException",
                       f"Cannot process argument transformation on parameter '{name}': give the whole list; "
                       "this parameter does not take Add/Remove.")
    raise EwsError("System.Management.Automation.ParameterBindingException",
                   f"Cannot process argument transformation on parameter '{name}'.")
