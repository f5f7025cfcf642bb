"""Audit findings as SARIF 2.1.0, the format GitHub code scanning ingests.

Code scanning tracks an alert across runs by its rule id and location, so rule ids are
fixed here and never renumbered; a new check gets a new id. GitHub refuses a result
without a physical location, so every result points into the configuration file: at the
key that governs the finding when the file declares it, else at its nearest enclosing
table, else at line 1 (the remedy is then to add the section). The resource address is
the logical location.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sssctl import __version__
from sssctl.audit.checks import Declared, Finding
from sssctl.config.lines import LineIndex
from sssctl.engine.checks import Rule

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"


# The two rules no kind declares: an object that could not be read, and a difference no
# check names. Every other rule comes from the kinds' declared checks, sorted by id.
COULD_NOT_BE_CHECKED = Rule(
    "SSS000", "CouldNotBeChecked", "A baseline object could not be read",
    "sssctl could not read an object the hardened baseline covers, so its posture is unknown; "
    "an unreadable object is never reported as compliant.",
    "Run `sssctl auth check` to see which permission or service is missing, fix it, and audit again.")
DIFFERS_FROM_BASELINE = Rule(
    "SSS099", "DiffersFromBaseline", "A setting differs from the hardened baseline",
    "A setting the hardened baseline covers has another value live.",
    "Compare `sssctl plan` with configs/hardened.toml and set the value in the configuration.")

RuleLevel = tuple[Rule, str]     # a rule and the severity of its findings


def rules_of(declared: Declared) -> list[RuleLevel]:
    return [(COULD_NOT_BE_CHECKED, "unknown"), *declared.rules(), (DIFFERS_FROM_BASELINE, "low")]


_LEVELS = {"high": "error", "unknown": "error", "medium": "warning", "low": "note"}
# GitHub ranks security alerts by this number: >= 7 high, >= 4 medium, below that low.
_SECURITY_SEVERITY = {"high": "8.0", "unknown": "7.0", "medium": "5.0", "low": "3.0"}


def rule_for(finding: Finding, rules: Sequence[RuleLevel]) -> Rule:
    if finding.severity == "unknown":
        return COULD_NOT_BE_CHECKED
    wanted = finding.rule_id or DIFFERS_FROM_BASELINE.id
    return next((rule for rule, _ in rules if rule.id == wanted), DIFFERS_FROM_BASELINE)


def config_key(finding: Finding) -> tuple[str, ...]:
    """The configuration key that governs the finding, as its check declared it."""
    if finding.config_key:
        return finding.config_key
    head, _, rest = finding.address.partition(".")
    return (head, rest) if rest else (head,)


def repository_root(path: Path) -> Path | None:
    """The top level of the git work tree holding ``path`` (where ``.git`` is), if any.

    Found by walking up rather than by running git, which a container image may lack; a
    work tree of ``git worktree`` or a submodule has a ``.git`` file, so either counts.
    """
    for folder in path.resolve().parents:
        if (folder / ".git").exists():
            return folder
    return None


def artifact_uri(config_path: Path, cwd: Path | None = None) -> str:
    """Relative to the repository root, which code scanning resolves ``%SRCROOT%`` to.

    Not to the working directory: a pipeline step running in ``working-directory: infra``
    would otherwise report ``configs/prod.toml`` for ``infra/configs/prod.toml``, and the
    alert would point at a file that does not exist. Outside any repository the working
    directory stands in; a file outside that too gets an absolute ``file:`` URI.
    """
    absolute = config_path.resolve()
    here = repository_root(absolute) or (cwd or Path.cwd()).resolve()
    try:
        return absolute.relative_to(here).as_posix()
    except ValueError:
        return absolute.as_uri()


def _artifact(uri: str) -> dict[str, str]:
    return {"uri": uri} if uri.startswith("file:") else {"uri": uri, "uriBaseId": "%SRCROOT%"}


def _read_lines(config_path: Path) -> LineIndex:
    try:
        return LineIndex(config_path.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return LineIndex("")


def _rule_document(rule: Rule, severity: str) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": rule.name,
        "shortDescription": {"text": rule.short},
        "fullDescription": {"text": rule.full},
        "help": {"text": f"{rule.full}\n\nRemedy: {rule.remedy}",
                 "markdown": f"{rule.full}\n\n**Remedy:** {rule.remedy}"},
        "defaultConfiguration": {"level": _LEVELS[severity]},
        "properties": {"security-severity": _SECURITY_SEVERITY[severity],
                       "tags": ["security", "dynamics-365", "server-side-sync"], "precision": "high"},
    }


def _result(finding: Finding, rule: Rule, rule_index: int, uri: str, lines: LineIndex, *,
            member: str | None = None) -> dict[str, Any]:
    message = f"{finding.summary}: {finding.evidence}" if finding.evidence else finding.summary
    where = f"{member}: {finding.address}" if member else finding.address
    identity = f"{rule.id}\n{finding.address}" + (f"\n{member}" if member else "")
    fingerprint = hashlib.sha256(identity.encode()).hexdigest()[:32]
    return {
        "ruleId": rule.id,
        "ruleIndex": rule_index,
        "level": _LEVELS.get(finding.severity, "warning"),
        "message": {"text": f"{where}: {message}"},
        "locations": [{
            "physicalLocation": {
                "artifactLocation": _artifact(uri),
                "region": {"startLine": lines.line_of(config_key(finding)) or 1},
            },
            "logicalLocations": [{"name": finding.address, "fullyQualifiedName": where,
                                  "kind": "resource"}],
        }],
        "partialFingerprints": {"sssctlFinding/v1": fingerprint},
        "properties": {"severity": finding.severity, **({"member": member} if member else {})},
    }


@dataclass(frozen=True)
class Audited:
    """One environment's findings and the config that governs it (a fleet member's overlay)."""

    findings: Sequence[Finding]
    config_path: Path
    member: str | None = None


def to_document(findings: Sequence[Finding], *, declared: Declared, config_path: Path,
                cwd: Path | None = None) -> dict[str, Any]:
    return document_of([Audited(findings, config_path)], declared=declared, cwd=cwd)


def document_of(audited: Sequence[Audited], *, declared: Declared, cwd: Path | None = None) -> dict[str, Any]:
    """One run for every environment: code scanning keeps one analysis per tool and category,
    so a fleet's members share a run, each result located in the member's own config and
    fingerprinted with the member's name (the same finding in two members is two alerts)."""
    rules = rules_of(declared)
    index = {rule.id: i for i, (rule, _) in enumerate(rules)}
    results = []
    for one in audited:
        uri = artifact_uri(one.config_path, cwd)
        lines = _read_lines(one.config_path)
        for finding in one.findings:
            rule = rule_for(finding, rules)
            results.append(_result(finding, rule, index[rule.id], uri, lines, member=one.member))
    driver = {"name": "sssctl", "version": __version__, "semanticVersion": __version__,
              "rules": [_rule_document(rule, severity) for rule, severity in rules]}
    run = {"tool": {"driver": driver}, "results": results, "columnKind": "unicodeCodePoints"}
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}
