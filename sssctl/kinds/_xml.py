"""The two XML strings the organization row carries, read safely and edited minimally.

``orgdborgsettings`` is merged by the server per element (reference §2.1), so a write
sends only the managed elements and never re-serialises what it did not touch.
``defaultemailsettings`` has no server merge: it is rewritten whole, but the edit is
done on the text so that every element sssctl does not manage keeps its exact bytes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException


class XmlValueError(ValueError):
    """A stored XML column could not be parsed (names the column)."""


def parse_elements(text: str | None, column: str) -> dict[str, str]:
    """Child element name -> text of a flat settings document; empty for no value."""
    if text is None or not text.strip():
        return {}
    try:
        root: Element = SafeET.fromstring(text)
    except (SafeET.ParseError, DefusedXmlException) as exc:
        raise XmlValueError(f"organization.{column} is not valid XML: {exc}") from exc
    return {child.tag: (child.text or "") for child in root}


def orgsettings_patch(values: Mapping[str, str]) -> str:
    """An ``orgdborgsettings`` body naming only the given settings (the server merges it)."""
    inner = "".join(f"<{name}>{escape(value)}</{name}>" for name, value in values.items())
    return f"<OrgSettings>{inner}</OrgSettings>"


def replace_elements(text: str | None, values: Mapping[str, str], root: str = "EmailSettings") -> str:
    """Set element texts in a flat XML string, leaving every other byte where it was."""
    if text is None or not text.strip():
        inner = "".join(f"<{name}>{escape(value)}</{name}>" for name, value in values.items())
        return f"<{root}>{inner}</{root}>"
    result = text
    for name, value in values.items():
        element = re.compile(rf"<{re.escape(name)}\s*/>|<{re.escape(name)}>[^<]*</{re.escape(name)}>")
        replacement = f"<{name}>{escape(value)}</{name}>"
        if element.search(result):
            result = element.sub(replacement.replace("\\", "\\\\"), result, count=1)
        else:
            closing = result.rfind("</")
            result = result[:closing] + replacement + result[closing:]
    return result
