import pytest

from sssctl.catalog.orgdborgsettings import catalogue, lookup


@pytest.mark.timeout(10)
def test_catalogue_has_every_row_with_its_type_counts() -> None:
    types = [s.type for s in catalogue().values()]
    assert len(types) == 192
    assert (types.count("Boolean"), types.count("Number"), types.count("String"), types.count("Double")) == (
        116, 68, 7, 1)


def test_lookup_ignores_case_but_answers_the_canonical_name() -> None:
    setting = lookup("requireprivilegetoselfapproveemailaddress")
    assert setting is not None
    assert setting.name == "RequirePrivilegeToSelfApproveEmailAddress"
    assert setting.type == "Boolean"
    assert setting.default == "false"
    assert setting.min_build == "9.2.22121.00146"
    assert "requirePrivilegeToSelfApproveEmailAddress" in catalogue()


def test_number_settings_carry_integer_ranges() -> None:
    setting = lookup("SSSForceFilteringMethodForUserMailboxes")
    assert setting is not None
    assert (setting.minimum, setting.maximum, setting.default) == (-1, 4, "-1")
    assert isinstance(setting.minimum, int)


def test_open_ranges_are_none() -> None:
    setting = lookup("DefaultHeightForWizardReports")
    assert setting is not None
    assert setting.type == "Double"
    assert (setting.minimum, setting.maximum) == (None, None)


def test_organization_columns_are_flagged_and_excluded_from_stored_settings() -> None:
    cat = catalogue()
    columns = {s.name for s in cat.values() if s.is_org_column}
    assert len(columns) == 13
    assert "MaxRecordsForExportToExcel" in columns
    assert not columns & {s.name for s in cat.stored_settings()}
    yammer = cat["YammerGroupId"]
    assert yammer.max_build == "9.1.9.9"
    assert "[" not in yammer.summary


def test_unknown_name_is_none_not_an_error() -> None:
    assert lookup("NoSuchSetting") is None
    assert "NoSuchSetting" not in catalogue()
    assert 42 not in catalogue()
