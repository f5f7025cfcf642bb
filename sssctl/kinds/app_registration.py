"""``app_registration.<key>``: the customer's own Entra app behind a custom Exchange profile.

Two addresses per app, checkpointed separately so a crash never loses track of a secret:

* ``app_registration.<key>``: the application (upserted by ``uniqueName``, see
  :mod:`sssctl.kinds._control5`), its service principal, the declared permissions
  (``requiredResourceAccess``, replaced wholesale) and their admin consent (app-role
  assignments on each resource's service principal; assignments the config no longer
  lists are revoked). For an app with a ``mailbox_scope``, the consent of mailbox
  permissions is left to ``exchange_scope.<key>`` (:mod:`sssctl.kinds._control5.consent`).
* ``app_registration.<key>.credential``: the client secret. Its change creates a new
  secret (``addPassword``) when :func:`~sssctl.kinds._control5.decide_secret` says so,
  hands the text to the server profile through a ``NewSecret`` hand-off and records the new keyId in
  state *before* the profile is touched; or it removes leftover sssctl secrets nobody
  uses. The old secret the profile held is removed by the profile's change once the
  profile holds the new one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import structlog

from sssctl.clients.errors import ClientError, GraphConflict, GraphNotFound
from sssctl.config.model import AppRegistration, Desired
from sssctl.engine.kind import Applied, Context, KindDefaults, KindSpec, Observed
from sssctl.engine.plan import Action, Change
from sssctl.kinds import _control5 as c5
from sssctl.kinds import _grants
from sssctl.kinds._control5 import consent, rbac
from sssctl.kinds.handoffs import AppIds, CreatedThisRun, NewSecret, ProfileApps
from sssctl.logging import register_secret

log = structlog.get_logger(__name__)

NAME = "app_registration"
CREDENTIAL_SUFFIX = ".credential"


def _is_credential(address: str) -> bool:
    return address.endswith(CREDENTIAL_SUFFIX)


def _key(address: str) -> str:
    key = c5.key_of_address(address, NAME)
    return key[: -len(CREDENTIAL_SUFFIX)] if _is_credential(address) else key


# --- read -------------------------------------------------------------------------------------


def _assignments(ctx: Context, sp_id: str) -> list[dict[str, Any]]:
    return [dict(a) for a in c5.require_graph(ctx).list(f"servicePrincipals/{sp_id}/appRoleAssignments")]


def _read_one(ctx: Context, key: str, wanted: Sequence[str]) -> dict[str, Any]:
    """Everything about one app, in the user's words plus the ids apply needs."""
    app = c5.read_app(ctx, key)
    resolved = c5.resolve_permissions(ctx, wanted)
    found: dict[str, Any] = {
        "app": app,
        "wanted": [p.__dict__ for p in resolved],
        "service_principal_id": None,
        "assignments": [],
    }
    if app is None:
        return found
    sp = c5.get_or_none(
        c5.require_graph(ctx), f"servicePrincipals(appId={c5.odata_string(str(app['appId']))})"
    )
    if sp is not None:
        found["service_principal_id"] = str(sp["id"])
        found["assignments"] = [
            {
                "id": str(a["id"]),
                "resource_sp_id": str(a["resourceId"]),
                "role_id": str(a["appRoleId"]),
                "name": _assignment_name(ctx, a),
            }
            for a in _assignments(ctx, str(sp["id"]))
        ]
    return found


def _assignment_name(ctx: Context, assignment: Mapping[str, Any]) -> str:
    """An app-role assignment by permission name, whichever resource it is on."""
    resource = c5.read_resource_by_id(ctx, str(assignment.get("resourceId")))
    if resource is None:
        return f"{assignment.get('resourceId')}:{assignment.get('appRoleId')}"
    return c5.role_name(ctx, str(resource["appId"]).lower(), str(assignment.get("appRoleId")))


def _target(desired: Desired, recorded: Mapping[str, Any] | None, key: str) -> tuple[str, list[str]] | None:
    """(display name, permission names) to converge to: the config, or the original on restore."""
    app = desired.app_registrations.get(key)
    if app is not None:
        return app.display_name, list(app.permissions)
    original = (recorded or {}).get("original")
    if original:
        return str(original.get("display_name", "")), list(original.get("permissions") or [])
    return None


def _census(ctx: Context) -> Observed:
    """Apps behind the custom profiles that exist (export); only those sssctl created."""
    objects: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for found in c5.census_profiles(ctx).values():
        key = found.get("key")
        if key is None or c5.app_address(key) in objects:
            continue
        try:
            objects[c5.app_address(key)] = {"app": found["app"],
                                            "declared": c5.declared_permissions(ctx, found["app"])}
        except (ClientError, LookupError, ValueError, RuntimeError) as exc:
            errors[c5.app_address(key)] = str(exc)
    return Observed(objects=objects, errors=errors)


class AppRegistrationKind(KindDefaults):
    spec = KindSpec(
        name=NAME,
        prefix="app_registration",
        services=frozenset({"graph"}),
        grants=(_grants.READ_APPS, _grants.WRITE_OWN_APPS,
                _grants.consent("grant or revoke admin consent of the app's permissions",
                                _grants.app_consents)),
        adopts_compliant=False,
    )

    def addresses(self, desired: Desired) -> list[str]:
        out: list[str] = []
        for key in sorted(desired.app_registrations):
            out += [c5.app_address(key), c5.credential_address(key)]
        return out

    def read(self, ctx: Context) -> Observed:
        if ctx.census:
            return _census(ctx)
        recorded = {a: e for a, e in ctx.state.items() if e.get("kind") == NAME}
        keys = set(ctx.desired.app_registrations) | {_key(a) for a in recorded}
        objects: dict[str, Any] = {}
        errors: dict[str, str] = {}
        extra: dict[str, Any] = {"unique_names": {}, "secrets": {}, "at": c5.now(ctx)}
        for key in sorted(keys):
            address = c5.app_address(key)
            extra["unique_names"][key] = c5.unique_name(ctx.desired, key)
            target = _target(ctx.desired, recorded.get(address), key)
            try:
                found = _read_one(ctx, key, target[1] if target else [])
                found["declared"] = c5.declared_permissions(ctx, found["app"]) if found["app"] else []
                objects[address] = found
                facts = c5.secret_facts(ctx, key, found["app"])
                decision = c5.decide_secret(facts, extra["at"], c5.rotate_days(ctx.desired, key))
                extra["secrets"][key] = _decision_dict(decision, facts)
                objects[c5.credential_address(key)] = {"credentials": facts.credentials}
            except (ClientError, LookupError, ValueError, RuntimeError) as exc:
                errors[address] = str(exc)
                errors[c5.credential_address(key)] = f"app registration {key!r} could not be read: {exc}"
        return Observed(objects=objects, errors=errors, recorded=recorded, extra=extra)

    # --- diff ---------------------------------------------------------------------------------

    def diff(self, desired: Desired, observed: Observed) -> list[Change]:
        keys = set(desired.app_registrations) | {_key(a) for a in observed.recorded}
        changes: list[Change] = []
        for key in sorted(keys):
            pair = [self._diff_app(desired, observed, key), self._diff_credential(desired, observed, key)]
            # Torn down backwards: the secret is removed before the app that holds it.
            changes += pair if key in desired.app_registrations else pair[::-1]
        return changes

    def _diff_app(self, desired: Desired, observed: Observed, key: str) -> Change:
        address = c5.app_address(key)
        recorded = observed.recorded.get(address)
        if address in observed.errors:
            return Change(address, Action.UNKNOWN, None, None, observed.errors[address])
        found = observed.objects.get(address) or {}
        before = _managed_now(found)
        target = _target(desired, recorded, key)
        detail: dict[str, Any] = {"key": key, "unique_name": observed.extra.get("unique_names", {}).get(key)}
        if key not in desired.app_registrations:
            if recorded is None:
                return Change(address, Action.NOOP, before, before, "not managed", detail=detail)
            if before is None:
                return _forget(address, "no longer in the config and already gone from Entra ID", detail)
            if recorded.get("original") is None:
                reason = (
                    "no longer in the config: sssctl created it, so the app registration is deleted with its "
                    "service principal and admin consent, last, once no custom profile signs in with it"
                )
                return Change(address, Action.DELETE, before, None, reason, detail=detail)
        if target is None:
            return Change(address, Action.NOOP, before, before, "nothing recorded to restore", detail=detail)
        wanted = sorted(p["name"] for p in found.get("wanted", []))
        scoped = _scope_owns_mailbox_consent(desired, key)
        consented = [w for w in wanted if not (scoped and rbac.is_mailbox_permission(w))]
        after = {
            "display_name": target[0],
            "permissions": wanted,
            "consented": consented,
            "service_principal": True,
        }
        detail["wanted"] = found.get("wanted", [])
        detail["to_consent"] = [p for p in detail["wanted"] if p["name"] in consented]
        if scoped and before is not None:
            # Tenant-wide mailbox consent is the mailbox scope's to grant (after its access
            # policy exists) and to remove (after its RBAC role assignments exist); see
            # :mod:`sssctl.kinds._control5.consent`.
            kept = [c for c in before["consented"] if not rbac.is_mailbox_permission(c)]
            before = {**before, "consented": kept}
            detail["left_to_scope"] = [[a["resource_sp_id"], a["role_id"]]
                                       for a in found.get("assignments", [])
                                       if rbac.is_mailbox_permission(a["name"])]
        elevation = _consent_elevation(before, after)
        if before is None:
            return Change(address, Action.CREATE, None, after, "the app registration does not exist",
                          detail=detail, elevation=elevation)
        if _normalised(before) == _normalised(after):
            return Change(address, Action.NOOP, before, after, "up to date", detail=detail)
        if key not in desired.app_registrations:
            # A restore tears down: it runs after the mailbox scope has put back the access
            # policy it found, so the consent it grants again is never unscoped meanwhile.
            return Change(address, Action.UPDATE, before, after,
                          "restore the values found before sssctl managed it", detail=detail, restore=True,
                          elevation=elevation)
        return Change(address, Action.UPDATE, before, after, _app_reason(before, after), detail=detail,
                      elevation=elevation)

    def _diff_credential(self, desired: Desired, observed: Observed, key: str) -> Change:
        address = c5.credential_address(key)
        recorded = observed.recorded.get(address)
        if address in observed.errors:
            return Change(address, Action.UNKNOWN, None, None, observed.errors[address])
        secret = observed.extra.get("secrets", {}).get(key) or {}
        app: AppRegistration | None = desired.app_registrations.get(key)
        before = _credential_before(recorded, secret)
        detail: dict[str, Any] = {"key": key, "remove_now": list(secret.get("remove_now", []))}
        if app is None:
            if recorded is None:
                return Change(address, Action.NOOP, before, before, "not managed", detail=detail)
            detail["remove_now"] = list(secret.get("ours", []))
            if not detail["remove_now"]:
                return _forget(address, "no secret created by sssctl is left on the app", detail)
            count = len(detail["remove_now"])
            return Change(
                address,
                Action.DELETE,
                before,
                None,
                f"the app registration is no longer managed: its {count} client secret(s) created by "
                "sssctl are removed, after the custom profile that held them is gone",
                detail=detail,
            )
        after = {"type": app.credential.type, "rotate_days": app.credential.rotate_days}
        if not secret.get("used"):
            after["secret"] = None
            reason = "no server profile uses this app, so sssctl keeps no secret for it"
        elif secret.get("reason"):
            lifetime = app.credential.rotate_days + c5.GRACE_DAYS
            after["secret"] = f"new secret, valid {lifetime} days"
            reason = f"new client secret: {secret['reason']}"
            detail.update(new_secret=True, lifetime_days=lifetime)
        else:
            after["secret"] = secret.get("current")
            reason = "up to date"
        if detail["remove_now"]:
            reason += f"; remove {len(detail['remove_now'])} leftover secret(s) created by sssctl"
        if before == after and not detail["remove_now"] and not detail.get("new_secret"):
            return Change(address, Action.NOOP, before, after, reason, detail=detail)
        action = Action.CREATE if before is None else Action.UPDATE
        return Change(address, action, before, after, reason, detail=detail)

    # --- apply --------------------------------------------------------------------------------

    def apply(self, ctx: Context, change: Change) -> Applied:
        if _is_credential(change.address):
            return _apply_credential(ctx, change)
        if change.action is Action.DELETE:
            return _delete_app(ctx, change)
        return _apply_app(ctx, change)

    def describe(self, observed: Observed) -> dict[str, Any]:
        """The apps sssctl created that custom profiles sign in with, as the config declares them."""
        apps: dict[str, Any] = {}
        for address, seen in sorted(observed.objects.items()):
            found = seen or {}
            app = found.get("app")
            if _is_credential(address) or not app:
                continue
            section: dict[str, Any] = {"display_name": str(app.get("displayName") or "")}
            if found.get("declared"):
                section["permissions"] = list(found["declared"])
            apps[_key(address)] = section
        return {"app_registrations": apps} if apps else {}

    def guard(self, ctx: Context, changes: Sequence[Change], observed: Mapping[str, Observed]) -> list[str]:
        """Refuse deleting an app that a server profile keeps using (sync would stop).

        Which app each profile signs in with, now and as the config wants it, comes from
        the custom-profile kind's :class:`ProfileApps` hand-off.
        """
        refusals: list[str] = []
        apps = ctx.handoffs.get(ProfileApps, "profiles") or ProfileApps(recorded={}, wanted={})
        for change in changes:
            if change.action is not Action.DELETE or _is_credential(change.address):
                continue
            key = _key(change.address)
            for address, signs_in_with in apps.recorded.items():
                change_of_profile = next((c for c in changes if c.address == address), None)
                if change_of_profile is not None and (
                    change_of_profile.action is Action.DELETE
                    or (change_of_profile.action is not Action.UNKNOWN
                        and apps.wanted.get(address) not in (None, key))
                ):
                    continue
                if signs_in_with == key:
                    refusals.append(
                        f"refusing to delete app_registration.{key}: {address} still signs in with it; "
                        "remove or repoint that profile in the same plan"
                    )
        return refusals


def _scope_owns_mailbox_consent(desired: Desired, key: str) -> bool:
    app = desired.app_registrations.get(key)
    return bool(app is not None and app.mailbox_scope is not None)


def _forget(address: str, reason: str, detail: Mapping[str, Any]) -> Change:
    """Nothing left to write: the engine just drops the address from state."""
    return Change(address, Action.NOOP, None, None, reason, detail=detail, forget=True)


# --- helpers: values ------------------------------------------------------------------------------


def _managed_now(found: Mapping[str, Any]) -> dict[str, Any] | None:
    app = found.get("app")
    if not app:
        return None
    return {
        "display_name": app.get("displayName"),
        "permissions": list(found.get("declared", [])),
        "consented": sorted(a["name"] for a in found.get("assignments", [])),
        "service_principal": found.get("service_principal_id") is not None,
    }


def _normalised(values: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "display_name": str(values.get("display_name") or ""),
        "permissions": sorted(str(p).lower() for p in values.get("permissions") or []),
        "consented": sorted(str(p).lower() for p in values.get("consented") or []),
        "service_principal": bool(values.get("service_principal")),
    }


def _consent_elevation(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> str:
    """Admin consent granted or revoked by this change needs a tier-0 right (see consent.elevation)."""
    have = {str(p).lower(): str(p) for p in (before or {}).get("consented") or []}
    want = {str(p).lower(): str(p) for p in after.get("consented") or []}
    granted = [want[p] for p in want if p not in have]
    return consent.elevation(granted, [have[p] for p in have if p not in want])


def _app_reason(before: Mapping[str, Any], after: Mapping[str, Any]) -> str:
    b, a = _normalised(before), _normalised(after)
    parts = [field.replace("_", " ") for field in a if a[field] != b[field]]
    return "differs: " + ", ".join(parts)


def _decision_dict(decision: c5.SecretDecision, facts: c5.SecretFacts) -> dict[str, Any]:
    return {
        "reason": decision.reason,
        "current": c5.describe_credential(decision.current),
        "remove_now": list(decision.remove_now),
        "retire": list(decision.retire),
        "used": bool(facts.profiles),
        "ours": [str(c["keyId"]) for c in facts.credentials if c5.created_by_sssctl(c, facts.recorded)],
    }


def _credential_before(
    recorded: Mapping[str, Any] | None, secret: Mapping[str, Any]
) -> dict[str, Any] | None:
    if recorded is None:
        return None
    managed = dict(recorded.get("managed") or {})
    managed["secret"] = secret.get("current")
    return managed


# --- helpers: apply the application -------------------------------------------------------------


def _upsert(ctx: Context, change: Change) -> tuple[dict[str, Any], bool]:
    """The app as written, and whether this write created it.

    Graph answers an upsert that created the app with the app itself (201); that answer is
    used as is, where a read moments after the create may not find the app yet (Entra
    replicates). An update answers 204 without a body, so the app is read then.
    """
    after = change.after or {}
    graph = c5.require_graph(ctx)
    perms = [c5.Permission(**p) for p in change.detail.get("wanted", [])]
    body = {
        "displayName": after.get("display_name"),
        "signInAudience": c5.SIGN_IN_AUDIENCE,
        "requiredResourceAccess": c5.required_resource_access(perms),
    }
    path = c5.app_path(ctx.desired, str(change.detail["key"]))
    created = graph.patch(path, body, headers={"Prefer": "create-if-missing"})
    if created is not None:
        return dict(created), True
    return dict(graph.get(path, wait_for_replication=True)), False


def _service_principal(ctx: Context, app_id: str, *, new_app: bool = False) -> tuple[str, int]:
    """The app's service principal id, created if missing. An app this run just created
    has none, so it is not looked for (a conflict still falls back to reading it)."""
    graph = c5.require_graph(ctx)
    path = f"servicePrincipals(appId={c5.odata_string(app_id)})"
    sp = None if new_app else c5.get_or_none(graph, path)
    if sp is not None:
        return str(sp["id"]), 0
    try:
        created = graph.post("servicePrincipals", {"appId": app_id}, wait_for_replication=True)
    except GraphConflict:
        return str(graph.get(path, wait_for_replication=True)["id"]), 0
    if not created:
        created = graph.get(path, wait_for_replication=True)
    return str(created["id"]), 1


def _consent(ctx: Context, sp_id: str, wanted: Sequence[Mapping[str, Any]], *, new_sp: bool,
             leave: Sequence[Sequence[str]] = ()) -> int:
    """Grant what is missing, revoke what the config no longer lists; duplicates are success.

    A service principal created moments ago has no assignments yet and may not even be
    listable while it replicates, so it is not asked. ``leave`` lists (resource, role)
    pairs another change removes in its own safe order.
    """
    graph = c5.require_graph(ctx)
    live = [] if new_sp else _assignments(ctx, sp_id)
    left = {(str(r).lower(), str(i).lower()) for r, i in leave}
    have = {(str(a["resourceId"]).lower(), str(a["appRoleId"]).lower()): a for a in live}
    have = {pair: a for pair, a in have.items() if pair not in left}
    want = {(str(p["resource_sp_id"]).lower(), str(p["role_id"]).lower()): p for p in wanted}
    writes = 0
    for pair, perm in want.items():
        if pair in have:
            continue
        consent.assign_role(ctx, sp_id, str(perm["resource_sp_id"]), str(perm["role_id"]))
        writes += 1
        log.info("consent.granted", permission=perm["name"])
    for pair, assignment in have.items():
        if pair not in want:
            try:
                graph.delete(
                    f"servicePrincipals/{assignment['resourceId']}/appRoleAssignedTo/{assignment['id']}"
                )
                writes += 1
            except GraphNotFound:
                pass
            log.info("consent.revoked", resource=assignment["resourceId"], role=assignment["appRoleId"])
    return writes


def _declaration_differs(before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    """Only the application object itself (name, declared permissions) needs the upsert."""
    if not before:
        return True
    b, a = _normalised(before), _normalised(after)
    return bool(b["display_name"] != a["display_name"] or b["permissions"] != a["permissions"])


def _apply_app(ctx: Context, change: Change) -> Applied:
    before = change.before or {}
    after = change.after or {}
    writes = 0
    key = str(change.detail["key"])
    new_app = False
    if _declaration_differs(before, after):
        app, new_app = _upsert(ctx, change)
        writes += 1
    else:
        app = dict(c5.require_graph(ctx).get(c5.app_path(ctx.desired, key), wait_for_replication=True))
    sp_id, created = _service_principal(ctx, str(app["appId"]), new_app=new_app)
    writes += created
    wanted = change.detail.get("to_consent", change.detail.get("wanted", []))
    writes += _consent(ctx, sp_id, wanted, new_sp=bool(created),
                       leave=change.detail.get("left_to_scope", ()))
    ctx.handoffs.put(key, AppIds(app_id=str(app["appId"]), object_id=str(app["id"])))
    log.info("app_registration.applied", address=change.address, writes=writes)
    return Applied(
        change.address,
        managed=None if change.restore else dict(after),
        fingerprints={"app_id": str(app["appId"]), "object_id": str(app["id"])},
        writes=writes,
        message=f"app {after.get('display_name')!r} ({app['appId']})",
    )


def _delete_app(ctx: Context, change: Change) -> Applied:
    graph = c5.require_graph(ctx)
    app = c5.read_app(ctx, str(change.detail["key"]))
    writes = 0
    if app is not None:
        sp = c5.get_or_none(graph, f"servicePrincipals(appId={c5.odata_string(str(app['appId']))})")
        for path in ([f"servicePrincipals/{sp['id']}"] if sp else []) + [f"applications/{app['id']}"]:
            try:
                graph.delete(path)
                writes += 1
            except GraphNotFound:
                pass
    return Applied(change.address, managed=None, writes=writes, message="app registration deleted")


# --- helpers: apply the credential ---------------------------------------------------------------


def _apply_credential(ctx: Context, change: Change) -> Applied:
    key = str(change.detail["key"])
    app = c5.read_app(ctx, key, expected=change.action is not Action.DELETE)
    if app is None:
        if change.action is Action.DELETE:
            return Applied(change.address, managed=None, message="went with the app registration")
        raise LookupError(f"app registration {key!r} does not exist; its own change must be applied first")
    object_id = str(app["id"])
    entry = ctx.state.get(change.address) or {}
    known = set(filter(None, str((entry.get("fingerprints") or {}).get("known_key_ids", "")).split(",")))
    live = {str(c.get("keyId")) for c in app.get("passwordCredentials") or []}
    writes = c5.remove_credentials(
        ctx, object_id, [k for k in change.detail.get("remove_now", []) if k in live], app_key=key
    )
    known -= set(change.detail.get("remove_now", []))
    if change.action is Action.DELETE:
        return Applied(change.address, managed=None, writes=writes, message="sssctl secrets removed")
    fingerprints = dict(entry.get("fingerprints") or {})
    if change.detail.get("new_secret"):
        created = _add_secret(ctx, key, object_id, int(change.detail["lifetime_days"]))
        writes += 1
        known.add(str(created["keyId"]))
        fingerprints.update(c5.fingerprint(created))
        fingerprints["latest_key_id"] = str(created["keyId"])
    fingerprints["known_key_ids"] = ",".join(
        sorted(k for k in known if k in live or k == fingerprints.get("latest_key_id"))
    )
    managed = {k: v for k, v in (change.after or {}).items() if k != "secret"}
    return Applied(
        change.address,
        managed=managed,
        fingerprints=fingerprints,
        writes=writes,
        message="new secret created" if change.detail.get("new_secret") else "secrets tidied",
    )


def _add_secret(ctx: Context, key: str, object_id: str, lifetime_days: int) -> dict[str, Any]:
    """addPassword; the text goes to a hand-off in memory only, registered for redaction at once.

    The Graph client has checked the answer against its model (a GUID keyId, non-empty
    text) before this sees it. The secret is marked as this run's so nothing in the run
    removes it; the profile takes the text only once the app, read back, shows the keyId
    (:func:`~sssctl.kinds._control5.secrets.require_on_app`).
    """
    at = c5.now(ctx)
    body = {
        "passwordCredential": {
            "displayName": f"{c5.CREDENTIAL_PREFIX} {key} {c5.day(at)}",
            "endDateTime": c5.iso(at + lifetime_days * c5.DAY),
        }
    }
    created = dict(c5.require_graph(ctx).post(f"applications/{object_id}/addPassword", body) or {})
    text = str(created.pop("secretText", "") or "")
    register_secret(text)
    if not text or not created.get("keyId"):
        raise RuntimeError(f"Graph returned no secret for app registration {key!r}")
    key_id = str(created["keyId"])
    ctx.handoffs.setdefault(key, CreatedThisRun()).key_ids.add(key_id.lower())
    ctx.handoffs.put(key, NewSecret(text=text, fingerprint=c5.fingerprint(created)))
    log.info("credential.created", app=key, secret_key_id=key_id)
    return created


KIND = AppRegistrationKind()
