"""The one decision about the client secret that the app registration and the profile must agree on."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog

from sssctl.clients.errors import GraphError, GraphNotFound
from sssctl.config.model import AppRegistration, Desired
from sssctl.engine.kind import Context
from sssctl.kinds._control5.graph import read_app, require_graph
from sssctl.kinds._control5.names import (
    CREDENTIAL_PREFIX,
    DAY,
    GRACE_DAYS,
    credential_address,
    day,
    parse_time,
    profile_address,
)
from sssctl.kinds._shared import (
    profiles_named,
)
from sssctl.kinds.handoffs import CreatedThisRun

if TYPE_CHECKING:
    pass


log = structlog.get_logger(__name__)





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


def remove_credentials(ctx: Context, object_id: str, key_ids: Iterable[str], *, app_key: str) -> int:
    """removePassword for each keyId; one already gone counts as removed (idempotent).

    A secret this run created is never removed here, whoever asks (see
    :class:`~sssctl.kinds.handoffs.CreatedThisRun`).
    """
    graph = require_graph(ctx)
    created = ctx.handoffs.setdefault(app_key, CreatedThisRun()).key_ids
    writes = 0
    for key_id in key_ids:
        if key_id.lower() in created:
            log.warning("credential.kept_created_this_run", key_id=key_id)
            continue
        try:
            graph.post(f"applications/{object_id}/removePassword", {"keyId": key_id})
            writes += 1
            log.info("credential.removed", key_id=key_id)
        except GraphError as exc:
            if not (isinstance(exc, GraphNotFound) or "no password credential" in str(exc).lower()):
                raise
            log.info("credential.already_gone", key_id=key_id)
    return writes


READ_BACK_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0)   # directory reads may lag a write by seconds


def require_on_app(ctx: Context, key: str, key_id: str) -> None:
    """Read the app back until it shows ``key_id``; refuse to go on if it never does.

    A profile is never given a secret the app does not hold: the answer to ``addPassword``
    alone is not proof (a broken or hostile answer could name any keyId).
    """
    for delay in (0.0, *READ_BACK_DELAYS):
        if delay:
            time.sleep(delay)
        app = read_app(ctx, key, expected=True) or {}
        held = {str(c.get("keyId", "")).lower() for c in app.get("passwordCredentials") or []}
        if key_id.lower() in held:
            return
    raise RuntimeError(
        f"the new secret of app registration {key!r} (keyId {key_id}) does not show on the app read "
        "back; the profile was not given it (the next run sees what the app holds)")
