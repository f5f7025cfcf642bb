from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sssctl.kinds._xml import XmlValueError, orgsettings_patch, parse_elements, replace_elements
from sssctl.kinds.org_setting import spec_of, typed

pytestmark = pytest.mark.timeout(60)


def test_replace_keeps_every_other_byte_and_fills_self_closed_or_missing_elements() -> None:
    text = "<EmailSettings>\n  <IncomingEmailDeliveryMethod/>\n  <Other a='1'>x</Other>\n</EmailSettings>"
    out = replace_elements(text, {"IncomingEmailDeliveryMethod": "2", "ACTDeliveryMethod": "1"})
    assert out == (
        "<EmailSettings>\n  <IncomingEmailDeliveryMethod>2</IncomingEmailDeliveryMethod>\n"
        "  <Other a='1'>x</Other>\n<ACTDeliveryMethod>1</ACTDeliveryMethod></EmailSettings>"
    )
    assert replace_elements("", {"A": "1"}) == "<EmailSettings><A>1</A></EmailSettings>"


def test_values_are_escaped_and_hostile_xml_is_refused() -> None:
    assert orgsettings_patch({"S": "a<b&c"}) == "<OrgSettings><S>a&lt;b&amp;c</S></OrgSettings>"
    bomb = '<!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]><OrgSettings><X>&b;</X></OrgSettings>'
    with pytest.raises(XmlValueError, match="orgdborgsettings"):
        parse_elements(bomb, "orgdborgsettings")
    assert parse_elements("<OrgSettings><A>1</A><B/></OrgSettings>", "x") == {"A": "1", "B": ""}


@given(st.booleans(), st.sampled_from([str.lower, str.upper, str.title]))
def test_boolean_spellings_compare_equal(value: bool, case) -> None:
    spec = spec_of("AutoTrackSentFolderItems")
    for spelling in (case(str(value)), "1" if value else "0", value):
        assert typed(spec, spelling) is value


@given(st.integers(min_value=-1, max_value=4), st.integers(min_value=0, max_value=3))
def test_number_spellings_compare_equal(value: int, zeros: int) -> None:
    spec = spec_of("SSSForceFilteringMethodForUserMailboxes")
    text = ("-" if value < 0 else "") + "0" * zeros + str(abs(value))
    assert typed(spec, text) == typed(spec, value) == value
