"""Merge-on-write of ``organization.orgdborgsettings`` (reference §2.1).

A write upserts each element it names into the stored settings and keeps every other
stored element exactly as it was, byte for byte (``True`` stays ``True``, ``1`` stays
``1``); new names are appended. An empty string wipes everything. Elements keep the text
the writer sent, so a client reading back sees precisely what it wrote.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as StdET

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

from .errors import INVALID_ARGUMENT, DataverseFault

ROOT_NAMES = ("OrgSettings", "orgSettings")
_ELEMENT = re.compile(r"<([A-Za-z_][\w.-]*)(?:\s[^<>]*?)?(?:/>|>(?:.*?)</\1\s*>)", re.DOTALL)


def _invalid(why: str) -> DataverseFault:
    return DataverseFault(400, INVALID_ARGUMENT, f"The value of orgdborgsettings is not valid: {why}")


def elements(xml: str) -> list[tuple[str, str]]:
    """The top-level settings of an OrgSettings document as (name, raw element text) pairs."""
    try:
        root = ElementTree.fromstring(xml)
    except (StdET.ParseError, DefusedXmlException) as exc:
        raise _invalid(f"it is not well-formed XML ({exc})") from exc
    if root.tag not in ROOT_NAMES:
        raise _invalid(f"the root element must be <OrgSettings>, not <{root.tag}>")
    if len(root) == 0:
        return []
    if any(len(child) for child in root):
        raise _invalid("a setting must hold a text value, not nested elements")
    body = re.sub(r"^\s*<\?xml[^>]*\?>", "", xml).strip()  # an XML declaration is allowed
    inner = re.sub(r"^\s*<\w+\s*>|</\w+\s*>\s*$", "", body)
    found = [(m.group(1), m.group(0)) for m in _ELEMENT.finditer(inner)]
    if [name for name, _ in found] != [child.tag for child in root]:
        raise _invalid("could not read the settings one by one")
    return found


def merge(stored: str | None, written: str | None) -> str:
    """The stored value after writing ``written`` over ``stored``."""
    if written is None or written.strip() == "":
        return ""
    incoming = elements(written)
    current = dict(elements(stored)) if stored else {}
    for name, raw in incoming:
        current[name] = raw
    return "<OrgSettings>" + "".join(current.values()) + "</OrgSettings>"


def value_of(stored: str | None, name: str) -> str | None:
    """The text of one stored setting, or None when it is not set."""
    if not stored:
        return None
    element = ElementTree.fromstring(stored).find(name)
    return None if element is None else (element.text or "")
