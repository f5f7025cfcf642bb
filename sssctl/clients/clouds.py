"""Where each national cloud signs in and serves Graph and Exchange.

Only hosts named here or in the config are ever contacted: sign-in never asks Microsoft's
instance discovery service, so a custom cloud (the emulator) is fully closed.
"""

from __future__ import annotations

from dataclasses import dataclass

from sssctl.clients.errors import AuthError
from sssctl.config.model import Environment


@dataclass(frozen=True)
class CloudEndpoints:
    name: str
    login_url: str
    graph_url: str
    exchange_url: str

    def authority(self, tenant_id: str) -> str:
        return f"{self.login_url.rstrip('/')}/{tenant_id}"


CLOUDS: dict[str, CloudEndpoints] = {
    "public": CloudEndpoints("public", "https://login.microsoftonline.com",
                             "https://graph.microsoft.com", "https://outlook.office365.com"),
    # GCC (moderate) signs in and calls Graph/Exchange on the commercial hosts.
    "usgov": CloudEndpoints("usgov", "https://login.microsoftonline.com",
                            "https://graph.microsoft.com", "https://outlook.office365.com"),
    "usgovhigh": CloudEndpoints("usgovhigh", "https://login.microsoftonline.us",
                                "https://graph.microsoft.us", "https://outlook.office365.us"),
    "dod": CloudEndpoints("dod", "https://login.microsoftonline.us",
                          "https://dod-graph.microsoft.us", "https://outlook-dod.office365.us"),
    "china": CloudEndpoints("china", "https://login.chinacloudapi.cn",
                            "https://microsoftgraph.chinacloudapi.cn", "https://partner.outlook.cn"),
}


def resolve_cloud(environment: Environment) -> CloudEndpoints:
    """Endpoints of the configured cloud; explicit endpoints override a named cloud's hosts."""
    endpoints = environment.endpoints
    if environment.cloud == "custom":
        missing = [name for name, value in (("login_url", endpoints.login_url),
                                            ("graph_url", endpoints.graph_url),
                                            ("exchange_url", endpoints.exchange_url)) if not value]
        if "login_url" in missing:
            raise AuthError(
                "cloud = \"custom\" needs environment.endpoints.login_url",
                remedy="set [environment.endpoints] login_url (or SSSCTL_LOGIN_URL), "
                       "and graph_url / exchange_url if Graph or Exchange are managed",
            )
        return CloudEndpoints("custom", _https(endpoints.login_url or "", "login_url"),
                              _https(endpoints.graph_url or "", "graph_url"),
                              _https(endpoints.exchange_url or "", "exchange_url"))
    base = CLOUDS.get(environment.cloud)
    if base is None:
        raise AuthError(f"unknown cloud {environment.cloud!r}",
                        remedy="use one of: " + ", ".join([*CLOUDS, "custom"]))
    return CloudEndpoints(
        base.name,
        _https(endpoints.login_url or base.login_url, "login_url"),
        _https(endpoints.graph_url or base.graph_url, "graph_url"),
        _https(endpoints.exchange_url or base.exchange_url, "exchange_url"),
    )


def _https(url: str, key: str) -> str:
    url = url.rstrip("/")
    if url and not url.startswith("https://"):
        raise AuthError(f"environment.endpoints.{key} must be an https:// URL, got {url!r}",
                        remedy="sign-in and API calls are only made over verified TLS")
    return url


def scope_for(resource_url: str) -> str:
    """The app-only ``.default`` scope of a resource (org URL, Graph or Exchange host)."""
    return resource_url.rstrip("/") + "/.default"
