"""``server_profile.custom["<name>"]``: an Exchange Online email server profile that signs
in with the customer's own app registration ("OAuth (Cross Tenant)").

The client secret is write-only in Dataverse, so drift on it is judged from what sssctl
recorded (the keyId it last gave the profile), from Graph (that keyId still exists and is
not due for rotation) and from ``isoauthclientsecretset``; the rule lives in
:func:`sssctl.kinds._control5.decide_secret` and is shared with ``app_registration``.
When a new secret is needed, the app registration's credential change (applied just
before, same run) leaves its text in a ``NewSecret`` hand-off; this kind writes it into
the profile, checks the profile reports it set, and only then removes the secrets the
profile held before (once every profile using that app holds the new one).

Restore/destroy deletes a profile only if sssctl created it, and :meth:`guard` refuses
while the organisation default or any mailbox still uses it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import structlog

from sssctl.clients.errors import ClientError, NotFound
from sssctl.config.model import CustomProfile, Desired
from sssctl.engine.kind import NOTE, Applied, Context, KindDefaults, KindSpec, Observed, Privilege
from sssctl.engine.plan import Action, Change
from sssctl.kinds import _control5 as c5
from sssctl.kinds import _grants
from sssctl.kinds._control5 import own_app
from sssctl.kinds._shared import (
    EXCHANGE_ONLINE_COLUMNS,
    PAGE_SIZE,
    READ_ORGANIZATION,
    READ_PROFILES,
    WRITE_PROFILES,
    read_organization,
)
from sssctl.kinds.handoffs import (
    AppIds,
    CanaryPlacements,
    MailboxMoves,
    NewSecret,
    ProfileApps,
    SecretHolders,
    WrittenProfile,
)
from sssctl.logging import register_secret

log = structlog.get_logger(__name__)

NAME = "server_profile_custom"
PREFIX = "server_profile.custom"
DEFAULT_PROFILE_NAME = "Microsoft Exchange Online"

_CREDENTIAL_LABELS = {
    7: "oauth_entra_id",
    2: "server_to_server",
    1: "profile_credentials",
    0: "user_credentials",
    6: "hybrid_modern_auth",
}


def _name(address: str) -> str:
    return address[len(PREFIX) + 2 : -2]


def _tenant(desired: Desired, profile: CustomProfile) -> str:
    return (profile.tenant_id or desired.environment.tenant_id or "").lower()


# --- read -----------------------------------------------------------------------------------------


def _usage(ctx: Context, profile_id: str) -> dict[str, Any]:
    """Who still uses a profile sssctl might delete: the org default and mailboxes (counted,
    so the guard can tell whether the plan moves every one of them)."""
    organization = read_organization(ctx)
    default = str(organization.get("_defaultemailserverprofileid_value") or "").lower() == profile_id
    rows = ctx.dataverse.query(
        "mailboxes", select=["mailboxid"], filter=f"_emailserverprofile_value eq {profile_id}",
        page_size=PAGE_SIZE,
    )
    return {"id": profile_id, "org_default": default, "mailboxes": sum(1 for _ in rows)}


def _still_used(ctx: Context, profile_id: str) -> list[str]:
    """Fresh, at apply time: what still points at the profile about to be deleted."""
    users = []
    organization = next(iter(ctx.dataverse.query(
        "organizations", select=["_defaultemailserverprofileid_value"], top=1)), {})
    if str(organization.get("_defaultemailserverprofileid_value") or "").lower() == profile_id.lower():
        users.append("the organization default")
    mailboxes = list(ctx.dataverse.query(
        "mailboxes", select=["mailboxid"], filter=f"_emailserverprofile_value eq {profile_id}", top=1))
    if mailboxes:
        users.append("mailboxes")
    return users


def _secret_view(ctx: Context, key: str) -> tuple[str | None, c5.SecretDecision]:
    """The app's id and the shared secret decision, as the app registration kind sees them."""
    app = c5.read_app(ctx, key)
    decision = c5.decide_secret(c5.secret_facts(ctx, key, app), c5.now(ctx), c5.rotate_days(ctx.desired, key))
    return (str(app["appId"]).lower() if app else None), decision


PROFILES = "profiles"   # the key of its ProfileApps hand-off


class ServerProfileCustomKind(KindDefaults):
    spec = KindSpec(
        name=NAME,
        prefix=PREFIX,
        after=("app_registration", "exchange_scope"),
        services=frozenset({"dataverse", "graph"}),
        privileges=(READ_ORGANIZATION, READ_PROFILES, WRITE_PROFILES,
                    Privilege("prvCreateEmailServerProfile", "create custom email server profiles")),
        grants=(_grants.READ_APPS,),
        adopts_compliant=False,
        checks=own_app.AUDIT_CHECKS,
    )

    def addresses(self, desired: Desired) -> list[str]:
        return [c5.profile_address(n) for n in sorted(desired.custom_profiles)]

    def read(self, ctx: Context) -> Observed:
        recorded = {a: e for a, e in ctx.state.items() if e.get("kind") == NAME}
        ctx.handoffs.put(PROFILES, ProfileApps(
            recorded={a: str(key) for a, e in recorded.items()
                      if (key := (e.get("fingerprints") or {}).get("app_key")) is not None},
            wanted={c5.profile_address(name): profile.app_registration
                    for name, profile in ctx.desired.custom_profiles.items()},
        ))
        if ctx.census:
            return Observed(objects={}, extra={"census": c5.census_profiles(ctx)})
        names = sorted(set(ctx.desired.custom_profiles) | {_name(a) for a in recorded})
        objects: dict[str, Any] = {}
        etags: dict[str, str | None] = {}
        errors: dict[str, str] = {}
        extra: dict[str, Any] = {"profiles": {}, "secrets": {}, "usage": {}, "referenced": {}}
        for name in names:
            address = c5.profile_address(name)
            try:
                row = c5.read_profile_rows(ctx, [name])[name]
                objects[address] = {"row": row}
                etags[address] = str(row.get("@odata.etag")) if row and row.get("@odata.etag") else None
                extra["profiles"][name] = _summary(row)
                profile = ctx.desired.custom_profiles.get(name)
                if profile is not None:
                    app_id, decision = _secret_view(ctx, profile.app_registration)
                    objects[address] = {"row": row, "app_id": app_id}
                    extra["secrets"][name] = {
                        "reason": decision.reason,
                        "current": c5.describe_credential(decision.current),
                    }
                elif row is not None:
                    extra["usage"][name] = _usage(ctx, str(row["emailserverprofileid"]).lower())
            except (ClientError, LookupError, ValueError, RuntimeError) as exc:
                errors[address] = str(exc)
        extra["referenced"] = _referenced(ctx, extra["profiles"])
        return Observed(objects=objects, etags=etags, errors=errors, recorded=recorded, extra=extra)

    # --- diff ---------------------------------------------------------------------------------------

    def diff(self, desired: Desired, observed: Observed) -> list[Change]:
        names = sorted(set(desired.custom_profiles) | {_name(a) for a in observed.recorded})
        return [self._diff_one(desired, observed, name) for name in names]

    def _diff_one(self, desired: Desired, observed: Observed, name: str) -> Change:
        address = c5.profile_address(name)
        if address in observed.errors:
            return Change(address, Action.UNKNOWN, None, None, observed.errors[address])
        found = observed.objects.get(address) or {}
        row = found.get("row")
        etag = observed.etags.get(address)
        recorded = observed.recorded.get(address)
        profile = desired.custom_profiles.get(name)
        if profile is None:
            return _restore(address, name, row, etag, recorded)
        secret = observed.extra.get("secrets", {}).get(name) or {}
        before = _managed_now(row, recorded, secret.get("current"))
        after = _managed_wanted(desired, profile, found.get("app_id"), secret)
        detail: dict[str, Any] = {
            "name": name,
            "app_key": profile.app_registration,
            "profile_id": str(row["emailserverprofileid"]) if row else None,
            "tenant_id": _tenant(desired, profile),
            "new_secret": bool(secret.get("reason")),
            "sharing": c5.profiles_using(desired, profile.app_registration),
        }
        if row is None:
            return Change(address, Action.CREATE, None, after, "the profile does not exist", detail=detail)
        changed = [k for k in after if _norm(after[k]) != _norm(before.get(k))]
        if not changed:
            return Change(address, Action.NOOP, before, after, "up to date", etag=etag, detail=detail)
        reason = (
            f"new client secret: {secret['reason']}"
            if detail["new_secret"]
            else "differs: " + ", ".join(changed)
        )
        return Change(address, Action.UPDATE, before, after, reason, etag=etag, detail=detail)

    # --- apply --------------------------------------------------------------------------------------

    def apply(self, ctx: Context, change: Change) -> Applied:
        if change.action is Action.DELETE:
            return _delete(ctx, change)
        if change.restore:
            return _restore_apply(ctx, change)
        return _write(ctx, change)

    def describe(self, observed: Observed) -> dict[str, Any]:
        """Profiles that sign in with an app sssctl created; the others as a comment, since
        format v1 can only describe a profile together with its app registration."""
        custom: dict[str, Any] = {}
        notes: list[str] = []
        for name, found in sorted(observed.extra.get("census", {}).items()):
            row = found["row"]
            if found.get("key") is None:
                notes.append(f"Custom profile {name!r} is not exported: {found.get('why')}.")
                continue
            section = {"type": "exchange_online", "app_registration": found["key"]}
            if row.get("exchangeonlinetenantid"):
                section["tenant_id"] = str(row["exchangeonlinetenantid"]).lower()
            if row.get("statecode") not in (0, None):
                section[NOTE] = ["Inactive in Dataverse; format v1 has no setting for that."]
            custom[name] = section
        out: dict[str, Any] = {"server_profiles": {"custom": custom}} if custom else {}
        if notes:
            out[NOTE] = notes
        return out

    def guard(self, ctx: Context, changes: Sequence[Change], observed: Mapping[str, Observed]) -> list[str]:
        mine = observed.get(NAME)
        extra = mine.extra if mine is not None else {}
        refusals: list[str] = []
        by_address = {c.address: c for c in changes}
        for change in changes:
            if change.address.startswith(PREFIX) and change.action is Action.DELETE:
                name = _name(change.address)
                usage = _left_after(name, extra.get("usage", {}).get(name) or {}, by_address,
                                    ctx.handoffs.get(MailboxMoves, "mailboxes"),
                                    ctx.handoffs.get(CanaryPlacements, "canary"))
                if usage.get("org_default") or usage.get("mailboxes"):
                    refusals.append(_in_use_message(name, usage))
        wanted = ctx.desired.mailbox_defaults.server_profile if ctx.desired.mailbox_defaults else None
        if wanted and wanted.strip().lower() not in ("default", DEFAULT_PROFILE_NAME.lower()):
            refusals += _missing_profile(wanted, ctx.desired, by_address, extra)
        return refusals


# --- values ----------------------------------------------------------------------------------------


def _summary(row: Mapping[str, Any] | None) -> dict[str, Any]:
    if row is None:
        return {"exists": False, "id": None, "active": False}
    return {"exists": True, "id": str(row["emailserverprofileid"]), "active": row.get("statecode") == 0}


def _authentication(row: Mapping[str, Any]) -> str:
    values = {row.get("incomingcredentialretrieval"), row.get("outgoingcredentialretrieval")}
    protocols = {row.get("incomingauthenticationprotocol"), row.get("outgoingauthenticationprotocol")}
    if values == {7} and protocols == {4}:
        return "oauth_entra_id"
    return "/".join(sorted(_CREDENTIAL_LABELS.get(v, f"unknown ({v})") for v in values if v is not None))


def _connection(row: Mapping[str, Any]) -> str:
    """The fixed Exchange Online columns in one word: ``exchange_online`` or what differs."""
    off = [col for col, value in EXCHANGE_ONLINE_COLUMNS.items() if _norm(row.get(col)) != _norm(value)]
    return "exchange_online" if not off else "differs: " + ", ".join(off)


def _managed_now(
    row: Mapping[str, Any] | None, recorded: Mapping[str, Any] | None, current: str | None
) -> dict[str, Any]:
    if row is None:
        return {}
    tenant = "" if row.get("usedefaulttenantid") else str(row.get("exchangeonlinetenantid") or "").lower()
    held = ((recorded or {}).get("fingerprints") or {}).get("secret_key_id")
    secret = None
    if row.get("isoauthclientsecretset"):
        secret = current or (f"keyId {held} (no longer on the app)" if held else "set, but not by sssctl")
    return {
        "type": _connection(row),
        "authentication": _authentication(row),
        "client_id": str(row.get("oauthclientid") or "").lower() or None,
        "tenant_id": tenant or None,
        "active": row.get("statecode") == 0,
        "secret": secret,
    }


def _managed_wanted(
    desired: Desired, profile: CustomProfile, app_id: str | None, secret: Mapping[str, Any]
) -> dict[str, Any]:
    new = secret.get("reason")
    return {
        "type": "exchange_online",
        "authentication": "oauth_entra_id",
        "client_id": app_id or f"(app id of app_registration.{profile.app_registration}, known after apply)",
        "tenant_id": _tenant(desired, profile) or None,
        "active": True,
        "secret": f"new secret from app_registration.{profile.app_registration}"
        if new
        else secret.get("current"),
    }


def _norm(value: Any) -> Any:
    if isinstance(value, str):
        lowered = value.strip().lower()
        return {"true": True, "false": False}.get(lowered, lowered)
    return value


def _referenced(ctx: Context, known: Mapping[str, Any]) -> dict[str, bool]:
    """Does the profile mailbox_defaults names exist (for the guard)?"""
    wanted = ctx.desired.mailbox_defaults.server_profile if ctx.desired.mailbox_defaults else None
    if not wanted or wanted.strip().lower() == "default" or wanted in known:
        return {}
    try:
        rows = c5.read_profile_rows(ctx, [wanted])
    except (ClientError, LookupError):
        return {}
    return {wanted: rows[wanted] is not None}


def _left_after(
    name: str, usage: Mapping[str, Any], changes: Mapping[str, Change], moves: MailboxMoves | None,
    canaries: CanaryPlacements | None,
) -> dict[str, Any]:
    """What still uses the profile once the plan's earlier changes are applied.

    The org default leaves it when the plan's ``mailbox_defaults`` change names another
    profile; mailboxes leave it when the ``mailboxes`` change moves every one of them (the
    mailbox policy hands over how many it moves off each profile), and the canary mailbox
    when the canary's tear-down puts it back where it was (the canary hands over which
    profile its mailbox is on). Anything left refuses the deletion: a mailbox must never
    point at a deleted profile or at an app that is gone.
    """
    left = dict(usage)
    defaults = changes.get("mailbox_defaults")
    if defaults is not None and defaults.action is Action.UPDATE:
        moved_to = str((defaults.after or {}).get("server_profile") or name)
        left["org_default"] = left.get("org_default") and moved_to.strip().lower() == name.lower()
    policy = changes.get("mailboxes")
    revert = policy is not None and policy.action is Action.UPDATE
    if revert and moves is not None:
        moved = int(moves.leaving.get(str(usage.get("id") or "").lower(), 0))
        left["mailboxes"] = max(0, int(left.get("mailboxes") or 0) - moved)
    # The mailbox policy's count already includes the canary mailbox when it moves mailboxes
    # off the profile; only without such a move does the canary's own tear-down count.
    on_profile = canaries.on_profile if canaries is not None else {}
    standing_down = sum(1 for c in changes.values()
                        if c.kind == "canary" and c.action is Action.DELETE
                        and on_profile.get(c.address, "").lower() == name.lower())
    if not revert:
        left["mailboxes"] = max(0, int(left.get("mailboxes") or 0) - standing_down)
    return left


def _in_use_message(name: str, usage: Mapping[str, Any]) -> str:
    users = []
    if usage.get("org_default"):
        users.append("it is the organisation's default profile for new mailboxes")
    if usage.get("mailboxes"):
        users.append(f"{usage['mailboxes']} mailboxes would still point at it after this plan")
    return (
        f'refusing to delete server_profile.custom["{name}"]: {" and ".join(users)}. '
        "Point mailbox_defaults.server_profile and the mailboxes at another profile, apply that, "
        "then remove this profile."
    )


def _missing_profile(
    wanted: str, desired: Desired, changes: Mapping[str, Change], extra: Mapping[str, Any]
) -> list[str]:
    match = next((n for n in desired.custom_profiles if n.lower() == wanted.strip().lower()), None)
    if match is not None:
        change = changes.get(c5.profile_address(match))
        if change is None or change.action is not Action.DELETE:
            return []
    elif extra.get("referenced", {}).get(wanted, True):
        return []
    return [
        f"refusing: mailbox_defaults.server_profile names {wanted!r}, a profile that neither exists "
        f'nor is created by this plan; declare it under [server_profiles.custom."{wanted}"] or fix the name'
    ]


# --- apply helpers -----------------------------------------------------------------------------------


def _app_id_now(ctx: Context, key: str) -> str:
    known = ctx.handoffs.get(AppIds, key)
    if known:
        return known.app_id.lower()
    app = c5.read_app(ctx, key)
    if app is None:
        raise LookupError(f"app registration {key!r} does not exist; apply its change first")
    return str(app["appId"]).lower()


def _secret_now(ctx: Context, key: str) -> NewSecret:
    secret = ctx.handoffs.get(NewSecret, key)
    if secret is None:
        raise LookupError(
            f"the new client secret of app_registration.{key} was not created in this run "
            f"(its credential change failed or was not targeted); run apply again without --target"
        )
    register_secret(secret.text)
    return secret


def _body(ctx: Context, change: Change, with_secret: NewSecret | None) -> dict[str, Any]:
    detail = change.detail
    body: dict[str, Any] = dict(EXCHANGE_ONLINE_COLUMNS)
    body.update(
        exchangeonlinetenantid=detail["tenant_id"],
        oauthclientid=_app_id_now(ctx, str(detail["app_key"])),
    )
    if change.action is Action.UPDATE:
        # A new record starts active; state columns belong to updates (SetState via PATCH).
        body.update(statecode=0, statuscode=1)
    if with_secret is not None:
        body["oauthclientsecret"] = with_secret.text
    return body


def _write(ctx: Context, change: Change) -> Applied:
    detail = change.detail
    key = str(detail["app_key"])
    secret = _secret_now(ctx, key) if detail.get("new_secret") else None
    if secret is not None:
        c5.require_on_app(ctx, key, secret.fingerprint["key_id"])
    body = _body(ctx, change, secret)
    if change.action is Action.CREATE:
        profile_id = str(ctx.dataverse.create("emailserverprofiles", {"name": detail["name"], **body}))
    else:
        profile_id = str(detail["profile_id"])
        ctx.dataverse.update("emailserverprofiles", profile_id, body, if_match=change.etag)
    ctx.reads.forget("emailserverprofiles")  # the shared profile list is stale now
    ctx.handoffs.put(str(detail["name"]).lower(), WrittenProfile(profile_id))
    writes = 1
    fingerprints = dict((ctx.state.get(change.address) or {}).get("fingerprints") or {})
    fingerprints.update(app_key=key, profile_id=profile_id)
    if secret is not None:
        _verify_secret_set(ctx, profile_id, str(detail["name"]))
        fingerprints.update(
            secret_key_id=secret.fingerprint["key_id"],
            secret_hint=secret.fingerprint["hint"],
            secret_expires=secret.fingerprint["expires"],
        )
        writes += _retire_old_secrets(ctx, change, secret.fingerprint["key_id"])
    managed = {k: v for k, v in (change.after or {}).items() if k != "secret"}
    managed["client_id"] = body["oauthclientid"]
    log.info("server_profile.written", address=change.address, writes=writes)
    return Applied(
        change.address,
        managed=managed,
        fingerprints=fingerprints,
        writes=writes,
        message="profile written" + (" with a new secret" if secret else ""),
    )


def _verify_secret_set(ctx: Context, profile_id: str, name: str) -> None:
    row = ctx.dataverse.get("emailserverprofiles", profile_id, select=["isoauthclientsecretset"])
    if not (row or {}).get("isoauthclientsecretset"):
        raise RuntimeError(
            f"server profile {name!r} does not report its client secret as set after the update; "
            "the previous secret was kept on the app registration"
        )


def _retire_old_secrets(ctx: Context, change: Change, new_key_id: str) -> int:
    """Once every profile sharing the app holds the new secret, remove the other sssctl ones."""
    key = str(change.detail["app_key"])
    holders = ctx.handoffs.setdefault(key, SecretHolders()).key_id_by_profile
    holders[str(change.detail["name"])] = new_key_id
    if any(holders.get(n) != new_key_id for n in change.detail.get("sharing", [])):
        return 0
    app = c5.read_app(ctx, key)
    if app is None:
        return 0
    entry = ctx.state.get(c5.credential_address(key)) or {}
    recorded = {str(k): str(v) for k, v in (entry.get("fingerprints") or {}).items()}
    old = [
        str(c["keyId"])
        for c in app.get("passwordCredentials") or []
        if c5.created_by_sssctl(c, recorded) and str(c["keyId"]).lower() != new_key_id.lower()
    ]
    try:
        return c5.remove_credentials(ctx, str(app["id"]), old, app_key=key)
    except ClientError as exc:
        # The profile already holds the new secret; failing now would lose that fact.
        # The leftovers are removed by the credential change of the next run.
        log.warning("credential.retire_failed", app=key, error=str(exc))
        return 0


def _restore(
    address: str,
    name: str,
    row: Mapping[str, Any] | None,
    etag: str | None,
    recorded: Mapping[str, Any] | None,
) -> Change:
    held = ((recorded or {}).get("fingerprints") or {}).get("secret_key_id")
    before = _managed_now(row, recorded, f"keyId {held}" if held else None) or None
    detail: dict[str, Any] = {"name": name, "profile_id": str(row["emailserverprofileid"]) if row else None}
    if recorded is None or row is None:
        return Change(
            address,
            Action.NOOP,
            before,
            before,
            "not managed",
            etag=etag,
            detail=detail, forget=recorded is not None,
        )
    original = recorded.get("original")
    if original is None:
        return Change(
            address,
            Action.DELETE,
            before,
            None,
            "no longer in the config: sssctl created it, so the custom profile is deleted, after the "
            "organization default and every mailbox have left it and before its app and secret go",
            etag=etag,
            detail=detail,
        )
    after = {k: original.get(k) for k in ("client_id", "tenant_id", "active")}
    return Change(
        address,
        Action.UPDATE,
        before,
        after,
        "restore the values found before sssctl managed it (the secret cannot be restored)",
        etag=etag,
        detail=detail, restore=True,
    )


def _restore_apply(ctx: Context, change: Change) -> Applied:
    after = change.after or {}
    body: dict[str, Any] = {"oauthclientid": after.get("client_id")}
    if after.get("tenant_id"):
        body.update(exchangeonlinetenantid=after["tenant_id"], usedefaulttenantid=False)
    else:
        body["usedefaulttenantid"] = True
    body.update(
        statecode=0 if after.get("active", True) else 1, statuscode=1 if after.get("active", True) else 2
    )
    ctx.dataverse.update("emailserverprofiles", str(change.detail["profile_id"]), body, if_match=change.etag)
    return Applied(change.address, managed=None, writes=1, message="restored")


def _delete(ctx: Context, change: Change) -> Applied:
    users = _still_used(ctx, str(change.detail["profile_id"]))
    if users:
        raise RuntimeError(
            f"{change.address} was not deleted: {' and '.join(users)} still point at it; "
            "its app registration and secret are kept. Move them to another profile and run apply again"
        )
    try:
        ctx.dataverse.delete("emailserverprofiles", str(change.detail["profile_id"]), if_match=change.etag)
    except NotFound:
        return Applied(change.address, managed=None, message="already gone")
    ctx.reads.forget("emailserverprofiles")
    return Applied(change.address, managed=None, writes=1, message="profile deleted")


KIND = ServerProfileCustomKind()
