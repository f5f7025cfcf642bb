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
