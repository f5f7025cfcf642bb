"""Two mistakes a valid config can still carry into a pipeline, said before they cost a run.

- **Placeholder ids.** ``sssctl init`` and the shipped examples carry all-one-digit GUIDs
  (``00000000-0000-0000-0000-000000000000`` for the tenant, ``11111111-…`` for the app)
  so that they validate as GUIDs. Left in place, sign-in goes to a tenant that does not
  exist (``AADSTS90002``). ``validate`` warns, and a failed sign-in says so.
- **Ambient values that were not used.** The variables other Azure tools set
  (``AZURE_TENANT_ID``, ``AZURESUBSCRIPTION_TENANT_ID`` of the ``AzureCLI@2`` task, ...)
  only fill a key that neither the file nor an ``SSSCTL_*`` variable sets: an explicit
  choice is never swapped for an ambient one. When the file's value wins and sign-in then
  fails, the error says which ambient value was present and how to use it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sssctl.config.model import Desired
from sssctl.config.spec import ENV_FALLBACKS, env_var_for

_PLACEHOLDER = re.compile(r"([0-9a-f])\1{7}-\1{4}-\1{4}-\1{4}-\1{12}")

#: keys that hold a GUID the user must replace with one of their own
GUID_KEYS: tuple[tuple[str, ...], ...] = (
    ("environment", "tenant_id"),
    ("auth", "client_id"),
    ("auth", "managed_identity_client_id"),
    ("auth", "service_connection_id"),
)


def is_placeholder_guid(value: object) -> bool:
    """True for a GUID made of one repeated hex digit, as the examples ship."""
    return isinstance(value, str) and _PLACEHOLDER.fullmatch(value.strip().lower()) is not None


def _value(desired: Desired, path: tuple[str, ...]) -> Any:
    node: Any = desired
    for part in path:
        node = getattr(node, part, None)
    return node


def placeholder_warnings(desired: Desired) -> list[str]:
    """One sentence per key whose value, after the environment is applied, is a placeholder."""
    found = []
    for path in GUID_KEYS:
        value = _value(desired, path)
        if is_placeholder_guid(value):
            variable = env_var_for(path)
            instead = f" or set {variable}" if variable else ""
            found.append(f"{'.'.join(path)} is the placeholder {value}: replace it with your own "
                         f"id{instead}, or sign-in will fail")
    return found


def ignored_ambient(desired: Desired, environ: Mapping[str, str]) -> list[str]:
    """Ambient variables that were set but lost to the file (or an SSSCTL_* variable)."""
    notes = []
    for name, path in ENV_FALLBACKS.items():
        offered = (environ.get(name) or "").strip()
        used = _value(desired, path)
        if offered and used is not None and str(used) != offered:
            variable = env_var_for(path)
            use = f"; to use it, set {variable}=${name} or remove {'.'.join(path)} from the file" \
                if variable else ""
            notes.append(f"{name} was set to {offered} but {'.'.join(path)} = {used} was used{use}")
    return notes


def sign_in_notes(desired: Desired, environ: Mapping[str, str]) -> list[str]:
    """What to add to a failed sign-in's remedy: placeholders and ignored ambient values."""
    return placeholder_warnings(desired) + ignored_ambient(desired, environ)
