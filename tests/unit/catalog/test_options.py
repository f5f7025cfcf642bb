import pytest

from sssctl.catalog import options


def test_act_numbering_differs_from_incoming_and_outgoing() -> None:
    # The trap: server-side sync is 2 for email but 1 for appointments/contacts/tasks,
    # and 2 means "none" for ACT.
    assert options.INCOMING_EMAIL["server_side_sync"] == 2
    assert options.OUTGOING_EMAIL["server_side_sync"] == 2
    assert options.APPOINTMENTS_CONTACTS_TASKS["server_side_sync"] == 1
    assert options.APPOINTMENTS_CONTACTS_TASKS["none"] == 2
    assert options.APPOINTMENTS_CONTACTS_TASKS["outlook"] == 0


@pytest.mark.parametrize(
    ("vocabulary", "expected"),
    [
        ("incoming_email", {"none": 0, "outlook": 1, "server_side_sync": 2, "forward_mailbox": 3}),
        ("outgoing_email", {"none": 0, "outlook": 1, "server_side_sync": 2}),
        ("appointments_contacts_tasks", {"outlook": 0, "server_side_sync": 1, "none": 2}),
        ("incoming_email_filtering",
         {"all": 0, "responses": 1, "leads_contacts_accounts": 2, "email_enabled_records": 3, "none": 4}),
    ],
)
def test_every_vocabulary_has_its_documented_numbers(vocabulary: str, expected: dict[str, int]) -> None:
    assert dict(options.VOCABULARIES[vocabulary]) == expected
    assert options.labels(vocabulary) == tuple(expected)


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (lambda: options.labels("colour"), "no option vocabulary"),
    ],
)
def test_unknown_values_raise_a_named_error(call: object, fragment: str) -> None:
    with pytest.raises(options.UnknownOption, match=fragment):
        call()  # type: ignore[operator]


def test_org_columns_point_to_their_section() -> None:
    assert options.org_column_home("RequireApprovalForUserEmail") == "[approval] require_for_users"
    assert "mailbox_defaults" in (options.org_column_home("defaultemailserverprofileid") or "")
    assert options.org_column_home("RequirePrivilegeToSelfApproveEmailAddress") is None
