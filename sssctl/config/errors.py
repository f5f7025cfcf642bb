"""What a configuration problem looks like, so that every one can be shown at once.

A careful admin fixes a config in one pass only if they see every problem together, each
pointing at a file, a dotted key path and, where the source text allows, a line. That is
why :class:`ConfigError` carries a list of :class:`Finding` instead of a single message.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Finding:
    """One problem. ``file`` is a path as the user gave it, or ``$VAR`` for an environment value."""

    file: str
    key_path: str
    message: str
    line: int | None = None
    suggestion: str | None = None

    def location(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.key_path}" if self.key_path else where

    def render(self) -> str:
        """One human line: ``file:line: key.path: message (did you mean "x"?)``."""
        hint = f' (did you mean "{self.suggestion}"?)' if self.suggestion else ""
        return f"{self.location()}: {self.message}{hint}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class ConfigError(Exception):
    """The configuration cannot be used; :attr:`findings` lists every reason."""

    def __init__(self, findings: Iterable[Finding]) -> None:
        self.findings: list[Finding] = list(findings)
        super().__init__(self.render())

    def render(self) -> str:
        """All findings, one per line, in the order they were found."""
        return "\n".join(f.render() for f in self.findings) or "invalid configuration"
