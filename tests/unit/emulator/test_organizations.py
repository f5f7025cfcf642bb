"""Several organizations in one emulator: distinct URLs that are never prefixes of each other."""

from __future__ import annotations

import pytest

from sssctl.emulator.server import EmulatorError, _check_organizations, organization_prefixes


def test_the_first_organization_keeps_the_classic_url_and_the_others_are_distinct() -> None:
    prefixes = organization_prefixes(3)
    assert prefixes == {"org1": "/dataverse", "org2": "/dataverse-org2", "org3": "/dataverse-org3"}
    urls = [f"{p}/" for p in prefixes.values()]
    assert not any(a != b and b.startswith(a) for a in urls for b in urls)


@pytest.mark.parametrize("count", [0, 201, True])
def test_a_count_out_of_range_is_refused(count: int) -> None:
    with pytest.raises(EmulatorError, match="organizations must be a whole number from 1 to 200"):
        _check_organizations(count)


def test_each_organization_has_its_own_id_and_every_row_names_it() -> None:
    """A snapshot of one organization must be refusable in another, as in Dataverse."""
    from sssctl.emulator import constants
    from sssctl.emulator.dataverse.seed import build
    from sssctl.emulator.dataverse.store import Store

    other = "5b0c1c2e-0000-4000-8000-000000000002"
    store = Store()
    build(store, dataset="small", seed=2, mailboxes=None, business_units=None, roles=None,
          organization_id=other)
    assert list(store.table("organization")) == [other]
    named = [row.get(column) for rows in store.tables.values() for row in rows.values()
             for column in ("organizationid", "_organizationid_value") if column in row]
    assert named and set(named) == {other}
    assert constants.ORGANIZATION_ID not in named
