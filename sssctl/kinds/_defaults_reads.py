"""What the organization's mailbox defaults are, read and spelled in the user's words.

The ``mailbox_defaults`` kind manages them; the ``mailboxes`` policy compares every
mailbox against them and the default profile's guard asks which profile they name, so
the reading lives here, beside the kinds, rather than in one of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog

from sssctl.config.model import Desired, MailboxDefaults
from sssctl.engine.kind import Context
from sssctl.kinds._shared import (
    ACT,
    INCOMING_EMAIL,
    OUTGOING_EMAIL,
    default_profile_id,
    etag_of,
    label_of,
    profile_name,
    read_organization,
    read_profiles,
)
from sssctl.kinds._xml import parse_elements

log = structlog.get_logger(__name__)


ADDRESS = "mailbox_defaults"


# field -> (XML element, vocabulary). ACT uses its own numbering (0 Outlook, 1 SSS, 2 none).
ELEMENTS: Mapping[str, tuple[str, Mapping[str, int]]] = {
    "incoming_email": ("IncomingEmailDeliveryMethod", INCOMING_EMAIL),
    "outgoing_email": ("OutgoingEmailDeliveryMethod", OUTGOING_EMAIL),
    "appointments_contacts_tasks": ("ACTDeliveryMethod", ACT),
}


FIELDS = ("server_profile", *ELEMENTS)


def managed_fields(defaults: MailboxDefaults | None) -> dict[str, str]:
    if defaults is None:
        return {}
    values = {
        "server_profile": defaults.server_profile,
        "incoming_email": defaults.incoming_email,
        "outgoing_email": defaults.outgoing_email,
        "appointments_contacts_tasks": defaults.appointments_contacts_tasks,
    }
    return {field: value for field, value in values.items() if value is not None}


def restored_fields(desired: Desired, recorded: Mapping[str, Any] | None) -> dict[str, Any]:
    """Fields sssctl managed that the config no longer names, with the value found before.

    Dropping ``server_profile`` from the config (the incident switch from hardened.toml to
    lockdown.toml) puts the organization default back on the profile it had, so a custom
    profile that is being removed is no longer the default. Shared with ``mailboxes``,
    which moves the mailboxes to the same profile.
    """
    if recorded is None:
        return {}
    managed = recorded.get("managed") or {}
    original = recorded.get("original") or {}
    named = managed_fields(desired.mailbox_defaults)
    return {
        field: original[field]
        for field in FIELDS
        if field in managed and field not in named and original.get(field) is not None
    }


def live_defaults(ctx: Context) -> tuple[dict[str, Any], dict[str, Any]]:
    """The org defaults in user words, plus what apply needs (ids, raw XML, ETag).

    Shared with the ``mailboxes`` kind, which compares mailboxes against these defaults.
    """
    organization = read_organization(ctx)
    profiles = read_profiles(ctx)
    elements = parse_elements(organization.get("defaultemailsettings"), "defaultemailsettings")
    live: dict[str, Any] = {
        field: label_of(vocabulary, elements.get(element))
        for field, (element, vocabulary) in ELEMENTS.items()
    }
    profile_id = organization.get("_defaultemailserverprofileid_value")
    live["server_profile"] = profile_name(profiles, profile_id)
    builtin_id = default_profile_id(ctx, organization)
    facts = {
        "organization_id": organization.get("organizationid"),
        "xml": organization.get("defaultemailsettings") or "",
        "profile_id": profile_id,
        "builtin_name": profile_name(profiles, builtin_id),
        "etag": etag_of(organization),
    }
    return live, facts


def wanted_profile(name: str, builtin_name: str | None) -> str:
    """``"default"`` means the built-in profile, whatever its display name."""
    if name.strip().lower() == "default":
        return builtin_name or "Microsoft Exchange Online"
    return name


def same(field: str, left: Any, right: Any) -> bool:
    if field == "server_profile" and isinstance(left, str) and isinstance(right, str):
        return left.strip().lower() == right.strip().lower()
    return bool(left == right)
