"""Find the line where a key was written, by scanning the TOML text.

``tomllib`` forgets positions, yet "line 12" is what lets an admin fix a finding in one
look. A light scan is enough: table headers and ``key = value`` lines give the dotted path
of every key written at the start of a line. Keys inside inline tables or arrays map to
the line of their enclosing key, which is where an editor would jump anyway.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# Written so that no line, however long, makes a pattern backtrack more than linearly.
_HEADER = re.compile(r"^\s*\[\[?(?P<path>[^\]]*)\]\]?\s*(#.*)?$")
# Key paths are remembered to this many parts; deeper ones (which the loader refuses)
# are located by that prefix, so a hostile file cannot make the index quadratic.
MAX_PARTS = 32
_KEY = r"""(?:"[^"]*"|'[^']*'|[A-Za-z0-9_-]+)"""
_ASSIGN = re.compile(rf"^\s*(?P<path>{_KEY}(?:\s*\.\s*{_KEY})*)\s*=")
_SEGMENT = re.compile(r"""\s*(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?P<bare>[A-Za-z0-9_-]+))\s*(?:\.|$)""")


def split_key(text: str) -> tuple[str, ...]:
    """``a."b.c".d`` -> ``("a", "b.c", "d")``; an unparsable key gives ``()``."""
    parts: list[str] = []
    pos = 0
    while pos < len(text):
        match = _SEGMENT.match(text, pos)
        if match is None or match.end() == pos:
            return ()
        parts.append(match.group("dq") if match.group("dq") is not None
                     else match.group("sq") if match.group("sq") is not None
                     else match.group("bare"))
        pos = match.end()
    return tuple(parts)


def _opens_multiline(line: str) -> str | None:
    """The delimiter if ``line`` leaves a multi-line string open (its lines hold no keys)."""
    for delimiter in ('"""', "'''"):
        if line.count(delimiter) % 2 == 1:
            return delimiter
    return None


class LineIndex:
    """Dotted key path -> first line (1-based) where it was declared."""

    def __init__(self, text: str) -> None:
        self._lines: dict[tuple[str, ...], int] = {}
        table: tuple[str, ...] = ()
        inside: str | None = None               # the delimiter of an open multi-line string
        for number, line in enumerate(text.splitlines(), start=1):
            if inside is not None:
                if line.count(inside) % 2 == 1:
                    inside = None
                continue
            inside = _opens_multiline(line)
            header = _HEADER.match(line)
            if header:
                table = split_key(header.group("path").strip())[:MAX_PARTS]
                self._remember(table, number)
                continue
            assign = _ASSIGN.match(line)
            if assign:
                key = split_key(assign.group("path"))
                if key:
                    self._remember((table + key)[:MAX_PARTS], number)

    def _remember(self, path: tuple[str, ...], number: int) -> None:
        for end in range(1, len(path) + 1):
            self._lines.setdefault(path[:end], number)

    def line_of(self, path: Sequence[str]) -> int | None:
        """Line of ``path`` or of its nearest declared ancestor; ``None`` if nothing matches."""
        for end in range(min(len(path), MAX_PARTS), 0, -1):
            found = self._lines.get(tuple(path[:end]))
            if found is not None:
                return found
        return None
