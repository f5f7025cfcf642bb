"""Symbolic option vocabularies and the Dataverse integers behind them.

The trap this module exists for: the *appointments, contacts and tasks* (ACT) option set
numbers its values differently from incoming and outgoing email. Server-side sync is ``2``
for incoming/outgoing but ``1`` for ACT, and ``2`` means *none* for ACT. Code that reuses
one table for all three silently switches ACT synchronization off when it meant to turn
it on. So each field is paired with its own vocabulary exactly once, where it is read and
written (``ELEMENTS`` in ``sssctl/kinds/_defaults_reads.py``, the mailbox scan's columns),
and the validator and JSON Schema take their choices from :data:`VOCABULARIES`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

INCOMING_EMAIL: Mapping[str, int] = MappingProxyType(
    {"none": 0, "outlook": 1, "server_side_sync": 2, "forward_mailbox": 3}
)
OUTGOING_EMAIL: Mapping[str, int] = MappingProxyType({"none": 0, "outlook": 1, "server_side_sync": 2})
# Not a typo: ACT counts outlook=0, server_side_sync=1, none=2 (see module docstring).
APPOINTMENTS_CONTACTS_TASKS: Mapping[str, int] = MappingProxyType(
    {"outlook": 0, "server_side_sync": 1, "none": 2}
)
INCOMING_EMAIL_FILTERING: Mapping[str, int] = MappingProxyType(
    {"all": 0, "responses": 1, "leads_contacts_accounts": 2, "email_enabled_records": 3, "none": 4}
)

VOCABULARIES: Mapping[str, Mapping[str, int]] = MappingProxyType(
    {
        "incoming_email": INCOMING_EMAIL,
        "outgoing_email": OUTGOING_EMAIL,
        "appointments_contacts_tasks": APPOINTMENTS_CONTACTS_TASKS,
        "incoming_email_filtering": INCOMING_EMAIL_FILTERING,
    }
)


class UnknownOption(ValueError):
    """A label or integer that the named vocabulary does not define."""


def _vocabulary(name: str) -> Mapping[str, int]:
    try:
        return VOCABULARIES[name]
    except KeyError:
        raise UnknownOption(f"no option vocabulary named {name!r}") from None


def labels(vocabulary: str) -> tuple[str, ...]:
    """The labels in a stable order, for validation messages and the JSON Schema."""
    return tuple(_vocabulary(vocabulary))


# Organization columns that people paste into [org_settings] because the old editors
# showed them there. They are real columns of the organization table, not XML settings;
# the value says where sssctl manages them instead.
ORG_COLUMN_HOMES: Mapping[str, str] = MappingProxyType(
    {
        "requireapprovalforuseremail": "[approval] require_for_users",
        "requireapprovalforqueueemail": "[approval] require_for_queues",
        "defaultemailsettings": "[mailbox_defaults] incoming_email / outgoing_email / "
        "appointments_contacts_tasks",
        "defaultemailserverprofileid": "[mailbox_defaults] server_profile",
        "orgdborgsettings": "[org_settings] itself (one key per setting)",
    }
)


def org_column_home(name: str) -> str | None:
    """Where an organization column belongs in the config, or ``None`` if it is not one we map."""
    return ORG_COLUMN_HOMES.get(name.casefold())
