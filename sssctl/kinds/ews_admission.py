"""``ews_admission.<key>``: the app's client ID on the tenant's EWSAllowedAppIDs.

While an own-app profile talks EWS (until EWS in Exchange Online is shut down on
2027-04-01), a tenant that restricts EWS admits only the application IDs on
``EWSAllowedAppIDs`` (see :mod:`sssctl.kinds._control5.ews` for the sources). The list is
shared with every other EWS app of the tenant and ``Set-OrganizationConfig
-EwsAllowedAppIDs`` replaces it whole, so this kind:

* reads the whole list at plan time, adds only the app's ID and keeps every other entry;
* reads it again right before writing and refuses, naming the entries that appeared or
  disappeared, when someone changed it since the plan (the plan's list is the ETag);
* on destroy removes only its own entry, and only if sssctl added it;
* turns ``EwsEnabled`` on for the organization only when the config says
  ``ews_enabled = true`` (an org-wide decision), and never turns it back off;
* refuses to add the first entry to an empty list while EWS is on: an empty list lets
  every app in, a list of one shuts every other app out;
* shows a change it made within the last 24 hours as pending (Exchange documents up to
  24 hours before a list change takes effect), as RBAC propagation is shown.

The user-agent gate (``EwsApplicationAccessPolicy``) is reported, never changed: it is
about which clients may use EWS at all, not about this app.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sssctl.clients.errors import ClientError
from sssctl.config.model import Desired
from sssctl.engine.kind import Applied, Context, KindDefaults, KindSpec, Observed
from sssctl.engine.plan import Action, Change
from sssctl.kinds import _control5 as c5
from sssctl.kinds import _grants
from sssctl.kinds._control5 import ews
from sssctl.kinds._control5.graph import read_app
from sssctl.kinds._control5.names import iso
from sssctl.kinds.handoffs import AppIds

PREFIX = "ews_admission"
NAME = "ews_admission"


def address_of(key: str) -> str:
    return f"{PREFIX}.{key}"


def admitted(desired: Desired) -> list[str]:
    return [key for key, app in desired.app_registrations.items() if app.ews == "allow"]


def list_tag(app_ids: Sequence[str]) -> str:
    """The list as read, as an ETag: any change to it (order aside) changes the tag."""
    canonical = json.dumps(sorted(a.lower() for a in app_ids))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


class ListChangedSincePlan(RuntimeError):
    """Someone else changed EWSAllowedAppIDs between plan and apply."""


class EwsAdmissionKind(KindDefaults):
    spec = KindSpec(
        name=NAME,
        prefix=PREFIX,
        after=("app_registration",),
        services=frozenset({"graph", "exchange"}),
        grants=(_grants.READ_APPS, *_grants.EWS_READ, *_grants.EWS_WRITE),
        adopts_compliant=False,   # an entry found on the list may be someone else's: never ours to drop
    )

    def addresses(self, desired: Desired) -> list[str]:
        return [address_of(key) for key in admitted(desired)]

    def read(self, ctx: Context) -> Observed:
        if ctx.census:
            return _census(ctx)
        wanted = {address_of(k): k for k in admitted(ctx.desired)}
        recorded = {a: e for a, e in ctx.state.items() if e.get("kind") == NAME or a.startswith(f"{PREFIX}.")}
        for address in recorded:
            wanted.setdefault(address, address[len(PREFIX) + 1:])
        settings, unread = _settings(ctx, wanted)
        if settings is None:
            return Observed(objects={}, errors=unread, recorded=recorded)
        moment = ews.exchange_now(ctx)
        objects: dict[str, Mapping[str, Any] | None] = {}
        etags: dict[str, str | None] = {}
        errors: dict[str, str] = {}
        for address, key in wanted.items():
            managed = (recorded.get(address) or {}).get("managed") or {}
            try:
                app_id = _app_id(ctx, key) or managed.get("app_id")
            except ClientError as exc:
                errors[address] = f"the app registration could not be read: {exc}"
                continue
            objects[address] = {
                "app_id": app_id,
                "listed": bool(app_id) and settings.lists(str(app_id)),
                "ews_enabled": settings.enabled,
                "app_ids": list(settings.app_ids),
                "now": moment,
                "user_agent": ews.user_agent_warning(settings),
            }
            etags[address] = list_tag(settings.app_ids)
        return Observed(objects=objects, etags=etags, errors=errors, recorded=recorded)

    def diff(self, desired: Desired, observed: Observed) -> list[Change]:
        changes: list[Change] = []
        keys = admitted(desired)
        for key in keys:
            address = address_of(key)
            if address in observed.errors:
                changes.append(Change(address, Action.UNKNOWN, None, None, observed.errors[address]))
                continue
            live = dict(observed.objects.get(address) or {})
            recorded = (observed.recorded.get(address) or {}).get("managed") or {}
            changes.append(_admit(desired, key, live, recorded, observed.etags.get(address)))
        for address, found in sorted(observed.objects.items()):
            if address[len(PREFIX) + 1:] in keys or found is None:
                continue
            kept = (observed.recorded.get(address) or {}).get("managed") or {}
            changes.append(_withdraw(address, found, kept, observed.etags.get(address)))
        return changes

    def describe(self, observed: Observed) -> dict[str, Any]:
        """``ews = "allow"`` for an app found on the list; ``ews_enabled`` is an org-wide
        decision, so an export never writes it."""
        apps = {address[len(PREFIX) + 1:]: {"ews": "allow"}
                for address, found in sorted(observed.objects.items()) if (found or {}).get("listed")}
        return {"app_registrations": apps} if apps else {}

    def guard(self, ctx: Context, changes: Sequence[Change], observed: Mapping[str, Observed]) -> list[str]:
        return [f"{c.address}: {c.detail['refused']}" for c in changes
                if c.kind == NAME and c.detail.get("refused")]

    def apply(self, ctx: Context, change: Change) -> Applied:
        settings = ews.read_settings(ctx)
        planned = [str(a) for a in change.detail.get("app_ids") or []]
        if list_tag(settings.app_ids) != change.etag:
            raise ListChangedSincePlan(_changed_since(change.address, planned, list(settings.app_ids)))
        app_id = str(change.detail.get("app_id") or "") or _app_id(ctx, str(change.detail["key"]))
        if not app_id:
            raise LookupError(f"{change.address}: the app registration does not exist yet")
        if change.action is Action.DELETE:
            kept = [a for a in settings.app_ids if a.lower() != app_id.lower()]
            _set(ctx, {"EwsAllowedAppIDs": ews.as_parameter(kept)})
            return Applied(change.address, managed=None, writes=1,
                           message=f"{app_id} removed from EWSAllowedAppIDs; {len(kept)} other entries kept")
        parameters: dict[str, Any] = {}
        if not settings.lists(app_id):
            parameters["EwsAllowedAppIDs"] = ews.as_parameter([*settings.app_ids, app_id])
        if change.detail.get("enable") and settings.enabled is not True:
            parameters["EwsEnabled"] = True
        if parameters:
            _set(ctx, parameters)
        after = ews.read_settings(ctx)
        if not after.lists(app_id) or (change.detail.get("enable") and after.enabled is not True):
            raise RuntimeError(f"{change.address}: Exchange took the change but does not show it "
                               f"({after.to_dict()}); nothing else will build on it")
        moment = ews.exchange_now(ctx)
        added = bool(parameters.get("EwsAllowedAppIDs")) or bool(change.detail.get("added_by_sssctl"))
        managed = {"app_id": app_id, "listed": True, "added_by_sssctl": added,
                   "changed_at": moment if parameters else change.detail.get("changed_at"),
                   "ews_enabled": after.enabled}
        return Applied(change.address, managed=managed, writes=1 if parameters else 0,
                       message=f"{app_id} on EWSAllowedAppIDs ({len(after.app_ids)} entries); Exchange "
                               "may take up to 24 hours to enforce it")


def _settings(ctx: Context, addresses: Iterable[str]) -> tuple[ews.EwsSettings | None, dict[str, str]]:
    """The tenant's EWS settings, or why each address cannot be judged (None when nothing asks)."""
    wanted = list(addresses)
    if not wanted:
        return None, {}
    try:
        return ews.read_settings(ctx), {}
    except (ClientError, ews.MalformedEwsSettings, RuntimeError) as exc:
        return None, dict.fromkeys(wanted, f"the tenant's EWS settings could not be read: {exc}")


def _census(ctx: Context) -> Observed:
    """Export: whether each app behind an existing custom profile is on the list."""
    if ctx.exchange is None:
        return Observed(objects={})
    apps = {str(f["key"]): str(f["app"]["appId"]) for f in c5.census_profiles(ctx).values()
            if f.get("key") is not None and f.get("app") is not None}
    settings, unread = _settings(ctx, [address_of(k) for k in apps])
    if settings is None:
        return Observed(objects={}, errors=unread)
    found = {address_of(k): {"app_id": a, "listed": settings.lists(a)} for k, a in apps.items()}
    return Observed(objects=dict(found))


def _app_id(ctx: Context, key: str) -> str | None:
    known = ctx.handoffs.get(AppIds, key)
    if known:
        return known.app_id
    return str((read_app(ctx, key) or {}).get("appId") or "") or None


def _admit(desired: Desired, key: str, live: Mapping[str, Any], recorded: Mapping[str, Any],
           etag: str | None) -> Change:
    address = address_of(key)
    app = desired.app_registrations[key]
    app_ids = list(live.get("app_ids") or [])
    mine = str(live.get("app_id") or "").lower()
    before = {"listed": bool(live.get("listed")), "ews_enabled": live.get("ews_enabled"),
              "other_entries": len([a for a in app_ids if a.lower() != mine])}
    after = {**before, "listed": True, **({"ews_enabled": True} if app.ews_enabled else {})}
    detail = {"key": key, "app_id": live.get("app_id"), "app_ids": app_ids, "enable": app.ews_enabled,
              "added_by_sssctl": bool(recorded.get("added_by_sssctl")),
              "changed_at": recorded.get("changed_at")}
    if before == after:
        changed = recorded.get("changed_at")
        moment = float(live.get("now") or 0)
        if isinstance(changed, (int, float)) and moment < changed + ews.PROPAGATION_SECONDS:
            return Change(address, Action.NOOP, before, after,
                          f"on EWSAllowedAppIDs since {iso(changed)}; Exchange may take up to 24 hours "
                          "to enforce a list change", etag, detail, pending=True)
        return Change(address, Action.NOOP, before, after, "the app is on EWSAllowedAppIDs", etag, detail)
    enabled = live.get("ews_enabled")
    if enabled is True and not app_ids and not before["listed"]:
        reason = ("refusing to add the first entry to EWSAllowedAppIDs: an empty list lets every app use "
                  "EWS, a list of one would shut every other EWS app of the tenant out. Add the other apps' "
                  "IDs first (Set-OrganizationConfig -EwsAllowedAppIDs), then plan again")
        return Change(address, Action.UPDATE, before, after, "refused (see below)", etag,
                      {**detail, "refused": reason})
    words = ["add the app's client ID to EWSAllowedAppIDs, keeping the other "
             f"{before['other_entries']} entries"] if not before["listed"] else []
    if app.ews_enabled and enabled is not True:
        words.append("turn EWS on for the organization (ews_enabled = true)")
    elif enabled is not True and not app.ews_enabled:
        words.append(f"note: EwsEnabled is {enabled}, so EWS stays blocked until it is true "
                     "(ews_enabled = true turns it on for the organization)")
    if live.get("user_agent"):
        words.append(f"check: {live['user_agent']}")
    return Change(address, Action.UPDATE, before, after, "; ".join(words), etag, detail)


def _withdraw(address: str, live: Mapping[str, Any], recorded: Mapping[str, Any], etag: str | None) -> Change:
    before = {"listed": bool(live.get("listed"))}
    detail = {"key": address[len(PREFIX) + 1:], "app_id": live.get("app_id") or recorded.get("app_id"),
              "app_ids": list(live.get("app_ids") or [])}
    if not live.get("listed") or not recorded.get("added_by_sssctl"):
        return Change(address, Action.NOOP, before, before,
                      "sssctl stops managing the EWS admission; an entry it did not add stays", etag, detail,
                      forget=True)
    return Change(address, Action.DELETE, before, {"listed": False},
                  "remove only this app's client ID from EWSAllowedAppIDs; every other entry and "
                  "EwsEnabled stay as they are", etag, detail)


def _changed_since(address: str, planned: Sequence[str], now: Sequence[str]) -> str:
    added = sorted({a.lower() for a in now} - {a.lower() for a in planned})
    removed = sorted({a.lower() for a in planned} - {a.lower() for a in now})
    parts = [f"added {', '.join(added)}"] if added else []
    parts += [f"removed {', '.join(removed)}"] if removed else []
    return (f"{address}: EWSAllowedAppIDs changed since the plan ({'; '.join(parts)}); sssctl writes the "
            "whole list, so it refuses rather than undo someone else's change. Plan again")


def _set(ctx: Context, parameters: Mapping[str, Any]) -> None:
    if ctx.exchange is None:
        raise RuntimeError("no Exchange admin API configured (SSSCTL_EXCHANGE_URL)")
    ctx.exchange.invoke("Set-OrganizationConfig", dict(parameters))


KIND = EwsAdmissionKind()
