"""Refuse early, and clearly, when a command needs connection settings the config lacks.

``validate`` accepts a file without URL or tenant (a pipeline supplies them through
``SSSCTL_*`` variables), so the commands that do sign in check here first and name both
the key to write and the variable that could supply it.
"""

from __future__ import annotations

from sssctl.config import spec
from sssctl.config.errors import ConfigError, Finding
from sssctl.config.model import Desired

# methods that sign in as an application registration and so need its client id
_NEEDS_CLIENT_ID = frozenset({"client_secret", "certificate", "workload_identity", "device_code"})


def _missing(desired: Desired, path: tuple[str, ...], why: str = "") -> Finding:
    dotted = ".".join(path)
    variable = spec.env_var_for(path)
    via = f" or set {variable}" if variable else ""
    return Finding(str(desired.source), dotted, f"{dotted} is required{why}: add it to the file{via}")


def require_connection(desired: Desired, *, need_graph: bool = False, need_exchange: bool = False) -> None:
    """Raise :class:`ConfigError` listing every missing setting needed to sign in and connect."""
    env, auth = desired.environment, desired.auth
    findings: list[Finding] = []
    if not env.url:
        findings.append(_missing(desired, ("environment", "url")))
    if not env.tenant_id:
        findings.append(_missing(desired, ("environment", "tenant_id")))
    if auth.method in _NEEDS_CLIENT_ID and not auth.client_id:
        findings.append(_missing(desired, ("auth", "client_id"), f" for auth method {auth.method}"))
    if auth.method == "client_secret" and auth.client_secret is None:
        findings.append(_missing(desired, ("auth", "client_secret"), " for auth method client_secret"))
    if auth.method == "certificate" and auth.certificate_file is None:
        findings.append(_missing(desired, ("auth", "certificate_file"), " for auth method certificate"))
    if env.cloud == "custom":
        wanted = {"login_url": True, "graph_url": need_graph, "exchange_url": need_exchange}
        for key, needed in wanted.items():
            if needed and not getattr(env.endpoints, key):
                findings.append(_missing(desired, ("environment", "endpoints", key), ' for cloud = "custom"'))
    if findings:
        raise ConfigError(findings)
