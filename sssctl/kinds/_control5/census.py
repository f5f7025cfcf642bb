"""What ``export`` needs to describe Control 5 as found: every own-app profile and the app behind it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import structlog

from sssctl.clients.errors import GraphError
from sssctl.config.model import Desired
from sssctl.engine.kind import Context
from sssctl.kinds._control5.graph import get_or_none
from sssctl.kinds._control5.names import CREDENTIAL_PREFIX, environment_label, odata_string
from sssctl.kinds._shared import (
    default_profile_id,
    read_organization,
    read_profiles,
)

if TYPE_CHECKING:
    pass


log = structlog.get_logger(__name__)


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
