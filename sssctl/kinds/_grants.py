"""The Graph application permissions and Exchange cmdlets the Control 5 kinds call with.

Each declaration names the narrowest right Microsoft documents for the calls made, and
the page that says so (``Grant.source``), so ``auth needs`` computes least privilege from
declarations a reviewer can check one by one:

* Reading applications, service principals (the resources' ``appRoles`` too) and their
  app-role assignments: ``Application.Read.All`` is the least privileged application
  permission on every one of those pages, e.g.
  https://learn.microsoft.com/graph/api/serviceprincipal-list-approleassignments.
* Creating and changing the app sssctl manages (upsert by ``uniqueName``, its service
  principal, ``addPassword`` / ``removePassword``, federated credentials):
  ``Application.ReadWrite.OwnedBy``, which "allows the app to create other applications,
  and fully manage those applications" it owns (the creating app becomes their owner),
  not every app of the tenant as ``Application.ReadWrite.All`` does:
  https://learn.microsoft.com/graph/permissions-reference#applicationreadwriteownedby,
  https://learn.microsoft.com/graph/api/application-upsert,
  https://learn.microsoft.com/graph/api/application-addpassword.
* Admin consent (an ``appRoleAssignment`` on the resource's service principal) needs
  ``AppRoleAssignment.ReadWrite.All``; no narrower permission exists, and its holder can
  grant any permission to any app, itself included, so it is tier 0 and ``elevated``:
  https://learn.microsoft.com/graph/api/serviceprincipal-post-approleassignedto.
* Exchange cmdlets are held through Exchange RBAC: the app's Exchange service principal
  pointer is assigned a custom management role whose entries are exactly the cmdlets
  below (``New-ManagementRole -Parent``, then ``Remove-ManagementRoleEntry`` for the rest),
  instead of the Exchange Administrator role:
  https://learn.microsoft.com/powershell/exchange/app-only-auth-powershell-v2#assign-custom-exchange-online-role-groups-to-the-application-using-service-principals,
  https://learn.microsoft.com/exchange/permissions-exo/custom-role-groups.
  ``New-ManagementRoleAssignment`` gives an app a mailbox role, which is role management
  (Organization Management holds it), so it is ``elevated`` too:
  https://learn.microsoft.com/exchange/permissions-exo/application-rbac.
"""

from __future__ import annotations

from collections.abc import Callable

from sssctl.config.model import Desired
from sssctl.engine.kind import Grant, Phase
from sssctl.kinds._control5 import rbac

READ_APPS_DOC = "https://learn.microsoft.com/graph/api/serviceprincipal-list-approleassignments"
OWNED_APPS_DOC = "https://learn.microsoft.com/graph/permissions-reference#applicationreadwriteownedby"
CONSENT_DOC = "https://learn.microsoft.com/graph/api/serviceprincipal-post-approleassignedto"
ACCESS_POLICY_DOC = "https://learn.microsoft.com/graph/auth-limit-mailbox-access"
APP_RBAC_DOC = "https://learn.microsoft.com/exchange/permissions-exo/application-rbac"
EWS_DOC = "https://learn.microsoft.com/powershell/module/exchange/set-organizationconfig"
CAS_DOC = "https://learn.microsoft.com/powershell/module/exchange/get-casmailbox"


def access_policy_scoped(desired: Desired) -> bool:
    return any(a.mailbox_scope is not None and not a.mailbox_scope.rbac
               for a in desired.app_registrations.values())


def rbac_scoped(desired: Desired) -> bool:
    scopes = [a.mailbox_scope for a in desired.app_registrations.values()]
    return any(scope is not None and scope.rbac for scope in scopes)


def app_consents(desired: Desired) -> bool:
    """The app registration itself grants a consent: a permission no mailbox scope owns."""
    return any(not (app.mailbox_scope is not None and rbac.is_mailbox_permission(p))
               for app in desired.app_registrations.values() for p in app.permissions)


def scope_consents(desired: Desired) -> bool:
    """The mailbox scope grants (access policy) or removes (RBAC) a tenant-wide consent."""
    return any(app.mailbox_scope is not None and any(rbac.is_mailbox_permission(p) for p in app.permissions)
               for app in desired.app_registrations.values())


READ_APPS = Grant("graph", "Application.Read.All",
                  "read app registrations, service principals, app roles and consents", "plan",
                  source=READ_APPS_DOC)
WRITE_OWN_APPS = Grant("graph", "Application.ReadWrite.OwnedBy",
                       "create and change only the apps sssctl created (app, service principal, secrets)",
                       "apply", source=OWNED_APPS_DOC)


Condition = Callable[[Desired], bool]


def ews_admitted(desired: Desired) -> bool:
    return any(app.ews == "allow" for app in desired.app_registrations.values())


def consent(reason: str, only_if: Condition) -> Grant:
    return Grant("graph", "AppRoleAssignment.ReadWrite.All", reason, "apply", elevated=True,
                 only_if=only_if, source=CONSENT_DOC)


def cmdlets(names: str, reason: str, phase: Phase, *, only_if: Condition | None = None,
            elevated: bool = False, source: str = ACCESS_POLICY_DOC) -> tuple[Grant, ...]:
    """One Exchange grant per cmdlet of a space-separated list."""
    return tuple(Grant("exchange", name, reason, phase, elevated=elevated, only_if=only_if, source=source)
                 for name in names.split())


ACCESS_POLICY = (
    *cmdlets("Get-ApplicationAccessPolicy Test-ApplicationAccessPolicy Get-DistributionGroupMember",
             "read the application access policy and the group it scopes to", "plan",
             only_if=access_policy_scoped),
    *cmdlets("New-ApplicationAccessPolicy Remove-ApplicationAccessPolicy",
             "create or remove the application access policy", "apply", only_if=access_policy_scoped),
)
APP_RBAC = (
    *cmdlets("Get-Recipient Get-ServicePrincipal Get-ManagementScope Get-ManagementRoleAssignment "
             "Test-ServicePrincipalAuthorization Get-ApplicationAccessPolicy",
             "read the RBAC for Applications objects and test what they grant", "plan", only_if=rbac_scoped,
             source=APP_RBAC_DOC),
    *cmdlets("New-ServicePrincipal Remove-ServicePrincipal New-ManagementScope Set-ManagementScope "
             "Remove-ManagementScope Remove-ManagementRoleAssignment Remove-ApplicationAccessPolicy",
             "keep the service principal pointer and management scope", "apply", only_if=rbac_scoped,
             source=APP_RBAC_DOC),
    *cmdlets("New-ManagementRoleAssignment", "give the app its mailbox role inside the scope", "apply",
             only_if=rbac_scoped, elevated=True, source=APP_RBAC_DOC),
)

# The tenant's EWS gate: read to explain a refusal and to admit the app; written only for
# EWSAllowedAppIDs (and EwsEnabled when the config says so). Set-OrganizationConfig changes
# any organization setting, so the custom role's entry should be narrowed to those two
# parameters (Set-ManagementRoleEntry -Parameters).
EWS_READ = (
    *cmdlets("Get-OrganizationConfig", "read the tenant's EWS gate (EwsEnabled, EWSAllowedAppIDs, the "
             "user-agent policy)", "plan", source=EWS_DOC),
    *cmdlets("Get-CASMailbox", "read a mailbox's own EWS switch to explain a refused canary", "apply",
             source=CAS_DOC),
)
EWS_WRITE = cmdlets("Set-OrganizationConfig", "keep the app's client ID on EWSAllowedAppIDs (and turn "
                    "EwsEnabled on when ews_enabled = true)", "apply", only_if=ews_admitted, source=EWS_DOC)
