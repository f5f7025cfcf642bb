"""``sssctl export``: the live environment as a desired-state TOML to start a config from.

Every kind reads in census mode (everything that exists, not only what the config
names) and writes its own part of the document in ``describe()``; this module only
assembles the parts, keeps them consistent with each other (a name referenced must be
declared, or ``sssctl validate`` refuses the file) and renders TOML with comments where
format v1 cannot say what is live.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from typing import Any

import tomli_w

from sssctl.audit.baseline import baseline
from sssctl.config.model import Desired
from sssctl.engine.kind import LIVE, NOTE, Context, Kind
from sssctl.engine.planner import Reading, read_all

# Tables the format writes inline (``client_secret = { env = "X" }``), not as [sections].
INLINE_KEYS = frozenset({"client_secret", "credential", "mailbox_scope"})
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclasses.dataclass
class Export:
    """The rendered document, and what could not be read (so is missing from it)."""

    text: str
    unread: list[str]


def census_desired(desired: Desired) -> Desired:
    """What the kinds read through: the hardened baseline plus the config's own names.

    Mailboxes, user settings and the Control-5 objects come from the census itself, so
    the config's own sections for them are dropped rather than read through.
    """
    return dataclasses.replace(baseline(desired, keep_user_values=True), mailboxes=None)


def read_live(kinds: Iterable[Kind], ctx: Context) -> Reading:
    """Every kind's census. The state is hidden: a report reads the live environment only."""
    census_ctx = dataclasses.replace(ctx, desired=census_desired(ctx.desired), state={}, census=True)
    return read_all(list(kinds), census_ctx)


def export(desired: Desired, kinds: Iterable[Kind], reading: Reading) -> Export:
    document, unread = assemble(desired, kinds, reading)
    return Export(render(document), unread)


def assemble(desired: Desired, kinds: Iterable[Kind], reading: Reading) -> tuple[dict[str, Any], list[str]]:
    """The export as a document, and what could not be read; ``sssctl diff`` compares these."""
    document = header(desired)
    unread: list[str] = []
    for kind in kinds:
        if kind.name in reading.failures:
            unread.append(f"{kind.name}: {reading.failures[kind.name]}")
            continue
        observed = reading.observed.get(kind.name)
        if observed is None:
            continue
        unread += [f"{address}: {why}" for address, why in sorted(observed.errors.items())]
        merge(document, kind.describe(observed))
    reconcile(document)
    return document, unread


def header(desired: Desired) -> dict[str, Any]:
    """Environment and sign-in as portable settings (secrets stay references).

    No URL, endpoint or CA path is written: they belong to the machine and the run
    (``SSSCTL_URL``, ``SSSCTL_CA_BUNDLE`` ...), so the file plans cleanly against the
    environment it came from wherever it is used, and diffs of two exports show posture.
    """
    env = desired.environment
    environment: dict[str, Any] = {k: v for k, v in (("name", env.name), ("tenant_id", env.tenant_id))
                                   if v}
    if env.cloud not in ("public", "custom"):
        environment["cloud"] = env.cloud
    auth: dict[str, Any] = {"method": desired.auth.method}
    if desired.auth.client_id:
        auth["client_id"] = desired.auth.client_id
    if desired.auth.client_secret is not None and desired.auth.client_secret.env:
        auth["client_secret"] = {"env": desired.auth.client_secret.env}
    note = ["Written by `sssctl export`: review it before applying (URL, endpoints: SSSCTL_URL, SSSCTL_*)."]
    return {NOTE: note, "version": 1, "environment": environment, "auth": auth}


def merge(into: dict[str, Any], part: Mapping[str, Any]) -> None:
    """Deep merge: tables combine, comment lines add up, a later scalar wins."""
    for key, value in part.items():
        if key == NOTE:
            into.setdefault(NOTE, []).extend(value)
        elif isinstance(value, Mapping) and isinstance(into.get(key), dict):
            merge(into[key], value)
        elif isinstance(value, Mapping):
            into[key] = {}
            merge(into[key], value)
        else:
            into[key] = value


def reconcile(document: dict[str, Any]) -> None:
    """Keep the parts consistent, as ``sssctl validate`` demands.

    The org default profile may be one that was not exported (format v1 cannot describe
    it), or the built-in profile that is switched off: either way the file cannot name
    it, so the key is left out and a comment says what is live.
    """
    defaults = document.get("mailbox_defaults")
    if not isinstance(defaults, dict) or "server_profile" not in defaults:
        return
    wanted = str(defaults["server_profile"])
    profiles = document.get("server_profiles", {})
    if wanted == "default":
        switched_off = profiles.get("default", {}).get("active") is False
        methods = ("incoming_email", "outgoing_email", "appointments_contacts_tasks")
        if not switched_off or all(defaults.get(m) == "none" for m in methods):
            return
        why = "the built-in profile, which is switched off (a config cannot ask for both)"
    elif wanted in profiles.get("custom", {}):
        return
    else:
        why = f"{wanted!r}, a profile this export could not describe (see the top of the file)"
    del defaults["server_profile"]
    defaults.setdefault(NOTE, []).append(f"New mailboxes use {why}; server_profile is left out.")


# --- TOML with comments ------------------------------------------------------------------------


def render(document: Mapping[str, Any]) -> str:
    lines = [f"# {note}" for note in document.get(NOTE, [])]
    lines += _body(document, ())
    return "\n".join(lines).strip("\n") + "\n"


def _body(table: Mapping[str, Any], path: tuple[str, ...]) -> list[str]:
    # LIVE counts are for diff to compare, not settings a file can hold
    scalars = {k: v for k, v in table.items()
               if k not in (NOTE, LIVE) and (not isinstance(v, Mapping) or k in INLINE_KEYS)}
    tables = {k: v for k, v in table.items() if k not in (NOTE, LIVE) and k not in scalars}
    lines: list[str] = []
    if path and (scalars or table.get(NOTE)):
        lines += ["", f"[{'.'.join(_key(p) for p in path)}]"]
        lines += [f"# {note}" for note in table.get(NOTE, [])]
    lines += [f"{_key(k)} = {_value(v)}" for k, v in scalars.items()]
    for key, sub in tables.items():
        lines += _body(sub, (*path, key))
    return lines


def _key(key: str) -> str:
    return key if _BARE_KEY.match(key) else _value(key)


def _value(value: Any) -> str:
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    return tomli_w.dumps({"v": value}).split("=", 1)[1].strip()
