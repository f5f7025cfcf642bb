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
# nullability, so this is an extract). Sources: Graph's CSDL as published in
# microsoftgraph/msgraph-metadata ``clean_v10_metadata/cleanMetadata.xml`` (commit 01d45f6e,
# read 2026-12-07: ``entity``, ``user``, ``appRoleAssignment``, ``assignedLicense``) and, for
# ``application``, the CSDL's entity type as quoted verbatim in a public typings generator,
# which agrees with the "Not nullable" notes of https://learn.microsoft.com/graph/api/resources/application.
# Every entity's key ``id`` is non-nullable. Types not
# listed (servicePrincipal, group, federatedIdentityCredential, the credential complex types)
# were not read; for them the emulator only promises never to answer ``null`` for a collection.
NON_NULLABLE: dict[str, frozenset[str]] = {
    "application": frozenset(
        {
            "addIns", "appRoles", "identifierUris", "keyCredentials", "logo",
            "oauth2RequirePostResponse", "passwordCredentials", "requiredResourceAccess", "tags",
        }
    ),
    "user": frozenset(
        {
            "assignedLicenses", "assignedPlans", "birthday", "businessPhones", "deviceEnrollmentLimit",
            "hireDate", "otherMails", "provisionedPlans", "proxyAddresses",
        }
    ),
    "appRoleAssignment": frozenset({"appRoleId"}),
    "assignedLicense": frozenset({"disabledPlans"}),
}
ENTITY_TYPES = frozenset(DECLARED)  # each has the non-nullable key ``id``


def non_nullable(type_name: str, name: str) -> bool:
    """Whether the metadata declares ``type_name.name`` ``Nullable="false"`` (as extracted)."""
    return (name == "id" and type_name in ENTITY_TYPES) or name in NON_NULLABLE.get(type_name, ())
