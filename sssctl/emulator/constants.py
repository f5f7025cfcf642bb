"""Identifiers shared by every part of the emulator (identity, Dataverse, Graph, Exchange).

They are fixed so that seed data, tokens and the printed connection facts agree without
the parts importing each other.
"""

TENANT_ID = "8f0c3e5a-1b2d-4c6e-9a7b-5d3f2e1c0b9a"
TENANT_DOMAIN = "contoso.onmicrosoft.com"

# The application sssctl signs in as: an Entra app + service principal in the tenant and
# an application user in Dataverse holding System Administrator.
SSSCTL_APP_ID = "5a1f7c2e-3d4b-4e6f-8a9b-0c1d2e3f4a5b"          # client_id
SSSCTL_APP_OBJECT_ID = "6b2e8d3f-4e5c-4f70-9bac-1d2e3f4a5b6c"
SSSCTL_SP_OBJECT_ID = "7c3f9e4a-5f6d-4081-acbd-2e3f4a5b6c7d"
SSSCTL_APP_USER_ID = "9e5b1a6c-7b8f-42a3-8edf-4a5b6c7d8e9f"      # Dataverse systemuser id

ORGANIZATION_ID = "d7671e2c-0000-4a6b-9c3d-1e2f3a4b5c6d"

# First-party resource applications (well-known appIds; see identity reference §0).
EXCHANGE_RESOURCE_APP_ID = "00000002-0000-0ff1-ce00-000000000000"
GRAPH_RESOURCE_APP_ID = "00000003-0000-0000-c000-000000000000"
DATAVERSE_RESOURCE_APP_ID = "00000007-0000-0000-c000-000000000000"

# External OIDC issuer the emulator also plays, as GitHub Actions would, for federated
# (workload identity) sign-in. Its path lives under the emulator's own URL.
FEDERATED_ISSUER_PATH = "/_issuer"
FEDERATED_AUDIENCE = "api://AzureADTokenExchange"
FEDERATED_SUBJECT = "repo:contoso/sss-config:ref:refs/heads/main"
# Azure Pipelines names a workload identity federation service connection this way
# (sc://<organization>/<project>/<service connection name>); see emulator.azure_devops.
AZURE_DEVOPS_SUBJECT = "sc://contoso/sss-config/sssctl-prod"

DEFAULT_PROFILE_ID = "7eedeb22-6a30-4a66-808b-00c25a95b03f"
DEFAULT_PROFILE_NAME = "Microsoft Exchange Online"

# Path prefixes of the services on the one HTTPS server.
DATAVERSE_PREFIX = "/dataverse"      # dataverse_url = <url>/dataverse ; Web API at /api/data/v9.2/
GRAPH_PREFIX = "/graph"              # graph_url = <url>/graph ; API at /v1.0/
EXCHANGE_PREFIX = "/exchange"        # exchange_url = <url>/exchange ; /adminapi/beta/{tenant}/InvokeCommand
ADMIN_PREFIX = "/_emulator"
MSI_PATH = "/msi/token"              # App Service style managed identity endpoint

# A second, deliberately weak application: signs in fine but holds only a low-privilege
# Dataverse role, so tests can prove privilege refusals (403) without reseeding.
LIMITED_APP_ID = "1d4a6b8c-2e3f-4a5b-8c7d-9e0f1a2b3c4d"
LIMITED_APP_SECRET = "limited-app-secret-value-0001"
LIMITED_APP_USER_ID = "2e5b7c9d-3f40-4b6c-9d8e-0f1a2b3c4d5e"

# The delegated (device-code) user: a tenant admin. The Dataverse seed maps this object id
# (systemuser.azureactivedirectoryobjectid) to System Administrator.
ADMIN_USER_OBJECT_ID = "3f6c8d0e-4a51-4c7d-8e9f-1a2b3c4d5e6f"
ADMIN_USER_UPN = "admin@contoso.onmicrosoft.com"
ADMIN_USER_NAME = "Contoso Admin"

MAIL_DOMAIN = "contoso.com"


def user_email(n: int) -> str:
    """Mailbox address of seeded user number ``n`` (1-based), shared by every seed."""
    return f"user{n:03d}@{MAIL_DOMAIN}"


def queue_email(n: int) -> str:
    """Mailbox address of seeded queue number ``n`` (1-based), shared by every seed."""
    return f"queue{n:02d}@{MAIL_DOMAIN}"
