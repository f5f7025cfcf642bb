"""What the three Control 5 kinds share: the app's name in Entra, permission names, and
the one decision about the client secret.

Control 5 replaces the first-party trust with the customer's own app registration. Three
kinds take part (``app_registration``, ``exchange_scope``, ``server_profile_custom``) and
two of them must agree, in the same plan, on whether a new client secret is needed: the
app registration creates it and the server profile receives it. Both compute that from
the same live facts with :func:`decide_secret`, so their plans cannot contradict each
other.

Naming (stable, idempotent): the application is upserted by ``uniqueName``
``sssctl-<environment>-<key>`` (environment = ``[environment].name``, else the Dataverse
host's first label). The environment is part of it so that a test and a production
environment in one tenant never share, and never rotate away, each other's secrets.

Secrets: a secret is created with a lifetime of ``rotate_days + GRACE_DAYS`` and replaced
once it is ``rotate_days`` old or expires within ``GRACE_DAYS``. Its text exists only in
memory (a ``NewSecret`` hand-off) between the two kinds' changes of one apply; state
keeps the keyId, hint and expiry. Credentials sssctl creates carry a display name starting
with ``sssctl``; only those are ever removed.

The package is split by job: :mod:`.names`, :mod:`.graph`, :mod:`.permissions`,
:mod:`.secrets`, :mod:`.census`; the kinds use it as ``c5.<name>``.
"""

from __future__ import annotations

from sssctl.kinds._control5.census import (
    census_profiles,
    key_of_app,
)
from sssctl.kinds._control5.graph import (
    get_or_none,
    read_app,
    read_resource,
    read_resource_by_id,
    require_graph,
)
from sssctl.kinds._control5.names import (
    CREDENTIAL_PREFIX,
    DAY,
    GRACE_DAYS,
    app_address,
    app_path,
    credential_address,
    day,
    environment_label,
    iso,
    key_of_address,
    leaving_profiles,
    now,
    odata_string,
    parse_time,
    profile_address,
    scope_address,
    unique_name,
)
from sssctl.kinds._control5.permissions import (
    RESOURCE_ALIASES,
    SIGN_IN_AUDIENCE,
    Permission,
    PermissionError_,
    application_roles,
    declared_permissions,
    is_duplicate_assignment,
    permission_name,
    required_resource_access,
    resolve_permission,
    resolve_permissions,
    role_name,
    split_permission,
)
from sssctl.kinds._control5.secrets import (
    ProfileFacts,
    SecretDecision,
    SecretFacts,
    created_by_sssctl,
    decide_secret,
    describe_credential,
    fingerprint,
    profile_recorded_key,
    profiles_using,
    read_profile_rows,
    remove_credentials,
    require_on_app,
    rotate_days,
    secret_facts,
)

__all__ = [
    "CREDENTIAL_PREFIX",
    "DAY",
    "GRACE_DAYS",
    "RESOURCE_ALIASES",
    "SIGN_IN_AUDIENCE",
    "Permission",
    "PermissionError_",
    "ProfileFacts",
    "SecretDecision",
    "SecretFacts",
    "app_address",
    "app_path",
    "application_roles",
    "census_profiles",
    "created_by_sssctl",
    "credential_address",
    "day",
    "decide_secret",
    "declared_permissions",
    "describe_credential",
    "environment_label",
    "fingerprint",
    "get_or_none",
    "is_duplicate_assignment",
    "iso",
    "key_of_address",
    "key_of_app",
    "leaving_profiles",
    "now",
    "odata_string",
    "parse_time",
    "permission_name",
    "profile_address",
    "profile_recorded_key",
    "profiles_using",
    "read_app",
    "read_profile_rows",
    "read_resource",
    "read_resource_by_id",
    "remove_credentials",
    "require_graph",
    "require_on_app",
    "required_resource_access",
    "resolve_permission",
    "resolve_permissions",
    "role_name",
    "rotate_days",
    "scope_address",
    "secret_facts",
    "split_permission",
    "unique_name",
]
