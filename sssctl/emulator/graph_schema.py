"""The properties Microsoft Graph v1.0 declares on the entity types the emulator serves.

Taken from Graph's published v1.0 metadata (https://graph.microsoft.com/v1.0/$metadata) as
the generated models of the Python Graph SDK (``msgraph-sdk`` 1.65.0) carry it: structural
and navigation properties, including those inherited from ``entity`` / ``directoryObject``.
``tests/integration/emulator/test_graph_schema.py`` re-derives them from the installed SDK, so the
two cannot drift apart unnoticed.

``$select`` of a name not declared here is refused as Graph refuses it:
``400 BadRequest`` "Parsing OData Select and Expand failed: Could not find a property named
'x' on type 'microsoft.graph.application'." (as captured in
https://github.com/microsoftgraph/microsoft-graph-docs-contrib/issues/4529). A write naming
an undeclared property gets ``400 Request_BadRequest`` "The property 'x' does not exist on
type 'microsoft.graph.application'. Make sure to only use property names that are defined
by the type." (the directory's text, captured in
https://github.com/microsoftgraph/microsoft-graph-docs-contrib/issues/7960).
"""

from __future__ import annotations

DECLARED: dict[str, frozenset[str]] = {
    "application": frozenset(
        {
            "addIns", "api", "appId", "appManagementPolicies", "appRoles", "applicationTemplateId",
            "authenticationBehaviors", "certification", "createdByAppId", "createdDateTime",
            "createdOnBehalfOf", "defaultRedirectUri", "deletedDateTime", "description",
            "disabledByMicrosoftStatus", "displayName", "extensionProperties",
            "federatedIdentityCredentials", "groupMembershipClaims", "homeRealmDiscoveryPolicies",
            "id", "identifierUris", "info", "isDeviceOnlyAuthSupported", "isDisabled",
            "isFallbackPublicClient", "keyCredentials", "logo", "managerApplications",
            "nativeAuthenticationApisEnabled", "notes", "oauth2RequirePostResponse",
            "optionalClaims", "owners", "parentalControlSettings", "passwordCredentials",
            "publicClient", "publisherDomain", "requestSignatureVerification",
            "requiredResourceAccess", "samlMetadataUrl", "serviceManagementReference",
            "servicePrincipalLockConfiguration", "signInAudience", "spa", "synchronization", "tags",
            "tokenEncryptionKeyId", "tokenIssuancePolicies", "tokenLifetimePolicies", "uniqueName",
            "verifiedPublisher", "web"
        }
    ),
    "servicePrincipal": frozenset(
        {
            "accountEnabled", "addIns", "alternativeNames", "appDescription", "appDisplayName",
            "appId", "appManagementPolicies", "appOwnerOrganizationId", "appRoleAssignedTo",
            "appRoleAssignmentRequired", "appRoleAssignments", "appRoles", "applicationTemplateId",
            "claimsMappingPolicies", "createdByAppId", "createdObjects", "customSecurityAttributes",
            "delegatedPermissionClassifications", "deletedDateTime", "description",
            "disabledByMicrosoftStatus", "displayName", "endpoints", "federatedIdentityCredentials",
            "homeRealmDiscoveryPolicies", "homepage", "id", "info", "isDisabled", "keyCredentials",
            "loginUrl", "logoutUrl", "memberOf", "notes", "notificationEmailAddresses",
            "oauth2PermissionGrants", "oauth2PermissionScopes", "ownedObjects", "owners",
            "passwordCredentials", "preferredSingleSignOnMode",
            "preferredTokenSigningKeyThumbprint", "remoteDesktopSecurityConfiguration", "replyUrls",
            "resourceSpecificApplicationPermissions", "samlSingleSignOnSettings",
            "servicePrincipalNames", "servicePrincipalType", "signInAudience", "synchronization",
            "tags", "tokenEncryptionKeyId", "tokenIssuancePolicies", "tokenLifetimePolicies",
            "transitiveMemberOf", "verifiedPublisher"
        }
    ),
    "federatedIdentityCredential": frozenset(
        {
            "audiences", "description", "id", "issuer", "name", "subject"
        }
    ),
    "appRoleAssignment": frozenset(
        {
            "appRoleId", "createdDateTime", "deletedDateTime", "id", "principalDisplayName",
            "principalId", "principalType", "resourceDisplayName", "resourceId"
        }
    ),
    "user": frozenset(
        {
            "aboutMe", "accountEnabled", "activities", "adhocCalls", "ageGroup", "agreementAcceptances",
            "appRoleAssignments", "assignedLicenses", "assignedPlans", "authentication",
            "authorizationInfo", "birthday", "businessPhones", "calendar", "calendarGroups",
            "calendarView", "calendars", "chats", "city", "cloudClipboard", "cloudPCs", "companyName",
            "consentProvidedForMinor", "contactFolders", "contacts", "country", "createdDateTime",
            "createdObjects", "creationType", "customSecurityAttributes", "dataSecurityAndGovernance",
            "deletedDateTime", "department", "deviceEnrollmentLimit",
            "deviceManagementTroubleshootingEvents", "directReports", "displayName", "drive", "drives",
            "employeeExperience", "employeeHireDate", "employeeId", "employeeLeaveDateTime",
            "employeeOrgData", "employeeType", "events", "extensions", "externalUserState",
            "externalUserStateChangeDateTime", "faxNumber", "followedSites", "givenName", "hireDate",
            "id", "identities", "identityParentId", "imAddresses", "inferenceClassification",
            "insights", "interests", "isManagementRestricted", "isResourceAccount", "jobTitle",
            "joinedTeams", "lastPasswordChangeDateTime", "legalAgeGroupClassification",
            "licenseAssignmentStates", "licenseDetails", "mail", "mailFolders", "mailNickname",
            "mailboxSettings", "managedAppRegistrations", "managedDevices", "manager", "memberOf",
            "messages", "mobilePhone", "mySite", "notes", "oauth2PermissionGrants", "officeLocation",
            "onPremisesDistinguishedName", "onPremisesDomainName", "onPremisesExtensionAttributes",
            "onPremisesImmutableId", "onPremisesLastSyncDateTime", "onPremisesProvisioningErrors",
            "onPremisesSamAccountName", "onPremisesSecurityIdentifier", "onPremisesSyncBehavior",
            "onPremisesSyncEnabled", "onPremisesUserPrincipalName", "onenote", "onlineMeetings",
            "otherMails", "outlook", "ownedDevices", "ownedObjects", "passwordPolicies",
            "passwordProfile", "pastProjects", "people", "permissionGrants", "photo", "photos",
            "planner", "postalCode", "preferredDataLocation", "preferredLanguage", "preferredName",
            "presence", "print", "provisionedPlans", "proxyAddresses", "registeredDevices",
            "responsibilities", "schools", "scopedRoleMemberOf", "securityIdentifier",
            "serviceProvisioningErrors", "settings", "showInAddressList", "signInActivity",
            "signInSessionsValidFromDateTime", "skills", "solutions", "sponsorOf", "sponsors", "state",
            "streetAddress", "surname", "teamwork", "todo", "transitiveMemberOf", "usageLocation",
            "userPrincipalName", "userType"
        }
    ),
    "group": frozenset(
        {
            "acceptedSenders", "accessType", "allowExternalSenders", "appRoleAssignments",
            "assignedLabels", "assignedLicenses", "autoSubscribeNewMembers", "calendar", "calendarView",
            "classification", "conversations", "createdDateTime", "createdOnBehalfOf",
            "deletedDateTime", "description", "displayName", "drive", "drives", "events",
            "expirationDateTime", "extensions", "groupLifecyclePolicies", "groupTypes",
            "hasMembersWithLicenseErrors", "hideFromAddressLists", "hideFromOutlookClients", "id",
            "infoCatalogs", "isArchived", "isAssignableToRole", "isFavorite", "isManagementRestricted",
            "isSubscribedByMail", "licenseProcessingState", "mail", "mailEnabled", "mailNickname",
            "memberOf", "members", "membersWithLicenseErrors", "membershipRule",
            "membershipRuleProcessingState", "onPremisesDomainName", "onPremisesExtensionAttributes",
            "onPremisesLastSyncDateTime", "onPremisesNetBiosName", "onPremisesProvisioningErrors",
            "onPremisesSamAccountName", "onPremisesSecurityIdentifier", "onPremisesSyncBehavior",
            "onPremisesSyncEnabled", "onenote", "organizationId", "owners", "permissionGrants", "photo",
            "photos", "planner", "preferredDataLocation", "preferredLanguage", "proxyAddresses",
            "rejectedSenders", "renewedDateTime", "resourceBehaviorOptions",
            "resourceProvisioningOptions", "securityEnabled", "securityIdentifier",
            "serviceProvisioningErrors", "settings", "sites", "team", "theme", "threads",
            "transitiveMemberOf", "transitiveMembers", "uniqueName", "unseenConversationsCount",
            "unseenCount", "unseenMessagesCount", "visibility", "welcomeMessageEnabled"
        }
    ),
}

# Properties Graph's v1.0 metadata declares ``Nullable="false"`` (the SDK models do not carry
# nullability, so this is an extract). Source: Graph's CSDL as published in the repository
# microsoftgraph/msgraph-metadata, file ``clean_v10_metadata/cleanMetadata.xml``, commit
# 01d45f6e672d444bcc04a72fd5f0aea748971791, read 2026-12-07, each type's ``<EntityType>`` /
# ``<ComplexType>`` element in full. Every type below was read there; a type read there
# with no ``Nullable="false"`` property is listed empty, so "read, all nullable" and "not
# read" cannot be confused. Every entity's key ``id`` is non-nullable (``entity``).
#
# Read, all nullable: ``directoryObject`` (``deletedDateTime``), ``keyCredential``,
# ``passwordCredential``, ``certification``,
# ``informationalUrl``, ``optionalClaims``, ``parentalControlSettings``, ``verifiedPublisher``,
# ``samlSingleSignOnSettings``, ``implicitGrantSettings``, ``redirectUriSettings``, the user's
# complex types (``assignedPlan``, ``authorizationInfo``, ``employeeOrgData``,
# ``objectIdentity``, ``licenseAssignmentState``, ``onPremisesExtensionAttributes``,
# ``onPremisesProvisioningError``, ``passwordProfile``, ``provisionedPlan``,
# ``mailboxSettings``).
#
# Not read (not found at that commit, or not located in the time given), so unchecked here:
# ``keyValue``, ``assignedLabel``, ``licenseProcessingState``, ``serviceProvisioningError``,
# ``signInActivity``, ``automaticRepliesSetting``, ``localeInfo``, ``workingHours``,
# ``timeZoneBase``, ``customSecurityAttributeValue``, ``userPrint``,
# ``servicePrincipalLockConfiguration``, ``requestSignatureVerification``,
# ``authenticationBehaviors``, and the properties the SDK (a newer metadata) declares but that
# commit does not (e.g. ``application.authenticationBehaviors``, ``user.signInActivity``,
# ``group.uniqueName``). For those the emulator only promises never to answer ``null`` for a
# collection.
NON_NULLABLE: dict[str, frozenset[str]] = {
    "application": frozenset(
        {
            "addIns", "appRoles", "identifierUris", "keyCredentials", "logo",
            "oauth2RequirePostResponse", "passwordCredentials", "requiredResourceAccess", "tags",
        }
    ),
    "servicePrincipal": frozenset(
        {
            "addIns", "alternativeNames", "appRoleAssignmentRequired", "appRoles", "keyCredentials",
            "notificationEmailAddresses", "oauth2PermissionScopes", "passwordCredentials",
            "replyUrls", "resourceSpecificApplicationPermissions", "servicePrincipalNames", "tags",
        }
    ),
    "federatedIdentityCredential": frozenset({"audiences", "issuer", "name", "subject"}),
    "user": frozenset(
        {
            "assignedLicenses", "assignedPlans", "birthday", "businessPhones", "deviceEnrollmentLimit",
            "hireDate", "otherMails", "provisionedPlans", "proxyAddresses",
        }
    ),
    "group": frozenset({"groupTypes", "proxyAddresses"}),
    "appRoleAssignment": frozenset({"appRoleId"}),
    "directoryObject": frozenset(),
    # complex types
    "addIn": frozenset({"properties", "type"}),
    "apiApplication": frozenset({"oauth2PermissionScopes"}),
    "appRole": frozenset({"allowedMemberTypes", "id", "isEnabled"}),
    "assignedLicense": frozenset({"disabledPlans"}),
    "dateTimeTimeZone": frozenset({"dateTime"}),
    "keyCredential": frozenset(),
    "optionalClaim": frozenset({"essential", "name"}),
    "passwordCredential": frozenset(),
    "permissionScope": frozenset({"id", "isEnabled"}),
    "preAuthorizedApplication": frozenset({"delegatedPermissionIds"}),
    "publicClientApplication": frozenset({"redirectUris"}),
    "requiredResourceAccess": frozenset({"resourceAccess", "resourceAppId"}),
    "resourceAccess": frozenset({"id"}),
    "resourceSpecificPermission": frozenset({"id", "isEnabled"}),
    "spaApplication": frozenset({"redirectUris"}),
    "webApplication": frozenset({"redirectUriSettings", "redirectUris"}),
    **{
        name: frozenset()
        for name in (
            "assignedPlan", "authorizationInfo", "certification", "employeeOrgData",
            "implicitGrantSettings", "informationalUrl", "licenseAssignmentState", "mailboxSettings",
            "objectIdentity", "onPremisesExtensionAttributes", "onPremisesProvisioningError",
            "optionalClaims", "parentalControlSettings", "passwordProfile", "provisionedPlan",
            "redirectUriSettings", "samlSingleSignOnSettings", "verifiedPublisher",
        )
    },
}
# The types read in the CSDL (listed above, possibly with no non-nullable property); any other
# type reached from a served entity is unchecked.
READ_IN_CSDL = frozenset(NON_NULLABLE)
ENTITY_TYPES = frozenset(DECLARED)  # each has the non-nullable key ``id``


def non_nullable(type_name: str, name: str) -> bool:
    """Whether the metadata declares ``type_name.name`` ``Nullable="false"`` (as extracted)."""
    return (name == "id" and type_name in ENTITY_TYPES) or name in NON_NULLABLE.get(type_name, ())
