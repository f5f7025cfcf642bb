"""The directory's computed facts: mailboxes, roles claim, replication countdown."""

from __future__ import annotations

import pytest

from sssctl.emulator import constants as c
from sssctl.emulator.directory import Directory, mailbox_split


@pytest.fixture
def directory() -> Directory:
    d = Directory(client_secret="s" * 40, client_certificate_der=_der(), issuer_url="https://x/_issuer")
    d.reset(mailboxes=None, large=False)
    return d


def _der() -> bytes:
    import tempfile
    from pathlib import Path

    from sssctl.emulator.certs import load_key_material

    return load_key_material(Path(tempfile.mkdtemp())).client_certificate_der


@pytest.mark.parametrize(
    ("mailboxes", "large", "expected"),
    [
        (None, False, (25, 5)),
        (None, True, (47_500, 2_500)),
        (40, False, (35, 5)),
        (3, False, (0, 3)),
        (200, True, (190, 10)),
    ],
)
def test_mailbox_split_follows_the_dataverse_seed(
    mailboxes: int | None, large: bool, expected: tuple[int, int]
) -> None:
    assert mailbox_split(mailboxes, large=large) == expected


def test_mailbox_exists_only_for_seeded_addresses(directory: Directory) -> None:
    assert directory.mailbox_exists(c.user_email(1))
    assert directory.mailbox_exists(c.user_email(25).upper())
    assert directory.mailbox_exists(c.queue_email(5))
    assert not directory.mailbox_exists(c.user_email(26))
    assert not directory.mailbox_exists("user1@contoso.com")  # not the seed's spelling
    assert not directory.mailbox_exists("user001@fabrikam.com")


def test_roles_claim_comes_from_app_role_assignments(directory: Directory) -> None:
    assert directory.roles_for(c.SSSCTL_APP_ID, c.EXCHANGE_RESOURCE_APP_ID) == ("Exchange.ManageAsApp",)
    assert directory.roles_for(c.SSSCTL_APP_ID, c.DATAVERSE_RESOURCE_APP_ID) == ()
    assert directory.roles_for(c.LIMITED_APP_ID, c.GRAPH_RESOURCE_APP_ID) == ()


def test_hidden_object_stays_hidden_for_exactly_n_lookups(directory: Directory) -> None:
    directory.hidden["x"] = 2
    assert [directory.is_hidden("x") for _ in range(3)] == [True, True, False]


def test_a_group_added_for_a_test_nests_and_is_gone_after_a_reset(directory: Directory) -> None:
    from sssctl.emulator.directory import SSS_GROUP_ADDRESS

    before = set(directory.recipients)
    group = directory.add_group("sss-all", [SSS_GROUP_ADDRESS.upper()], security=True)
    assert group.kind == "MailUniversalSecurityGroup" and group.members == {SSS_GROUP_ADDRESS}
    assert group.address == "sss-all@" + SSS_GROUP_ADDRESS.partition("@")[2]
    with pytest.raises(ValueError, match="already exists"):
        directory.add_group("SSS-ALL", [], security=False)
    directory.reset(mailboxes=None, large=False)
    assert set(directory.recipients) == before
