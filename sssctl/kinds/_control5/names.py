"""Stable names: the app's uniqueName, resource addresses, and the clock Control 5 reads."""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import structlog

from sssctl.config.model import Desired
from sssctl.engine.kind import Context

if TYPE_CHECKING:
    pass


log = structlog.get_logger(__name__)


GRACE_DAYS = 30
CREDENTIAL_PREFIX = "sssctl"

DAY = 86400.0




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
