"""Whether the emulator's optional dependencies are installed.

The emulator is an HTTP server (``starlette`` + ``uvicorn``) that also signs tokens with
``PyJWT``; none of that is needed to manage a real tenant, so it ships as the ``emulator``
extra: ``pip install '.[emulator]'`` from a clone. A production install then carries no web
server stack. This module imports none of those packages, so the CLI can ask before it
imports the emulator and print one sentence instead of an ``ImportError`` traceback.

(``PyJWT`` itself is still present in a production install: MSAL requires it. sssctl's
own runtime code never imports it; only the emulator does.)
"""

from __future__ import annotations

from importlib.util import find_spec

#: import name -> distribution name, for every module only the emulator needs
REQUIRED = {"starlette": "starlette", "uvicorn": "uvicorn", "jwt": "PyJWT"}

#: Names the extra on the source the user installed from, never a bare package name: no
#: ``sssctl`` package is published, and whoever registers one would run with the tenant's
#: administrator identity.
INSTALL_HINT = ("its emulator extra, from a clone or release tag of sssctl: "
                "pip install '.[emulator]' (pipx: pipx install --force '.[emulator]')")


def missing() -> list[str]:
    """Distributions the emulator needs that this installation lacks (empty when it is complete)."""
    return [dist for module, dist in REQUIRED.items() if find_spec(module) is None]


def missing_message(command: str) -> str | None:
    """The sentence to print when ``command`` cannot run for want of the extra, else ``None``."""
    absent = missing()
    if not absent:
        return None
    return (f"`sssctl {command}` needs the emulator, which is not installed here "
            f"(missing: {', '.join(absent)}): install sssctl with {INSTALL_HINT}.")
