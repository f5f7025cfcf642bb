"""SARIF that GitHub code scanning accepts: valid against the OASIS schema, stable rules, located results."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from sssctl.audit import formats, sarif
from sssctl.audit.checks import Finding, findings_of
from tests.unit.audit.test_checks import DECLARED, LIVE

SCHEMA = json.loads((Path(__file__).parents[2] / "schemas" / "sarif-2.1.0.json").read_text())
CONFIG = """version = 1

[org_settings]
RequirePrivilegeToSelfApproveEmailAddress = false

[approval]
require_for_users = false
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "configs" / "prod.toml"
    path.parent.mkdir()
    path.write_text(CONFIG)
    return path


def _sarif(findings: list[Finding], config: Path) -> dict[str, Any]:
    text = formats.render(findings, "sarif", declared=DECLARED, config_path=config)
    return dict(json.loads(text))


def test_output_is_valid_against_the_oasis_schema(config: Path) -> None:
    document = _sarif(findings_of(DECLARED, LIVE), config)
    jsonschema.Draft4Validator.check_schema(SCHEMA)
    errors = sorted(jsonschema.Draft4Validator(SCHEMA).iter_errors(document), key=str)
    assert errors == []
    assert document["version"] == "2.1.0"


def test_the_schema_rejects_what_code_scanning_would(config: Path) -> None:
    document = _sarif(findings_of(DECLARED, LIVE), config)
    document["runs"][0]["results"][0]["level"] = "critical"      # not a SARIF level
    assert list(jsonschema.Draft4Validator(SCHEMA).iter_errors(document))


def test_no_findings_is_still_a_valid_run(config: Path) -> None:
    document = _sarif([], config)
    assert list(jsonschema.Draft4Validator(SCHEMA).iter_errors(document)) == []
    assert document["runs"][0]["results"] == []


def test_rules_are_stable_and_explain_the_remedy() -> None:
    rules = sarif.rules_of(DECLARED)
    ids = [rule.id for rule, _ in rules]
    assert ids == ["SSS000", "SSS001", "SSS002", "SSS003", "SSS004", "SSS005", "SSS006", "SSS007", "SSS008",
                   "SSS010",
                   "SSS099"]
    for rule, severity in rules:
        document = sarif._rule_document(rule, severity)
        assert document["shortDescription"]["text"] and document["fullDescription"]["text"]
        assert "Remedy:" in document["help"]["text"] and "sssctl" in document["help"]["text"]
        assert float(document["properties"]["security-severity"]) > 0


def test_one_result_per_finding_with_level_and_locations(config: Path, tmp_path: Path) -> None:
    findings = findings_of(DECLARED, LIVE)
    run = sarif.to_document(findings, declared=DECLARED, config_path=config, cwd=tmp_path)["runs"][0]
    results = run["results"]
    assert len(results) == len(findings)
    by_address = {r["locations"][0]["logicalLocations"][0]["fullyQualifiedName"]: r for r in results}
    self_approval = by_address["org_setting.RequirePrivilegeToSelfApproveEmailAddress"]
    assert self_approval["ruleId"] == "SSS004" and self_approval["level"] == "error"
    physical = self_approval["locations"][0]["physicalLocation"]
    assert physical["artifactLocation"] == {"uri": "configs/prod.toml", "uriBaseId": "%SRCROOT%"}
    assert physical["region"] == {"startLine": 4}                # the key that governs it
    assert by_address["approval"]["locations"][0]["physicalLocation"]["region"] == {"startLine": 6}
    assert by_address["approval"]["level"] == "warning"
    # not in the file at all: the file itself, line 1, where the section is to be added
    default_profile = by_address["server_profile.default"]["locations"][0]["physicalLocation"]
    assert default_profile["region"] == {"startLine": 1}
    assert by_address["user_settings"]["ruleId"] == "SSS000"   # could not be read
    for result in results:
        assert run["tool"]["driver"]["rules"][result["ruleIndex"]]["id"] == result["ruleId"]


def test_fingerprints_do_not_move_between_runs(config: Path) -> None:
    first = _sarif(findings_of(DECLARED, LIVE), config)["runs"][0]["results"]
    second = _sarif(findings_of(DECLARED, LIVE), config)["runs"][0]["results"]
    assert [r["partialFingerprints"] for r in first] == [r["partialFingerprints"] for r in second]


def test_a_config_outside_the_working_directory_is_an_absolute_file_uri(tmp_path: Path) -> None:
    elsewhere = tmp_path / "a.toml"
    assert sarif.artifact_uri(elsewhere, cwd=tmp_path / "repo").startswith("file:///")


def test_markdown_lists_findings_and_remedies() -> None:
    found = findings_of(DECLARED, LIVE)
    out = formats.render(found, "markdown", declared=DECLARED, config_path=Path("x.toml"))
    assert out.startswith("### sssctl audit") and "| Severity | Rule |" in out
    assert "`SSS001`" in out and "Remedies" in out and "[server_profiles.default]" in out
    assert "No findings" in formats.render([], "markdown", declared=DECLARED, config_path=Path("x.toml"))
