"""``sssctl export``: the live environment as a desired-state TOML to start a config from.

Values come from each change's ``before`` (live values of managed fields, already in the
user's vocabulary), read through the hardened baseline plus whatever the config names.
Only what format v1 can say without guessing is written: aggregate policies and the
Control-5 objects are left for the user to add (a note on stderr says so).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import tomli_w

from sssctl.config.model import Desired
from sssctl.engine.plan import Action, Change

# The built-in profile's name, as Dataverse ships it; the config calls it "default".
DEFAULT_PROFILE_NAME = "Microsoft Exchange Online"

SKIPPED_NOTE = (
    "Not exported (add them by hand if you manage them): [mailboxes], [user_settings], "
    "[app_registrations], [server_profiles.custom]."
)


def _is_platform_default(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("(default")


def _header(desired: Desired) -> dict[str, Any]:
    env = desired.environment
    document: dict[str, Any] = {"version": 1}
    environment: dict[str, Any] = {k: v for k, v in (("name", env.name), ("url", env.url),
                                                    ("tenant_id", env.tenant_id),
                                                    ("cloud", env.cloud)) if v}
    endpoints = {k: str(v) for k, v in (("login_url", env.endpoints.login_url),
                                        ("graph_url", env.endpoints.graph_url),
                                        ("exchange_url", env.endpoints.exchange_url),
                                        ("ca_bundle", env.endpoints.ca_bundle)) if v}
    if env.cloud == "custom" and endpoints:
        environment["endpoints"] = endpoints
    document["environment"] = environment
    auth: dict[str, Any] = {"method": desired.auth.method}
    if desired.auth.client_id:
        auth["client_id"] = desired.auth.client_id
    if desired.auth.client_secret is not None and desired.auth.client_secret.env:
        auth["client_secret"] = {"env": desired.auth.client_secret.env}
    document["auth"] = auth
    return document


def _section(change: Change, document: dict[str, Any]) -> None:
    live = dict(change.before or {})
    address = change.address
    if address.startswith("org_setting."):
        value = live.get("value")
        if value is not None and not _is_platform_default(value):
            document.setdefault("org_settings", {})[address.split(".", 1)[1]] = value
    elif address == "approval":
        document["approval"] = {k: v for k, v in live.items() if v is not None}
    elif address.startswith("privilege."):
        roles = sorted((live.get("roles") or {}).keys())
        if roles:
            document.setdefault("privileges", {})[address.split(".", 1)[1]] = {"allowed_roles": roles}
    elif address == "server_profile.default" and "active" in live:
        document.setdefault("server_profiles", {})["default"] = {"active": bool(live["active"])}
    elif address == "mailbox_defaults":
        section = {k: v for k, v in live.items() if v is not None and k != "server_profile"}
        if live.get("server_profile") in ("default", DEFAULT_PROFILE_NAME):
            section = {"server_profile": "default", **section}
        document["mailbox_defaults"] = section


def to_toml(desired: Desired, changes: Sequence[Change]) -> str:
    document = _header(desired)
    for change in changes:
        if change.action is not Action.UNKNOWN:
            _section(change, document)
    return tomli_w.dumps(document)
