"""Build the backend a configuration names: ``[state]`` plus the ``SSSCTL_STATE_*`` variables.

Environment variables win over the file (ARCHITECTURE §3); the location keys arrive
already overridden by the loader, the secret-carrying ones (SAS token, connection string)
are read here, at the moment a connection is made, so they never enter the document.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sssctl.config.model import Desired, SecretRef, SecretUnavailable, StateSettings
from sssctl.config.spec import storage_url_ok
from sssctl.state.backend import Backend, LocalBackend, environment_name, remember
from sssctl.state.errors import StateError
from sssctl.state.location import Location, breadcrumb_path, read_breadcrumb
from sssctl.state.model import Snapshot

if TYPE_CHECKING:
    from azure.core.credentials import AzureSasCredential, TokenCredential

DEFAULT_DIRECTORY = Path("state")


def snapshot_name(desired: Desired) -> str:
    return environment_name(desired.environment.name, desired.environment.url)


def backend_for(desired: Desired, environ: Mapping[str, str]) -> Backend:
    """The backend of the configuration in effect."""
    return open_backend(desired, desired.state, environ)


def open_backend(desired: Desired, settings: StateSettings, environ: Mapping[str, str]) -> Backend:
    name = snapshot_name(desired)
    backend: Backend
    if settings.backend == "azurerm":
        backend = _blob_backend(desired, settings, name, environ)
    else:
        local = LocalBackend(desired.state_dir or settings.path or DEFAULT_DIRECTORY, name)
        local.location = Location.local(local.directory, desired.source.parent)
        backend = local
    backend.breadcrumb = breadcrumb_path(local_directory(desired), name)
    return backend


def local_directory(desired: Desired) -> Path:
    """The local default: ``$SSSCTL_STATE_DIR``, else ``state/`` beside the config.

    No ``[state]`` edit moves it, which is why the breadcrumb lives there.
    """
    return desired.state_dir or desired.source.parent / DEFAULT_DIRECTORY


def settings_from_spec(spec: str, current: StateSettings, base: Path) -> StateSettings:
    """``state migrate --from``: ``local``, ``local:DIR``, ``azurerm`` or ``azurerm:CONTAINER/KEY``.

    The "before" backend is the configured ``[state]`` with another backend (and location)
    chosen: account and credentials of an ``azurerm`` source come from the same keys and
    variables, which are ignored while the local backend is selected.
    """
    kind, _, where = spec.partition(":")
    if kind == "local":
        path = (base / where) if where else (current.path if current.backend == "local" else None)
        return dataclasses.replace(current, backend="local", path=path or base / DEFAULT_DIRECTORY)
    if kind == "azurerm":
        container, _, key = where.partition("/")
        if where and not (container and key):
            raise StateError(f"--from {spec!r}: write azurerm:CONTAINER/KEY, "
                             "e.g. azurerm:sssctl/prod.sssctl.json")
        return dataclasses.replace(current, backend="azurerm", container=container or current.container,
                                   key=key or current.key)
    raise StateError(f"--from {spec!r} is not a state backend: write local, local:DIR, azurerm or "
                     "azurerm:CONTAINER/KEY")


def refuse_unmigrated(desired: Desired, environ: Mapping[str, str], configured: Backend,
                      current: Snapshot | None) -> None:
    """Refuse to start from an empty state while this environment's snapshot lives elsewhere.

    After ``[state]`` changes (local to ``azurerm``, or another ``path``) and before
    ``state migrate``, the configured backend holds nothing: a plan from there would
    propose creating what sssctl already manages (a second client secret, for one), and an
    apply would start a second history. Terraform refuses such a backend change until the
    state is migrated; so does sssctl, when a known location holds a snapshot: the local
    default (``state/`` beside the config, or ``$SSSCTL_STATE_DIR``), which is where
    every environment starts.
    """
    if current is not None:
        remember(configured)
        return
    where = configured.describe()
    for spec in ("local", f"local:{DEFAULT_DIRECTORY.as_posix()}"):
        other = open_backend(desired, settings_from_spec(spec, desired.state, desired.source.parent), environ)
        if _same_place(other, configured):
            continue
        try:
            found = other.read()
        except StateError:
            found = None  # an unreadable old copy is no reason to stop; migrate would say why
        if found is None:
            continue
        raise StateError(
            f"the configured state backend {where} holds no snapshot, but {other.describe()} holds this "
            f"environment's (lineage {found.lineage}, serial {found.serial}). Planning from an empty state "
            "would propose creating what sssctl already manages. Move it first: "
            f"`sssctl state migrate --from {spec} -c {desired.source}`; or, if this environment really "
            f"starts afresh, move {other.describe()} out of the way")
    _refuse_from_breadcrumb(desired, environ, configured)


def _refuse_from_breadcrumb(desired: Desired, environ: Mapping[str, str], configured: Backend) -> None:
    """The same refusal when the last backend that held the snapshot (the breadcrumb) still does.

    This is what catches a move from one Blob container to another, or from Blob back to
    the local directory. The old location is opened with the configured ``[state]``
    credentials, as ``state migrate --from`` would; when that is impossible (another
    storage account, no credentials any more) the run still stops, since nobody can tell
    that the old snapshot is gone, and says how to go on.
    """
    crumb = configured.breadcrumb
    last = read_breadcrumb(crumb) if crumb is not None else None
    if last is None or last == configured.location:
        return
    command = f"sssctl state migrate --from {last.spec()} -c {desired.source}"
    try:
        other = open_backend(desired, settings_from_spec(last.spec(), desired.state, desired.source.parent),
                             environ)
        if other.location != last:
            raise StateError(f"the configured [state] account is {_account(other)}, not {last.account_url}")
        found = other.read()
    except StateError as exc:
        raise StateError(
            f"the configured state backend {configured.describe()} holds no snapshot, and the last backend "
            f"that held this environment's, {last.describe()} (recorded in {crumb}), cannot be read with "
            f"the configured [state] settings: {exc}. Copy it over with `sssctl state pull` under the old "
            f"[state] and `sssctl state push FILE` under the new one, or `{command}`; if this environment "
            f"really starts afresh, delete {crumb}") from exc
    if found is None:
        return
    raise StateError(
        f"the configured state backend {configured.describe()} holds no snapshot, but {other.describe()}, "
        f"the last backend that held this environment's, still does (lineage {found.lineage}, serial "
        f"{found.serial}). Planning from an empty state would propose creating what sssctl already "
        f"manages. Move it first: `{command}`; or, if this environment really starts afresh, delete {crumb}")


def _account(backend: Backend) -> str:
    location = backend.location
    return str(location.account_url) if location is not None and location.account_url else "not azurerm"


def _same_place(a: Backend, b: Backend) -> bool:
    if isinstance(a, LocalBackend) and isinstance(b, LocalBackend):
        return a.path.resolve() == b.path.resolve()
    return a.describe() == b.describe()


def _secret(ref: SecretRef | None, env_name: str, environ: Mapping[str, str], what: str) -> str | None:
    from sssctl.logging import register_secret  # lazily: structlog is slow to import

    try:
        value = environ.get(env_name) or (ref.resolve(environ) if ref is not None else None)
    except SecretUnavailable as exc:
        raise StateError(f"state.{what}: {exc}; set it, or remove state.{what} to sign in to storage "
                         "with the [auth] identity") from exc
    register_secret(value)
    return value


def _blob_backend(desired: Desired, settings: StateSettings, name: str,
                  environ: Mapping[str, str]) -> Backend:
    from azure.storage.blob import BlobServiceClient

    from sssctl.state.blob import BlobBackend, public_url

    if not settings.container:
        raise StateError('[state] backend = "azurerm" needs container (or SSSCTL_STATE_CONTAINER)')
    connection = _secret(settings.connection_string, "SSSCTL_STATE_CONNECTION_STRING", environ,
                         "connection_string")
    sas = None if connection else _secret(settings.sas_token, "SSSCTL_STATE_SAS_TOKEN", environ, "sas_token")
    transport = _transport(desired)
    if connection:
        try:
            service = BlobServiceClient.from_connection_string(connection, **transport)
        except (ValueError, KeyError) as exc:  # the message could quote the secret: never shown
            raise StateError("the storage connection string is malformed (its text is not shown); "
                             "copy it again from the storage account's Access keys") from exc
    elif settings.account_url:
        credential = _credential(desired, settings, environ, sas)
        service = BlobServiceClient(settings.account_url, credential=credential, **transport)
    else:
        raise StateError('[state] backend = "azurerm" needs account_url (or SSSCTL_STATE_ACCOUNT_URL), '
                         "or a connection_string")
    if not storage_url_ok(public_url(service.url)):
        raise StateError(f"the storage endpoint {public_url(service.url)} is not HTTPS; plain HTTP is "
                         "accepted only for a loopback emulator")
    container = service.get_container_client(settings.container)
    key = settings.key or f"{name}.sssctl.json"
    backend = BlobBackend(container.get_blob_client(key), container.get_blob_client(f"{key}.bak"), name,
                          lease_seconds=settings.lease_seconds)
    backend.location = Location.blob(public_url(service.url), settings.container, key)
    return backend


def _transport(desired: Desired) -> dict[str, Any]:
    """The SDK's keyword for a transport that trusts ``ca_bundle`` too; none without one."""
    from sssctl.state.transport import storage_transport

    transport = storage_transport(desired.environment.endpoints.ca_bundle)
    return {} if transport is None else {"transport": transport}


def _credential(desired: Desired, settings: StateSettings, environ: Mapping[str, str],
                sas: str | None) -> AzureSasCredential | TokenCredential:
    from azure.core.credentials import AzureSasCredential

    if sas:
        return AzureSasCredential(sas.lstrip("?"))
    from sssctl.state.identity import ConfigIdentityCredential

    return ConfigIdentityCredential(desired, environ, settings)
