"""Local HTTPS emulator of Entra ID login, Dataverse, Microsoft Graph and Exchange admin.

``running_emulator`` is imported lazily so that reading the shared constants or context
does not pull in the web server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sssctl.emulator.info import EmulatorInfo

if TYPE_CHECKING:
    from sssctl.emulator.server import running_emulator

__all__ = ["EmulatorInfo", "running_emulator"]


def __getattr__(name: str) -> Any:
    if name == "running_emulator":
        from sssctl.emulator.server import running_emulator

        return running_emulator
    raise AttributeError(f"module 'sssctl.emulator' has no attribute {name!r}")
