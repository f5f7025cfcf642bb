"""Registry of resource kinds, in the order their changes must be applied.

The order is the documented safe sequence: the app registration and its consent first,
then its mailbox scope and the custom profile that uses it, then mailbox defaults and
mailboxes moved onto it, the organisation-wide settings, and only at the very end the
default profile deactivated. Adding a kind means adding its module here (see
:mod:`sssctl.engine.kind`).

One module per kind (read, diff, apply, describe, guard, and its audit checks), helpers
two kinds share in ``_``-prefixed modules, typed hand-offs in ``handoffs``. Floor: under
the audit and the use cases, over the engine; a kind imports the engine's contract,
clients, config and catalog, never another kind, the audit or a use case.
"""

from __future__ import annotations

import importlib

from sssctl.engine.registry import Registry

KIND_MODULES: tuple[str, ...] = (
    "app_registration",        # app_registration.<key>, app_registration.<key>.credential
    "ews_admission",           # ews_admission.<key> (the app on the tenant's EWSAllowedAppIDs)
    "exchange_scope",          # exchange_scope.<key>
    "server_profile_custom",   # server_profile.custom["<name>"]
    "canary",                  # canary["<profile name>"] (every own-app profile)
    "mailbox_defaults",        # mailbox_defaults
    "mailboxes",               # mailboxes
    "approval",                # approval
    "org_setting",             # org_setting.<Name>
    "privilege",               # privilege.<prvName>
    "user_settings",           # user_settings
    "server_profile_default",  # server_profile.default
)


def load_kinds(names: tuple[str, ...] = KIND_MODULES) -> Registry:
    """Import each kind module and register its ``KIND`` object, in apply order."""
    return Registry(tuple(importlib.import_module(f"sssctl.kinds.{name}").KIND for name in names))
