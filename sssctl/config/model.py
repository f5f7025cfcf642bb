"""The typed, immutable desired state that every other layer reads.

Values stay in the user's vocabulary (``"server_side_sync"``, not ``2``): translating
labels into Dataverse integers is the job of :mod:`sssctl.catalog.options` and the kinds,
so that plans, state and error messages can speak the words the user wrote.

Every section is optional (``None`` or empty mapping = "not managed"), which is what
lets a resource disappear from the config and be restored by ``destroy``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Cloud = Literal["public", "usgov", "usgovhigh", "dod", "china", "custom"]
AuthMethod = Literal[
    "client_secret", "certificate", "workload_identity", "managed_identity", "device_code", "azure_cli"
]
IncomingEmail = Literal["none", "outlook", "server_side_sync", "forward_mailbox"]
OutgoingEmail = Literal["none", "outlook", "server_side_sync"]
AppointmentsContactsTasks = Literal["none", "outlook", "server_side_sync"]
MailboxEnforce = Literal["off", "report", "defaults"]
MailboxScopeKind = Literal["users", "queues", "all"]
IncomingFiltering = Literal[
    "all", "responses", "leads_contacts_accounts", "email_enabled_records", "none"
]
OrgSettingValue = bool | int | float | str


class SecretUnavailable(Exception):
    """A secret reference could not be resolved at the moment it was needed."""


@dataclass(frozen=True)
class SecretRef:
    """Where a secret lives; the value itself never enters the model.

    Resolution is deferred to :meth:`resolve` so that ``validate`` works on a laptop that
    does not have the pipeline's variables, and so that a secret is read only when a
    command really needs it.
    """

    env: str | None = None
    file: Path | None = None

    def describe(self) -> str:
        return f"env:{self.env}" if self.env else f"file:{self.file}"

    def resolve(self, environ: Mapping[str, str] | None = None) -> str:
        source = os.environ if environ is None else environ
        if self.env is not None:
            value = source.get(self.env)
            if not value:
                raise SecretUnavailable(f"environment variable {self.env} is not set or empty")
            return value
        if self.file is not None:
            try:
                return self.file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise SecretUnavailable(f"cannot read secret file {self.file}: {exc.strerror}") from exc
        raise SecretUnavailable("empty secret reference")


@dataclass(frozen=True)
class Endpoints:
    """Explicit endpoints of a ``custom`` cloud (the emulator is one)."""

    login_url: str | None = None
    graph_url: str | None = None
    exchange_url: str | None = None
    ca_bundle: Path | None = None


@dataclass(frozen=True)
class Environment:
    name: str | None = None
    url: str | None = None
    tenant_id: str | None = None
    cloud: Cloud = "public"
    endpoints: Endpoints = field(default_factory=Endpoints)


@dataclass(frozen=True)
class Auth:
    """How sssctl itself signs in. Secrets are references, resolved by the clients."""

    method: AuthMethod = "client_secret"
    client_id: str | None = None
    client_secret: SecretRef | None = None
    certificate_file: Path | None = None          # PEM (key + cert) or PFX
    certificate_password: SecretRef | None = None  # PFX passphrase
    federated_token_file: Path | None = None       # default: $AZURE_FEDERATED_TOKEN_FILE
    service_connection_id: str | None = None       # Azure Pipelines workload identity federation
    managed_identity_client_id: str | None = None  # user-assigned identity; None = system-assigned
    token_cache: Path | None = None                # device_code: persistent MSAL cache (0600)


StateBackendName = Literal["local", "azurerm"]


@dataclass(frozen=True)
class StateSettings:
    """The ``[state]`` table: where the snapshot and its lock live (ARCHITECTURE §6).

    ``path`` is already resolved (relative to the file that wrote it, or ``state/`` beside
    the file that names the environment). The azurerm keys stay None for a local backend
    unless the file sets them, which is what ``state migrate --from azurerm`` reads.
    """

    backend: StateBackendName = "local"
    path: Path | None = None
    account_url: str | None = None
    container: str | None = None
    key: str | None = None
    lease_seconds: int = 60
    sas_token: SecretRef | None = None
    connection_string: SecretRef | None = None
    auth: Auth | None = None  # [state.auth]; None signs in to storage with the [auth] identity


@dataclass(frozen=True)
class DefaultProfile:
    """The built-in "Microsoft Exchange Online" server profile."""

    active: bool


@dataclass(frozen=True)
class Approval:
    require_for_users: bool | None = None
    require_for_queues: bool | None = None


@dataclass(frozen=True)
class PrivilegeAllowlist:
    privilege: str                      # e.g. "prvApproveRejectEmailAddress"
    allowed_roles: tuple[str, ...]      # role names; every other role loses the privilege


@dataclass(frozen=True)
class MailboxDefaults:
    server_profile: str | None = None   # "default" or the name of a custom profile
    incoming_email: IncomingEmail | None = None
    outgoing_email: OutgoingEmail | None = None
    appointments_contacts_tasks: AppointmentsContactsTasks | None = None


@dataclass(frozen=True)
class MailboxPolicy:
    enforce: MailboxEnforce = "off"
    scope: MailboxScopeKind = "users"
    exclude: tuple[str, ...] = ()       # email addresses, compared case-insensitively


@dataclass(frozen=True)
class UserSettingsPolicy:
    incoming_email_filtering: IncomingFiltering | None = None


@dataclass(frozen=True)
class CredentialSpec:
    type: Literal["client_secret"] = "client_secret"
    rotate_days: int = 180


ScopeMethod = Literal["access_policy", "rbac"]


@dataclass(frozen=True)
class MailboxScope:
    """Exactly one of ``group``, ``administrative_unit``, ``filter`` is set (validated)."""

    group: str | None = None            # mail-enabled security group (address or name)
    method: ScopeMethod = "access_policy"
    administrative_unit: str | None = None   # rbac only
    filter: str | None = None           # rbac only: OPATH recipient filter
    canary: str | None = None           # the mailbox moved and tested first (any method)
    propagation_minutes: int = 120      # rbac only: grace for a new assignment to take effect

    @property
    def rbac(self) -> bool:
        return self.method == "rbac"

    @property
    def target(self) -> str:
        """The scope in the user's words, for plans and errors."""
        if self.group:
            return self.group
        if self.administrative_unit:
            return f"administrative unit {self.administrative_unit}"
        return f"filter {self.filter}"


@dataclass(frozen=True)
class AppRegistration:
    key: str                            # the table key: app_registrations.<key>
    display_name: str
    permissions: tuple[str, ...] = ()   # "<resource>:<appRole value>", e.g. "exchange:full_access_as_app"
    credential: CredentialSpec = field(default_factory=CredentialSpec)
    mailbox_scope: MailboxScope | None = None
    ews: Literal["allow"] | None = None     # keep the app's client ID on EWSAllowedAppIDs
    ews_enabled: bool = False               # also turn EWS on org-wide (only when written)


@dataclass(frozen=True)
class CustomProfile:
    name: str                           # the table key: server_profiles.custom."<name>"
    type: Literal["exchange_online"] = "exchange_online"
    app_registration: str = ""          # key of an [app_registrations.<key>]
    tenant_id: str | None = None        # Exchange tenant; defaults to the environment's


@dataclass(frozen=True)
class WatchPolicy:
    """``[watch]``: what ``sssctl watch`` reverts, how often, and whom it tells."""

    interval_seconds: float = 60.0
    revert: tuple[str, ...] = ("mailboxes", "user_settings")   # kinds or addresses
    webhook: str | None = None
    email_user: bool = False
    email_from: str | None = None


@dataclass(frozen=True)
class Desired:
    """One validated desired-state document (after ``extends`` layering and env overrides)."""

    version: int
    source: Path                                   # the top-level file the user named
    digest: str                                    # sha256 of the normalised merged document
    environment: Environment = field(default_factory=Environment)
    auth: Auth = field(default_factory=Auth)
    default_profile: DefaultProfile | None = None
    custom_profiles: Mapping[str, CustomProfile] = field(default_factory=dict)
    approval: Approval | None = None
    org_settings: Mapping[str, OrgSettingValue] = field(default_factory=dict)
    privileges: Mapping[str, PrivilegeAllowlist] = field(default_factory=dict)
    mailbox_defaults: MailboxDefaults | None = None
    mailboxes: MailboxPolicy | None = None
    user_settings: UserSettingsPolicy | None = None
    app_registrations: Mapping[str, AppRegistration] = field(default_factory=dict)
    watch: WatchPolicy = field(default_factory=WatchPolicy)
    # Where local state snapshots live, from $SSSCTL_STATE_DIR; it wins over [state] path.
    state_dir: Path | None = None
    state: StateSettings = field(default_factory=StateSettings)
