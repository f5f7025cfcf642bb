"""Registry of resource kinds, in the order their changes must be applied.

The order is the documented safe sequence: the app registration and its consent first,
then the custom profile that uses it, then mailbox defaults and mailboxes moved onto it,
the organisation-wide settings, and only at the very end the default profile deactivated.
"""

from __future__ import annotations

import importlib

from sssctl.kinds.base import Kind

KIND_MODULES: tuple[str, ...] = (
    "app_registration",        # app_registration.<key>
    "exchange_scope",          # exchange_scope.<key>
    "server_profile_custom",   # server_profile.custom["<name>"]
    "mailbox_defaults",        # mailbox_defaults
    "mailboxes",               # mailboxes
    "approval",                # approval
    "org_setting",             # org_setting.<Name>
    "privilege",               # privilege.<prvName>
    "user_settings",           # user_settings
    "server_profile_default",  # server_profile.default
)


def load_kinds(names: tuple[str, ...] = KIND_MODULES) -> list[Kind]:
    """Import each kind module and return its ``KIND`` object, in apply order."""
    kinds: list[Kind] = []
    for name in names:
        module = importlib.import_module(f"sssctl.kinds.{name}")
        kinds.append(module.KIND)
    return kinds
