"""Entra ID's ``AADSTS`` error codes turned into what happened and what to do.

Shared by the MSAL sign-in (:mod:`sssctl.clients.auth`) and the azure-identity one
(:mod:`sssctl.clients.ambient`), which both report Entra's answer as text carrying the code.
Source: https://learn.microsoft.com/entra/identity-platform/reference-error-codes
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sssctl.clients.errors import AuthError
from sssctl.logging import redact_text

# AADSTS code -> (what happened, what to do)
AADSTS_REMEDIES: dict[str, tuple[str, str]] = {
    "7000215": ("the client secret is wrong",
                "check that the secret reference holds the secret VALUE (not its id) "
                "of this app registration"),
    "7000222": ("the client secret has expired",
                "create a new client secret on the app registration and update the secret reference"),
    "700016": ("the application (client id) was not found in the tenant",
               "check auth.client_id / SSSCTL_CLIENT_ID and environment.tenant_id; "
               "the app must be registered (or consented) in that tenant"),
    "90002": ("the tenant was not found",
              "check environment.tenant_id / SSSCTL_TENANT_ID and environment.cloud"),
    "700027": ("the certificate is not accepted (not registered on the app, or the signature does not match)",
               "upload the certificate's public part to the app registration (Certificates & secrets) "
               "and make sure the private key belongs to it"),
    "700024": ("the client assertion is expired or not yet valid",
               "refresh the federated token (re-run the job step that writes it) and check the clock"),
    "70021": ("no federated identity credential matches the presented token",
              "add a federated credential on the app whose issuer, subject and audience "
              "(api://AzureADTokenExchange) match the token exactly"),
    "500011": ("the resource (service principal of the API) was not found in the tenant",
               "check environment.url points at an environment of this tenant"),
    "65001": ("admin consent is missing for the requested permissions",
              "grant admin consent for the app's API permissions in the tenant"),
}



def explain(result: Mapping[str, Any], *, method: str, client_id: str | None) -> AuthError:
    """An AuthError from an MSAL error dict, naming the AADSTS code and the remedy."""
    description = str(result.get("error_description") or result.get("error") or "unknown error")
    codes = [str(c) for c in result.get("error_codes") or []]
    match = re.search(r"AADSTS(\d+)", description)
    if match and match.group(1) not in codes:
        codes.insert(0, match.group(1))
    first_line = redact_text(description.splitlines()[0] if description else "")
    for code in codes:
        if code in AADSTS_REMEDIES:
            what, remedy = AADSTS_REMEDIES[code]
            return AuthError(
                f"sign-in ({method}, client {client_id}) failed: {what} [AADSTS{code}]: {first_line}",
                code=f"AADSTS{code}", remedy=remedy)
    return AuthError(f"sign-in ({method}, client {client_id}) failed: {first_line}",
                     code=f"AADSTS{codes[0]}" if codes else str(result.get("error") or "") or None,
                     remedy="check the sign-in settings in [auth] and [environment]")
