"""What the three Control 5 kinds share: the app's name in Entra, permission names, and
the one decision about the client secret.

Control 5 replaces the first-party trust with the customer's own app registration. Three
kinds take part (``app_registration``, ``exchange_scope``, ``server_profile_custom``) and
two of them must agree, in the same plan, on whether a new client secret is needed: the
app registration creates it and the server profile receives it. Both compute that from
the same live facts with :func:`decide_secret`, so their plans cannot contradict each
other.

Naming (stable, idempotent): the application is upserted by ``uniqueName``
``sssctl-<environment>-<key>`` (environment = ``[environment].name``, else the Dataverse
host's first label). The environment is part of it so that a test and a production
environment in one tenant never share, and never rotate away, each other's secrets.

Secrets: a secret is created with a lifetime of ``rotate_days + GRACE_DAYS`` and replaced
once it is ``rotate_days`` old or expires within ``GRACE_DAYS``. Its text exists only in
memory (a ``NewSecret`` hand-off) between the two kinds' changes of one apply; state
keeps the keyId, hint and expiry. Credentials sssctl creates carry a display name starting
with ``sssctl``; only those are ever removed.
"""

from __future__ import annotations

import copy
import difflib
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import structlog

from sssctl.clients.errors import GraphError, GraphNotFound
from sssctl.config.model import AppRegistration, Desired
from sssctl.engine.kind import Context
from sssctl.kinds._shared import (
    default_profile_id,
    profiles_named,
    read_organization,
    read_profiles,
)

if TYPE_CHECKING:
    from sssctl.clients.graph import GraphClient

log = structlog.get_logger(__name__)

GRACE_DAYS = 30
CREDENTIAL_PREFIX = "sssctl"
SIGN_IN_AUDIENCE = "AzureADMyOrg"
DAY = 86400.0

# Resource applications by the short names users write in `permissions`. These are the
# well-known appIds of the resource *applications*; the role ids inside them are always
# resolved at run time from the resource service principal's appRoles.
RESOURCE_ALIASES: Mapping[str, str] = {
    "exchange": "00000002-0000-0ff1-ce00-000000000000",
    "graph": "00000003-0000-0000-c000-000000000000",
}
_ALIAS_OF = {app_id: alias for alias, app_id in RESOURCE_ALIASES.items()}
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

# Graph answers that only mean "the directory has not replicated the new object yet".
_DUPLICATE_ASSIGNMENT = "already exists"


# --- names ----------------------------------------------------------------------------------


def environment_label(desired: Desired) -> str:
    raw = desired.environment.name
    if not raw and desired.environment.url:
        raw = (urlparse(desired.environment.url).hostname or "").split(".")[0]
    cleaned = re.sub(r"[^a-z0-9-]+", "-", (raw or "default").lower()).strip("-")
    return cleaned or "default"


def unique_name(desired: Desired, key: str) -> str:
    """The application's ``uniqueName``: its idempotency key in Entra (module docstring)."""
    return f"{CREDENTIAL_PREFIX}-{environment_label(desired)}-{key}"


def app_address(key: str) -> str:
    return f"app_registration.{key}"


def credential_address(key: str) -> str:
    return f"app_registration.{key}.credential"


def scope_address(key: str) -> str:
    return f"exchange_scope.{key}"


def profile_address(name: str) -> str:
    return f'server_profile.custom["{name}"]'


def leaving_profiles(ctx: Context) -> dict[str, str]:
    """Custom profiles this plan deletes, ``{profile id: address}``: sssctl created them
    (state holds no original) and the config no longer declares them."""
    kept = {profile_address(name) for name in ctx.desired.custom_profiles}
    out: dict[str, str] = {}
    for address, entry in ctx.state.items():
        if entry.get("kind") != "server_profile_custom" or entry.get("original") or address in kept:
            continue
        profile_id = (entry.get("fingerprints") or {}).get("profile_id")
        if profile_id:
            out[str(profile_id).lower()] = address
    return out


def key_of_address(address: str, prefix: str) -> str:
    return address[len(prefix) + 1 :]


def odata_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def app_path(desired: Desired, key: str) -> str:
    return f"applications(uniqueName={odata_string(unique_name(desired, key))})"


# --- time -----------------------------------------------------------------------------------


def now(ctx: Context) -> float:
    return ctx.clock() if ctx.clock is not None else time.time()


def parse_time(value: Any) -> float | None:
    """Graph date-times (``Z``, up to 7 fractional digits) as epoch seconds."""
    if not value:
        return None
    text = re.sub(r"\.\d+", "", str(value).strip()).replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def day(epoch: float | None) -> str:
    return "?" if epoch is None else datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%d")


# --- Graph reads ----------------------------------------------------------------------------


def require_graph(ctx: Context) -> GraphClient:
    if ctx.graph is None:
        why = ctx.unavailable.get("graph")
        raise RuntimeError(f"no Microsoft Graph client ({why})" if why
                           else "no Microsoft Graph client: app registrations need Graph access")
    return ctx.graph


def get_or_none(graph: GraphClient, path: str, **kw: Any) -> dict[str, Any] | None:
    try:
        found = graph.get(path, **kw)
    except GraphNotFound:
        return None
    return dict(found) if found else None


def read_app(ctx: Context, key: str, *, expected: bool = False) -> dict[str, Any] | None:
    """The app by uniqueName; ``expected`` waits out replication of one created moments ago.

    Three kinds read the same app while planning: they share one answer (copies of it).
    """
    if expected:
        return get_or_none(require_graph(ctx), app_path(ctx.desired, key), wait_for_replication=True)
    path = app_path(ctx.desired, key)
    found = ctx.reads.get(f"app:{key}", lambda: get_or_none(require_graph(ctx), path))
    return copy.deepcopy(found)


def read_resource(ctx: Context, resource_app_id: str) -> dict[str, Any] | None:
    """A resource's service principal with its app roles, read once per run."""
    path = f"servicePrincipals(appId={odata_string(resource_app_id)})"
    return _resource(ctx, path, f"resource:{resource_app_id.lower()}")


def read_resource_by_id(ctx: Context, sp_id: str) -> dict[str, Any] | None:
    """A resource service principal by object id (consent points at it that way)."""
    return _resource(ctx, f"servicePrincipals/{sp_id}", f"resource-sp:{sp_id.lower()}")


def _resource(ctx: Context, path: str, key: str) -> dict[str, Any] | None:
    """One resource service principal, filed under both its appId and its object id."""

    def load() -> dict[str, Any] | None:
        found = get_or_none(require_graph(ctx), path)
        if found is not None:
            ctx.reads.put(f"resource:{str(found.get('appId', '')).lower()}", found)
            ctx.reads.put(f"resource-sp:{str(found.get('id', '')).lower()}", found)
        return found

    found = ctx.reads.get(key, load, lifetime="run")
    return dict(found) if found else None


# --- permissions ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Permission:
    """One application permission, by name and by the ids Graph needs."""

    name: str  # "exchange:full_access_as_app"
    resource_app_id: str
    resource_sp_id: str
    role_id: str


class PermissionError_(ValueError):
    """A permission name in the config that the resource does not offer."""


def split_permission(name: str) -> tuple[str, str]:
    """``"exchange:full_access_as_app"`` -> (resource appId, role value)."""
    resource, sep, value = name.partition(":")
    resource = resource.strip()
    if not sep or not value.strip():
        raise PermissionError_(
            f"permission {name!r} must look like '<resource>:<role>', e.g. 'exchange:full_access_as_app'"
        )
    if resource.lower() in RESOURCE_ALIASES:
        return RESOURCE_ALIASES[resource.lower()], value.strip()
    if _GUID.match(resource):
        return resource.lower(), value.strip()
    raise PermissionError_(
        f"permission {name!r}: unknown resource {resource!r}; use "
        f"{', '.join(sorted(RESOURCE_ALIASES))} or the resource application's appId (a GUID)"
    )


def permission_name(resource_app_id: str, value: str) -> str:
    return f"{_ALIAS_OF.get(resource_app_id.lower(), resource_app_id.lower())}:{value}"


def application_roles(resource: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [
        role
        for role in resource.get("appRoles") or []
        if "Application" in (role.get("allowedMemberTypes") or []) and role.get("isEnabled", True)
    ]


def resolve_permission(name: str, resource: Mapping[str, Any] | None, resource_app_id: str) -> Permission:
    _, value = split_permission(name)
    if resource is None:
        raise PermissionError_(
            f"permission {name!r}: the resource application {resource_app_id} has no service "
            "principal in this tenant"
        )
    roles = application_roles(resource)
    exact = [r for r in roles if r.get("value") == value] or [
        r for r in roles if str(r.get("value", "")).lower() == value.lower()
    ]
    if not exact:
        values = sorted(str(r.get("value")) for r in roles)
        close = difflib.get_close_matches(value, values, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        label = resource.get("displayName") or resource_app_id
        raise PermissionError_(
            f"permission {name!r} is not an application role of {label}.{hint} "
            f"Available: {', '.join(values) or '(none)'}"
        )
    role = exact[0]
    return Permission(
        name=permission_name(resource_app_id, str(role["value"])),
        resource_app_id=resource_app_id,
        resource_sp_id=str(resource["id"]),
        role_id=str(role["id"]),
    )


def resolve_permissions(ctx: Context, names: Iterable[str]) -> list[Permission]:
    """Resolve every name, or raise one error listing every bad name."""
    resolved: list[Permission] = []
    problems: list[str] = []
    for name in names:
        try:
            resource_app_id, _ = split_permission(name)
            resolved.append(resolve_permission(name, read_resource(ctx, resource_app_id), resource_app_id))
        except PermissionError_ as exc:
            problems.append(str(exc))
    if problems:
        raise PermissionError_("; ".join(problems))
    return sorted(resolved, key=lambda p: p.name)


def role_name(ctx: Context, resource_app_id: str, role_id: str) -> str:
    """A live role id back to its name; unknown ids stay visible as ids."""
    resource = read_resource(ctx, resource_app_id)
    for role in (resource or {}).get("appRoles") or []:
        if str(role.get("id", "")).lower() == role_id.lower():
            return permission_name(resource_app_id, str(role.get("value")))
    return permission_name(resource_app_id, role_id)


def required_resource_access(permissions: Sequence[Permission]) -> list[dict[str, Any]]:
    """Graph's ``requiredResourceAccess``, grouped by resource (it is replaced wholesale)."""
    by_resource: dict[str, list[dict[str, str]]] = {}
    for perm in permissions:
        by_resource.setdefault(perm.resource_app_id, []).append({"id": perm.role_id, "type": "Role"})
    return [
        {"resourceAppId": app_id, "resourceAccess": access} for app_id, access in sorted(by_resource.items())
    ]


def declared_permissions(ctx: Context, app: Mapping[str, Any]) -> list[str]:
    names: list[str] = []
    for entry in app.get("requiredResourceAccess") or []:
        resource_app_id = str(entry.get("resourceAppId", "")).lower()
        for access in entry.get("resourceAccess") or []:
            if access.get("type", "Role") == "Role":
                names.append(role_name(ctx, resource_app_id, str(access.get("id"))))
    return sorted(names)


def is_duplicate_assignment(exc: GraphError) -> bool:
    return exc.status == 400 and _DUPLICATE_ASSIGNMENT in str(exc).lower()


# --- the secret decision ----------------------------------------------------------------------


@dataclass(frozen=True)
class ProfileFacts:
    """What one server profile that uses the app tells about the secret it holds."""

    name: str
    exists: bool
    secret_set: bool
    client_id: str | None
    recorded_key_id: str | None


@dataclass(frozen=True)
class SecretFacts:
    app_key: str
    app: Mapping[str, Any] | None
    profiles: tuple[ProfileFacts, ...]
    recorded: Mapping[str, str] = field(default_factory=dict)  # credential state fingerprints

    @property
    def credentials(self) -> list[Mapping[str, Any]]:
        return list((self.app or {}).get("passwordCredentials") or [])


@dataclass(frozen=True)
class SecretDecision:
    """Whether a new secret is needed (``reason``) and what happens to the others."""

    reason: str | None
    current: Mapping[str, Any] | None  # the credential the profiles hold now, if known
    remove_now: tuple[str, ...]  # leftovers nobody uses: removed by the credential change
    retire: tuple[str, ...]  # removed once every profile holds the new secret

    @property
    def new_secret(self) -> bool:
        return self.reason is not None


def created_by_sssctl(credential: Mapping[str, Any], recorded: Mapping[str, str]) -> bool:
    known = set(filter(None, recorded.get("known_key_ids", "").split(",")))
    name = str(credential.get("displayName") or "")
    return name.startswith(CREDENTIAL_PREFIX) or str(credential.get("keyId")) in known


def _find(credentials: Sequence[Mapping[str, Any]], key_id: str | None) -> Mapping[str, Any] | None:
    for cred in credentials:
        if key_id and str(cred.get("keyId", "")).lower() == key_id.lower():
            return cred
    return None


def _needs_new(
    facts: SecretFacts, at: float, rotate_days: int
) -> tuple[str | None, Mapping[str, Any] | None]:
    """Why a new secret is needed, if it is, and the credential the profiles hold.

    Any doubt about what a profile holds means a new secret: the text of an existing one
    can never be recovered, so the only safe way back to a known state is to issue one
    more and give it to every profile. In particular, a keyId recorded right after
    ``addPassword`` that never reached the profile's record means an apply stopped between
    the two writes, and the profile may hold either secret.
    """
    if facts.app is None:
        return "the app registration is new", None
    app_id = str(facts.app.get("appId", "")).lower()
    for profile in facts.profiles:
        if not profile.exists:
            return f"server profile {profile.name!r} is to be created and needs the secret", None
        if profile.recorded_key_id is None:
            return f"server profile {profile.name!r} holds no secret sssctl gave it", None
        if not profile.secret_set:
            return f"server profile {profile.name!r} shows no client secret set", None
        if (profile.client_id or "").lower() != app_id:
            return f"server profile {profile.name!r} points at another client id", None
    held = {p.recorded_key_id for p in facts.profiles}
    if len(held) > 1:
        return "the server profiles using this app hold different secrets", None
    key_id = held.pop()
    current = _find(facts.credentials, key_id)
    if current is None:
        return f"the secret the profile holds (keyId {key_id}) no longer exists on the app", None
    latest = facts.recorded.get("latest_key_id")
    if latest and latest.lower() != str(key_id).lower() and _find(facts.credentials, latest):
        return (
            f"a secret added by an interrupted apply (keyId {latest}) never reached the profile "
            "and its text is lost",
            current,
        )
    starts = parse_time(current.get("startDateTime"))
    if starts is not None and at - starts >= rotate_days * DAY:
        return f"the secret is {int((at - starts) // DAY)} days old (rotate_days = {rotate_days})", current
    ends = parse_time(current.get("endDateTime"))
    if ends is not None and ends - at <= GRACE_DAYS * DAY:
        return f"the secret expires on {day(ends)} (within the {GRACE_DAYS}-day grace)", current
    return None, current


def decide_secret(facts: SecretFacts, at: float, rotate_days: int) -> SecretDecision:
    """The one rule both kinds follow (module docstring); pure, so it is unit-tested alone."""
    ours = [c for c in facts.credentials if created_by_sssctl(c, facts.recorded)]
    if not facts.profiles:
        return SecretDecision(None, None, tuple(str(c["keyId"]) for c in ours), ())
    reason, current = _needs_new(facts, at, rotate_days)
    if reason is not None:
        return SecretDecision(reason, current, (), tuple(str(c["keyId"]) for c in ours))
    keep = str((current or {}).get("keyId", "")).lower()
    leftovers = tuple(str(c["keyId"]) for c in ours if str(c["keyId"]).lower() != keep)
    return SecretDecision(None, current, leftovers, ())


def describe_credential(cred: Mapping[str, Any] | None) -> str | None:
    """How a credential appears in plans: never its text, only what Graph shows anyone."""
    if cred is None:
        return None
    return (
        f"keyId {cred.get('keyId')} (hint {cred.get('hint') or '?'}…, "
        f"expires {day(parse_time(cred.get('endDateTime')))})"
    )


def fingerprint(cred: Mapping[str, Any]) -> dict[str, str]:
    return {
        "key_id": str(cred.get("keyId")),
        "hint": str(cred.get("hint") or ""),
        "expires": str(cred.get("endDateTime") or ""),
        "created": str(cred.get("startDateTime") or ""),
    }


def profiles_using(desired: Desired, key: str) -> list[str]:
    return sorted(name for name, p in desired.custom_profiles.items() if p.app_registration == key)


def profile_recorded_key(ctx: Context, name: str) -> str | None:
    entry = ctx.state.get(profile_address(name)) or {}
    value = (entry.get("fingerprints") or {}).get("secret_key_id")
    return str(value) if value else None


def read_profile_rows(ctx: Context, names: Sequence[str]) -> dict[str, dict[str, Any] | None]:
    """Profiles by name (case-insensitive, as Dataverse compares names), from the run's one read."""
    found: dict[str, dict[str, Any] | None] = {}
    for name in names:
        rows = profiles_named(ctx, name)
        if len(rows) > 1:
            raise LookupError(f"{len(rows)} email server profiles are named {name!r}; rename all but one")
        found[name] = dict(rows[0]) if rows else None
    return found


def secret_facts(ctx: Context, key: str, app: Mapping[str, Any] | None) -> SecretFacts:
    names = profiles_using(ctx.desired, key)
    rows = read_profile_rows(ctx, names)
    profiles = tuple(
        ProfileFacts(
            name=name,
            exists=rows[name] is not None,
            secret_set=bool((rows[name] or {}).get("isoauthclientsecretset")),
            client_id=(rows[name] or {}).get("oauthclientid"),
            recorded_key_id=profile_recorded_key(ctx, name),
        )
        for name in names
    )
    entry = ctx.state.get(credential_address(key)) or {}
    recorded = {str(k): str(v) for k, v in (entry.get("fingerprints") or {}).items()}
    return SecretFacts(app_key=key, app=app, profiles=profiles, recorded=recorded)


def rotate_days(desired: Desired, key: str) -> int:
    app: AppRegistration | None = desired.app_registrations.get(key)
    return app.credential.rotate_days if app is not None else 180


def remove_credentials(ctx: Context, object_id: str, key_ids: Iterable[str]) -> int:
    """removePassword for each keyId; one already gone counts as removed (idempotent)."""
    graph = require_graph(ctx)
    writes = 0
    for key_id in key_ids:
        try:
            graph.post(f"applications/{object_id}/removePassword", {"keyId": key_id})
            writes += 1
            log.info("credential.removed", key_id=key_id)
        except GraphError as exc:
            if not (isinstance(exc, GraphNotFound) or "no password credential" in str(exc).lower()):
                raise
            log.info("credential.already_gone", key_id=key_id)
    return writes


# --- census (export) --------------------------------------------------------------------------


def key_of_app(desired: Desired, app: Mapping[str, Any] | None) -> str | None:
    """The config key of an app sssctl created for this environment (from its uniqueName)."""
    prefix = f"{CREDENTIAL_PREFIX}-{environment_label(desired)}-"
    unique = str((app or {}).get("uniqueName") or "")
    if not unique.startswith(prefix):
        return None
    return unique[len(prefix):] or None


def census_profiles(ctx: Context) -> dict[str, dict[str, Any]]:
    """Every custom profile that exists, with the Entra app its ``oauthclientid`` names.

    ``{name: {"row", "app", "key", "why"}}``: ``key`` only for an app sssctl created (the
    only kind format v1 can manage); ``why`` says why there is no app. Read once per run.
    """

    def load() -> dict[str, dict[str, Any]]:
        builtin = str(default_profile_id(ctx, read_organization(ctx)) or "").lower()
        found: dict[str, dict[str, Any]] = {}
        for row in read_profiles(ctx):
            if str(row.get("emailserverprofileid", "")).lower() == builtin:
                continue
            app, why = _app_behind(ctx, row.get("oauthclientid"))
            found[str(row.get("name"))] = {"row": row, "app": app, "key": key_of_app(ctx.desired, app),
                                           "why": why}
        return found

    return ctx.reads.get("census_profiles", load)


def _app_behind(ctx: Context, client_id: Any) -> tuple[dict[str, Any] | None, str]:
    if not client_id:
        return None, "it does not sign in with an app registration (no OAuth client id)"
    if ctx.graph is None:
        why = ctx.unavailable.get("graph") or "Microsoft Graph is not configured"
        return None, f"its app {client_id} could not be looked up: {why}"
    try:
        app = get_or_none(ctx.graph, f"applications(appId={odata_string(str(client_id))})")
    except GraphError as exc:
        return None, f"its app {client_id} could not be looked up in Graph: {exc}"
    if app is None:
        return None, f"its app {client_id} is not visible in Graph (another tenant, or deleted)"
    if key_of_app(ctx.desired, app) is None:
        return app, (f"its app {client_id} ({app.get('displayName')}) was not created by sssctl, "
                     "and format v1 manages only apps it creates")
    return app, ""
