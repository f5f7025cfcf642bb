"""Local HTTPS emulator of Entra ID login, Dataverse, Microsoft Graph and Exchange admin.

One origin, ``https://127.0.0.1:<port>``, trusted through ``EmulatorInfo.ca_file``:

- ``/<tenant>/v2.0/.well-known/openid-configuration``, ``/<tenant>/oauth2/v2.0/token`` and
  ``/devicecode``: sign-in for MSAL (secret, certificate, federated assertion, device code,
  refresh token); ``/msi/token``: App Service style managed identity; ``/_issuer``: the
  external issuer that signed ``federated_token_file``; ``/_azure_devops/...`` and
  ``/_github_actions/...``: the OIDC token endpoints of an Azure Pipelines and a GitHub
  Actions job.
- ``/dataverse/api/data/v9.2/``, ``/graph/v1.0/``, ``/exchange/adminapi/beta/<tenant>/InvokeCommand``:
  the services, each demanding a token for its own audience.
- ``/_emulator/...`` (bearer ``admin_token``): reset, snapshot, faults, counters, device-code
  approval and token minting; :class:`sssctl.emulator.admin_client.AdminClient` wraps them.

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
