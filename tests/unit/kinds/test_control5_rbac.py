"""The permission -> Exchange application role table, and which assignments already fit."""

from __future__ import annotations

from sssctl.config.model import MailboxScope
from sssctl.emulator import exchange_rbac
from sssctl.kinds._control5 import rbac


def test_mailbox_permissions_map_to_application_roles_and_others_are_left_to_consent() -> None:
    permissions = ["exchange:full_access_as_app", "graph:Mail.ReadWrite", "graph:Directory.Read.All"]
    assert rbac.roles_for(permissions) == ["Application EWS.AccessAsApp", "Application Mail.ReadWrite"]
    assert not rbac.is_mailbox_permission("graph:Directory.Read.All")


def test_every_mapped_role_is_one_exchange_offers() -> None:
    assert set(rbac.APPLICATION_ROLES.values()) <= set(exchange_rbac.APPLICATION_ROLES)


def test_an_assignment_fits_only_the_scope_the_config_names() -> None:
    by_group = MailboxScope(group="g@contoso.com", method="rbac")
    by_unit = MailboxScope(administrative_unit="EU", method="rbac")
    scoped = {"CustomResourceScope": rbac.scope_name("sss"), "RecipientAdministrativeUnitScope": None}
    unit = {"CustomResourceScope": None, "RecipientAdministrativeUnitScope": "eu"}
    assert rbac.assignment_matches(scoped, "sss", by_group)
    assert not rbac.assignment_matches(unit, "sss", by_group)
    assert rbac.assignment_matches(unit, "sss", by_unit)
    assert not rbac.assignment_matches(scoped, "sss", by_unit)


def test_newest_assignment_time_sets_the_propagation_grace() -> None:
    first, later = {"WhenCreatedUTC": "2026-01-01T10:00:00Z"}, {"WhenCreatedUTC": "2026-01-01T11:00:00Z"}
    made, earlier = rbac.created_at([first, later, {"WhenCreatedUTC": "garbage"}]), rbac.created_at([first])
    assert made is not None and earlier is not None and made - earlier == 3600
    assert rbac.created_at([]) is None
