"""The tenant directory the emulator plays: applications, service principals, app-role
assignments, users and mail-enabled groups.

Login reads it to authenticate clients and compute the ``roles`` claim; Graph edits it;
Exchange resolves policy scopes against its groups. Seeding is cheap and independent of
the Dataverse dataset size (mailbox existence is computed, never listed).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import secrets
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from sssctl.emulator import constants as c
from sssctl.emulator.clock import Clock

# Seeded identities besides those in constants (they only matter inside the emulator).
LIMITED_APP_OBJECT_ID = "4f7c9e1a-5b62-4d8e-9fa0-2b3c4d5e6f70"
LIMITED_SP_OBJECT_ID = "5a8dafb2-6c73-4e9f-a0b1-3c4d5e6f7081"
EXCHANGE_SP_OBJECT_ID = "0e1f2a3b-4c5d-4e6f-8a9b-aa0000000002"
GRAPH_SP_OBJECT_ID = "0e1f2a3b-4c5d-4e6f-8a9b-aa0000000003"
DATAVERSE_SP_OBJECT_ID = "0e1f2a3b-4c5d-4e6f-8a9b-aa0000000007"
SSSCTL_APP_UNIQUE_NAME = "sssctl"
SSS_GROUP_ID = "b1c2d3e4-f5a6-4b7c-8d9e-0f1a2b3c4d5e"
SSS_GROUP_ADDRESS = "sss-mailboxes@contoso.com"
DISTRIBUTION_GROUP_ID = "c2d3e4f5-a6b7-4c8d-9e0f-1a2b3c4d5e6f"
DISTRIBUTION_GROUP_ADDRESS = "all-staff@contoso.com"
# A known-expired secret on the sssctl app, so sign-in with an expired secret can be shown.
EXPIRED_SECRET = "sssctl-expired-secret-value-0001"
EXCHANGE_ADMIN_ROLE = "29232cdf-9323-42fd-ade2-1d097af3e4de"  # Exchange Administrator template id
GLOBAL_ADMIN_ROLE = "62e90394-69f5-4237-9190-012177145e10"

EXCHANGE_ROLES = {
    "full_access_as_app": "dc890d15-9560-4a4c-9b7f-a736ec74ec40",
    "Exchange.ManageAsApp": "dc50a0fb-09a3-484d-be87-e023b12c6440",
    "IMAP.AccessAsApp": "5e5addcd-3e8d-4e90-baf5-964efab2b20a",
    "POP.AccessAsApp": "cb842b43-da6e-4506-86fe-bb12199c656d",
    "SMTP.SendAsApp": "7146a1f0-8703-45b3-9eae-527a64c00995",
}
GRAPH_ROLES = {
    "Mail.Read": "810c84a8-4a9e-49e6-bf7d-12d183f40d01",
    "Mail.ReadWrite": "e2a3a72e-5f79-4c64-b1b1-878b674786c9",
    "Mail.Send": "b633e1c5-b582-4048-a93e-9f11b44c7e96",
    "Calendars.ReadWrite": "ef54d2bf-783f-4e0f-bca1-3210c0444d99",
    "MailboxSettings.ReadWrite": "6931bccd-447a-43d1-b442-00a195474933",
    "MailboxSettings.Read": "40f97065-369a-49f4-947c-6a255697ae91",
    "Contacts.ReadWrite": "6918b873-d17a-4dc1-b314-35f528134491",
    "Application.ReadWrite.All": "1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9",
    # The two narrower application permissions a least-privilege identity holds (ids as
    # Microsoft Graph's permissions reference lists them).
    "Application.Read.All": "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30",
    "Application.ReadWrite.OwnedBy": "18a4783c-866b-4cc7-a460-3d5e5662c884",
    "AppRoleAssignment.ReadWrite.All": "06b708a9-e830-4db3-a914-8e69da51d44f",
    "Directory.Read.All": "7ab1d382-f21e-4acd-a863-ba3e13f7da61",
}
SSSCTL_GRANTS = (
    (GRAPH_SP_OBJECT_ID, GRAPH_ROLES["Application.ReadWrite.All"]),
    (GRAPH_SP_OBJECT_ID, GRAPH_ROLES["AppRoleAssignment.ReadWrite.All"]),
    (GRAPH_SP_OBJECT_ID, GRAPH_ROLES["Directory.Read.All"]),
    (EXCHANGE_SP_OBJECT_ID, EXCHANGE_ROLES["Exchange.ManageAsApp"]),
)
# Mailboxes in the seeded security group: a handful of users and one queue.
SSS_GROUP_MEMBERS = (*(c.user_email(n) for n in range(1, 11)), c.queue_email(1))


def mailbox_split(mailboxes: int | None, *, large: bool) -> tuple[int, int]:
    """(users, queues) exactly as the Dataverse seed splits its mailboxes, so Exchange knows
    the same mailboxes: small is 25 + 5; otherwise one in twenty is a queue (at most 5
    queues below 100 mailboxes)."""
    if mailboxes is None and not large:
        return 25, 5
    total = mailboxes if mailboxes is not None else 50_000
    queues = min(5, total) if total < 100 else total // 20
    return total - queues, queues


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def secret_hash(secret: str) -> str:
    """Secrets are stored only as hashes; the snapshot shows these, never the text."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret_text() -> str:
    """A 40-character secret in the alphabet Entra uses (``~`` and ``.`` included)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789~._-"
    return "".join(secrets.choice(alphabet) for _ in range(40))


def new_assignment_id() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")[:43]


@dataclass
class Application:
    data: dict[str, Any]  # Graph representation, no secrets
    secret_hashes: dict[str, str] = field(default_factory=dict)  # keyId -> sha256
    key_blobs: dict[str, str] = field(default_factory=dict)  # keyId -> base64 DER
    federated: list[dict[str, Any]] = field(default_factory=list)
    # Directory objects owning the app: an app holding Application.ReadWrite.OwnedBy may manage
    # only the apps it owns, and becomes owner of each app it creates.
    owners: list[str] = field(default_factory=list)


@dataclass
class Recipient:
    """An Exchange recipient a policy can be scoped to."""

    guid: str
    name: str  # Exchange "Name": the alias unless someone renamed it
    address: str
    kind: str  # MailUniversalSecurityGroup | MailUniversalDistributionGroup | UserMailbox
    members: frozenset[str]
    display_name: str = ""


def _app_role(value: str, role_id: str, description: str) -> dict[str, Any]:
    return {
        "allowedMemberTypes": ["Application"],
        "description": description,
        "displayName": description,
        "id": role_id,
        "isEnabled": True,
        "origin": "Application",
        "value": value,
    }


class Directory:
    """In-memory directory. All access goes through one lock: handlers run on the server's
    event loop, but admin snapshots and tests may read from other threads."""

    def __init__(self, *, client_secret: str, client_certificate_der: bytes, issuer_url: str,
                 clock: Clock | None = None) -> None:
        self.lock = threading.RLock()
        self.clock = clock or Clock()  # creation and expiry dates of credentials follow it
        self._client_secret = client_secret
        self._client_der = client_certificate_der
        self._issuer_url = issuer_url
        self.applications: dict[str, Application] = {}
        self.service_principals: dict[str, dict[str, Any]] = {}
        self.assignments: dict[str, dict[str, Any]] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.recipients: dict[str, Recipient] = {}
        self.exchange_admins: set[str] = set()  # service principal ids with the admin role
        self.sp_owners: dict[str, list[str]] = {}  # service principal id -> owning directory objects
        self.hidden: dict[str, int] = {}  # object id -> requests still blind to it
        self.user_mailboxes = 25
        self.queue_mailboxes = 5

    # --- seeding -----------------------------------------------------------------------
    def reset(self, *, mailboxes: int | None, large: bool) -> None:
        with self.lock:
            self.applications.clear()
            self.service_principals.clear()
            self.assignments.clear()
            self.users.clear()
            self.recipients.clear()
            self.exchange_admins.clear()
            self.sp_owners.clear()
            self.hidden.clear()
            self.user_mailboxes, self.queue_mailboxes = mailbox_split(mailboxes, large=large)
            self._seed_resources()
            self._seed_sssctl_app()
            self._seed_limited_app()
            self._seed_people()

    def _seed_resources(self) -> None:
        exchange_roles = [_app_role(v, i, v) for v, i in EXCHANGE_ROLES.items()]
        graph_roles = [_app_role(v, i, v) for v, i in GRAPH_ROLES.items()]
        self._add_sp(
            EXCHANGE_SP_OBJECT_ID,
            c.EXCHANGE_RESOURCE_APP_ID,
            "Office 365 Exchange Online",
            exchange_roles,
            owner="f8cdef31-a31e-4b4a-93e4-5f571e91255a",
        )
        self._add_sp(
            GRAPH_SP_OBJECT_ID,
            c.GRAPH_RESOURCE_APP_ID,
            "Microsoft Graph",
            graph_roles,
            owner="f8cdef31-a31e-4b4a-93e4-5f571e91255a",
        )
        self._add_sp(
            DATAVERSE_SP_OBJECT_ID,
            c.DATAVERSE_RESOURCE_APP_ID,
            "Dataverse",
            [],
            owner="f8cdef31-a31e-4b4a-93e4-5f571e91255a",
        )

    def _seed_sssctl_app(self) -> None:
        created = self.clock.now() - dt.timedelta(days=30)
        app = self._add_app(
            c.SSSCTL_APP_OBJECT_ID, c.SSSCTL_APP_ID, "sssctl", created, unique_name=SSSCTL_APP_UNIQUE_NAME
        )
        self._add_password(app, self._client_secret, "emulator", created, created + dt.timedelta(days=730))
        self._add_password(
            app, EXPIRED_SECRET, "expired", created - dt.timedelta(days=400), created - dt.timedelta(days=35)
        )
        key_id = str(uuid.uuid4())
        from sssctl.emulator.certs import sha1_hex

        app.key_blobs[key_id] = base64.b64encode(self._client_der).decode()
        app.data["keyCredentials"] = [
            {
                "customKeyIdentifier": sha1_hex(self._client_der),
                "displayName": "CN=sssctl",
                "endDateTime": iso(created + dt.timedelta(days=365)),
                "key": None,
                "keyId": key_id,
                "startDateTime": iso(created),
                "type": "AsymmetricX509Cert",
                "usage": "Verify",
            }
        ]
        for name, subject, description in (
            ("emulator-issuer", c.FEDERATED_SUBJECT, "The emulator's own external issuer"),
            ("azure-devops-service-connection", c.AZURE_DEVOPS_SUBJECT,
             "Azure Pipelines service connection sssctl-prod"),
        ):
            app.federated.append(
                {
                    "id": str(uuid.uuid4()),
                    "name": name,
                    "issuer": self._issuer_url,
                    "subject": subject,
                    "audiences": [c.FEDERATED_AUDIENCE],
                    "description": description,
                }
            )
        self._add_sp(c.SSSCTL_SP_OBJECT_ID, c.SSSCTL_APP_ID, "sssctl", [], owner=c.TENANT_ID)
        for resource_id, role_id in SSSCTL_GRANTS:
            self._add_assignment(c.SSSCTL_SP_OBJECT_ID, resource_id, role_id, created)
        self.exchange_admins.add(c.SSSCTL_SP_OBJECT_ID)

    def _seed_limited_app(self) -> None:
        created = self.clock.now() - dt.timedelta(days=30)
        app = self._add_app(LIMITED_APP_OBJECT_ID, c.LIMITED_APP_ID, "sssctl (limited)", created)
        self._add_password(app, c.LIMITED_APP_SECRET, "emulator", created, created + dt.timedelta(days=730))
        self._add_sp(LIMITED_SP_OBJECT_ID, c.LIMITED_APP_ID, "sssctl (limited)", [], owner=c.TENANT_ID)

    def _seed_people(self) -> None:
        self.users[c.ADMIN_USER_OBJECT_ID] = {
            "id": c.ADMIN_USER_OBJECT_ID,
            "userPrincipalName": c.ADMIN_USER_UPN,
            "displayName": c.ADMIN_USER_NAME,
            "mail": c.ADMIN_USER_UPN,
        }
        self.recipients[SSS_GROUP_ID] = Recipient(
            SSS_GROUP_ID,
            "sss-mailboxes",
            SSS_GROUP_ADDRESS,
            "MailUniversalSecurityGroup",
            frozenset(SSS_GROUP_MEMBERS),
            "SSS Mailboxes",
        )
        self.recipients[DISTRIBUTION_GROUP_ID] = Recipient(
            DISTRIBUTION_GROUP_ID,
            "all-staff",
            DISTRIBUTION_GROUP_ADDRESS,
            "MailUniversalDistributionGroup",
            frozenset(c.user_email(n) for n in range(1, 26)),
            "All Staff",
        )

    def add_group(self, name: str, members: list[str], *, security: bool) -> Recipient:
        """A mail-enabled group for one test (the admin API); members are addresses, possibly
        of other groups, so a nested membership can be set up without changing the datasets."""
        address = f"{name}@{SSS_GROUP_ADDRESS.partition('@')[2]}".lower()
        with self.lock:
            if any(r.address.lower() == address for r in self.recipients.values()):
                raise ValueError(f"a recipient with address {address} already exists")
            group = Recipient(
                str(uuid.uuid5(uuid.NAMESPACE_URL, f"group:{address}")),
                name,
                address,
                "MailUniversalSecurityGroup" if security else "MailUniversalDistributionGroup",
                frozenset(m.lower() for m in members),
                name,
            )
            self.recipients[group.guid] = group
            return group

    # --- building blocks ---------------------------------------------------------------
    def _add_app(
        self, object_id: str, app_id: str, name: str, created: dt.datetime, unique_name: str | None = None
    ) -> Application:
        app = Application(data=application_body(object_id, app_id, name, created, unique_name))
        self.applications[object_id] = app
        return app

    def _add_password(
        self, app: Application, text: str, name: str, start: dt.datetime, end: dt.datetime
    ) -> dict[str, Any]:
        credential: dict[str, Any] = {
            "customKeyIdentifier": None,
            "displayName": name,
            "endDateTime": iso(end),
            "hint": text[:3],
            "keyId": str(uuid.uuid4()),
            "secretText": None,
            "startDateTime": iso(start),
        }
        app.data["passwordCredentials"].append(credential)
        app.secret_hashes[credential["keyId"]] = secret_hash(text)
        return credential

    def _add_sp(
        self, object_id: str, app_id: str, name: str, roles: list[dict[str, Any]], owner: str
    ) -> dict[str, Any]:
        sp = {
            "id": object_id,
            "deletedDateTime": None,
            "accountEnabled": True,
            "appId": app_id,
            "appDisplayName": name,
            "displayName": name,
            "appOwnerOrganizationId": owner,
            "appRoleAssignmentRequired": False,
            "appRoles": roles,
            "oauth2PermissionScopes": [],
            "servicePrincipalNames": [app_id],
            "servicePrincipalType": "Application",
            "signInAudience": "AzureADMyOrg",
            "tags": [],
        }
        self.service_principals[object_id] = sp
        return sp

    def _add_assignment(
        self, principal_id: str, resource_id: str, role_id: str, created: dt.datetime
    ) -> dict[str, Any]:
        principal = self.service_principals[principal_id]
        resource = self.service_principals[resource_id]
        assignment = {
            "id": new_assignment_id(),
            "deletedDateTime": None,
            "appRoleId": role_id,
            "createdDateTime": iso(created),
            "principalDisplayName": principal["displayName"],
            "principalId": principal_id,
            "principalType": "ServicePrincipal",
            "resourceDisplayName": resource["displayName"],
            "resourceId": resource_id,
        }
        self.assignments[assignment["id"]] = assignment
        return assignment

    # --- queries the other services use ------------------------------------------------
    def app_by_app_id(self, app_id: str) -> Application | None:
        with self.lock:
            for app in self.applications.values():
                if app.data["appId"].lower() == app_id.lower():
                    return app
            return None

    def sp_by_app_id(self, app_id: str) -> dict[str, Any] | None:
        with self.lock:
            for sp in self.service_principals.values():
                if sp["appId"].lower() == app_id.lower():
                    return sp
            return None

    def roles_for(self, client_app_id: str, resource_app_id: str) -> tuple[str, ...]:
        """The ``roles`` claim: app roles granted (consented) to the client on the resource."""
        with self.lock:
            client = self.sp_by_app_id(client_app_id)
            resource = self.sp_by_app_id(resource_app_id)
            if client is None or resource is None:
                return ()
            by_id = {role["id"]: role["value"] for role in resource["appRoles"]}
            values = {
                by_id[a["appRoleId"]]
                for a in self.assignments.values()
                if a["principalId"] == client["id"]
                and a["resourceId"] == resource["id"]
                and a["appRoleId"] in by_id
            }
            return tuple(sorted(values))

    def directory_roles_for(self, client_app_id: str) -> tuple[str, ...]:
        sp = self.sp_by_app_id(client_app_id)
        return (EXCHANGE_ADMIN_ROLE,) if sp is not None and sp["id"] in self.exchange_admins else ()

    def mailbox_exists(self, address: str) -> bool:
        """Computed from the numbering scheme so a 50k-mailbox dataset costs nothing here."""
        wanted = address.strip().lower()
        local = wanted.partition("@")[0]
        for prefix, limit, render in (
            ("user", self.user_mailboxes, c.user_email),
            ("queue", self.queue_mailboxes, c.queue_email),
        ):
            number = local.removeprefix(prefix)
            if number != local and number.isdigit() and 1 <= int(number) <= limit:
                return render(int(number)) == wanted
        return False

    def is_hidden(self, object_id: str) -> bool:
        """Replication delay: the object stays invisible to the next N requests naming it."""
        with self.lock:
            remaining = self.hidden.get(object_id, 0)
            if remaining <= 0:
                return False
            if remaining == 1:
                del self.hidden[object_id]
            else:
                self.hidden[object_id] = remaining - 1
            return True

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "applications": [
                    {
                        **app.data,
                        "secretHashes": dict(app.secret_hashes),
                        "federatedIdentityCredentials": list(app.federated),
                        "owners": list(app.owners),
                    }
                    for app in self.applications.values()
                ],
                "servicePrincipals": list(self.service_principals.values()),
                "appRoleAssignments": list(self.assignments.values()),
                "users": list(self.users.values()),
                "groups": [
                    {
                        "id": r.guid,
                        "name": r.name,
                        "displayName": r.display_name,
                        "mail": r.address,
                        "recipientType": r.kind,
                        "members": sorted(r.members),
                    }
                    for r in self.recipients.values()
                ],
            }


def application_body(
    object_id: str, app_id: str, name: str, created: dt.datetime, unique_name: str | None
) -> dict[str, Any]:
    """The fields Graph returns for a new application."""
    return {
        "id": object_id,
        "deletedDateTime": None,
        "appId": app_id,
        "uniqueName": unique_name,
        "displayName": name,
        "description": None,
        "notes": None,
        "tags": [],
        "createdDateTime": iso(created),
        "publisherDomain": c.TENANT_DOMAIN,
        "signInAudience": "AzureADMyOrg",
        "identifierUris": [],
        "requiredResourceAccess": [],
        "passwordCredentials": [],
        "keyCredentials": [],
        "api": {"requestedAccessTokenVersion": None, "oauth2PermissionScopes": []},
        "web": {"redirectUris": [], "homePageUrl": None, "logoutUrl": None},
        "publicClient": {"redirectUris": []},
        "isFallbackPublicClient": None,
        "oauth2RequirePostResponse": False,  # Nullable="false" in the metadata; false unless set
    }
