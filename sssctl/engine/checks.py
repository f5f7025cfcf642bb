"""Audit checks as kinds declare them: what a finding is, and how a kind says it judges one.

``sssctl audit`` reads the live environment against a hardened baseline and reports each
shortfall as a :class:`Finding`. The audit itself knows no kind: it reads the kinds that
declare checks in ``spec.checks`` and turns their declarations into findings, table rows
and SARIF rules. A kind says, per :class:`AuditCheck`:

- ``address``: this address of mine, when it differs from the baseline, is the finding
  (the common case: one setting, one check);
- ``observe``: findings judged from my own reading (``Observed``, ``extra`` included);
- ``survey``: findings judged from reads of its own, after every kind has read; the kind
  is then not read by the audit for that check (a survey must not add reads the audit
  did not make before).

``rule`` is the check's SARIF rule: a fixed id (``SSS0nn``, never renumbered: code
scanning tracks alerts by it), a name, a description and the remedy; its level is the
check's ``severity``, said once. Without a rule its findings fall under the generic
"differs from the hardened baseline" rule.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from sssctl.engine.kind import Context, Observed

Severity = Literal["high", "medium", "low", "unknown"]


@dataclass(frozen=True)
class Finding:
    """One shortfall: ``unknown`` severity when the object could not be read at all."""

    severity: str        # high | medium | low | unknown
    address: str
    summary: str
    evidence: str
    rule_id: str | None = None           # the declaring check's SARIF rule; None: the generic one
    config_key: tuple[str, ...] = ()     # where the config governs it (set by the audit)


@dataclass(frozen=True)
class Rule:
    """A SARIF rule: how code scanning names, explains and ranks a check's alerts."""

    id: str
    name: str
    short: str
    full: str
    remedy: str


@dataclass(frozen=True)
class AuditCheck:
    """One posture check a kind declares next to its spec (see the module docstring)."""

    severity: Literal["high", "medium", "low"]
    summary: str
    rule: Rule | None = None
    address: str | None = None
    config_key: tuple[str, ...] = ()     # the key of the config that governs ``address``
    observe: Callable[[Observed], Sequence[Finding]] | None = None
    survey: Callable[[Context], Sequence[Finding]] | None = None

    @property
    def reads_kind(self) -> bool:
        """Whether the audit must read the declaring kind for this check."""
        return self.address is not None or self.observe is not None
