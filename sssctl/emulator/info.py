"""The connection facts a running emulator publishes (one JSON line on stdout)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class EmulatorInfo:
    url: str                       # https://127.0.0.1:<port>
    dataverse_url: str             # <url>/dataverse  (org URL; token audience; scope <this>/.default)
    authority: str                 # <url>/<tenant_id>  (login base incl. tenant)
    login_url: str                 # <url>             (authority host, SSSCTL_LOGIN_URL)
    graph_url: str                 # <url>/graph
    exchange_url: str              # <url>/exchange
    tenant_id: str
    ca_file: str                   # PEM of the emulator's CA: the only way to trust it
    client_id: str
    client_secret: str
    client_certificate_file: str   # PEM with private key + certificate, registered on the app
    admin_token: str               # bearer token for /_emulator/* admin endpoints
    msi_endpoint: str              # IDENTITY_ENDPOINT for managed identity
    msi_header: str                # IDENTITY_HEADER for managed identity
    federated_token_file: str      # a signed federated assertion accepted for client_id
    # Every organization served, the first being ``dataverse_url``: [{"name", "dataverse_url"}].
    organizations: list[dict[str, str]] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    def environ(self) -> dict[str, str]:
        """The ``SSSCTL_*`` variables (ARCHITECTURE §3) that point sssctl at this emulator."""
        return {
            "SSSCTL_URL": self.dataverse_url,
            "SSSCTL_TENANT_ID": self.tenant_id,
            "SSSCTL_CLOUD": "custom",
            "SSSCTL_LOGIN_URL": self.login_url,
            "SSSCTL_GRAPH_URL": self.graph_url,
            "SSSCTL_EXCHANGE_URL": self.exchange_url,
            "SSSCTL_CA_BUNDLE": self.ca_file,
            "SSSCTL_AUTH_METHOD": "client_secret",
            "SSSCTL_CLIENT_ID": self.client_id,
            "SSSCTL_CLIENT_SECRET": self.client_secret,
            "SSSCTL_CLIENT_CERTIFICATE": self.client_certificate_file,
        }
