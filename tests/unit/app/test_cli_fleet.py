"""``sssctl fleet`` through click with fake kinds: what a fleet's summary says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.unit.app.fakes import World
from tests.unit.app.test_cli import run, world

__all__ = ["world"]   # the fixture, shared with the other CLI tests

pytestmark = pytest.mark.timeout(60)

FLEET = """
version = 1
baseline = "a"

[members.a]
config = "sssctl.toml"
name = "env-a"

[members.b]
config = "sssctl.toml"
name = "env-b"
"""


@pytest.fixture
def fleet(world: World, tmp_path: Path) -> Path:
    path = tmp_path / "fleet.toml"
    path.write_text(FLEET, encoding="utf-8")
    return path


def test_fleet_audit_counts_findings_by_severity(fleet: Path) -> None:
    """Not "0 with changes, 0 failed" while every member has findings: an audit changes nothing."""
    single = json.loads(run("audit", "--format", "json").stdout)["findings"]
    assert single, "the fake world must have findings for this test to mean anything"
    severities = ("high", "medium", "low", "unknown")
    per_member = {s: sum(1 for f in single if f["severity"] == s) for s in severities}
    result = run("fleet", "audit", str(fleet))
    assert result.exit_code == 0, result.output
    header, *rows = result.stdout.splitlines()[:3]
    assert header.split() == ["member", "environment", *severities, "result"]
    assert [row.split()[2:6] for row in rows] == [[str(per_member[s]) for s in severities]] * 2
    found = ", ".join(f"{2 * n} {s}" for s, n in per_member.items())
    assert f"Fleet: 2 member(s), findings: {found} (2 member(s) with findings), 0 failed" in result.stdout
    assert "with changes" not in result.stdout


def test_a_members_failed_change_reads_as_english(world: World, fleet: Path) -> None:
    world.kind("approval").apply_errors["approval"] = RuntimeError("HTTP 500 from the service")
    result = run("fleet", "apply", str(fleet), "--member", "a", "--auto-approve")
    assert result.exit_code == 1
    assert "Error: approval failed: HTTP 500 from the service" in result.stdout
    assert "was failed" not in result.output


def test_fleet_audit_writes_one_sarif_log_for_code_scanning(fleet: Path) -> None:
    import jsonschema

    result = run("fleet", "audit", str(fleet), "--format", "sarif")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    schema = json.loads((Path(__file__).parents[2] / "schemas" / "sarif-2.1.0.json").read_text())
    jsonschema.validate(document, schema)
    (run_,) = document["runs"]
    members = [r["properties"]["member"] for r in run_["results"]]
    assert set(members) == {"a", "b"} and members.count("a") == members.count("b") > 0
    fingerprints = [r["partialFingerprints"]["sssctlFinding/v1"] for r in run_["results"]]
    assert len(set(fingerprints)) == len(fingerprints)   # the same finding in two members: two alerts
    assert all(r["message"]["text"].startswith(("a: ", "b: ")) for r in run_["results"])


def test_fleet_apply_takes_applys_parallelism_and_the_lock_and_run_timeouts() -> None:
    from sssctl.cli import cli

    def params(*path: str) -> dict[str, object]:
        command = cli
        for name in path:
            command = command.commands[name]  # type: ignore[attr-defined]
        return {p.name: p.default for p in command.params}

    fleet_apply, apply = params("fleet", "apply"), params("apply")
    assert fleet_apply["parallelism"] == apply["parallelism"] == 52
    assert {"lock_timeout", "run_timeout"} <= fleet_apply.keys()
    for command in ("validate", "plan", "refresh", "apply", "audit"):
        assert "sssctl fleet" in (cli.commands["fleet"].commands[command].help or "")  # type: ignore[attr-defined]


def test_fleet_refresh_takes_a_timeout_for_each_member(world: World, fleet: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from sssctl.app import runner

    opened: list[object] = []
    services = world.services()
    real = services.open_clients

    def recording(desired: object, **kwargs: object) -> object:
        opened.append(kwargs["timeout"])
        return real(desired, **kwargs)

    services.open_clients = recording
    monkeypatch.setattr(runner, "default_services", lambda: services)
    assert run("fleet", "refresh", str(fleet), "--timeout", "45m").exit_code == 0
    monkeypatch.setenv("SSSCTL_TIMEOUT", "2m")
    assert run("fleet", "refresh", str(fleet)).exit_code == 0
    assert opened == [2700.0, 2700.0, 120.0, 120.0]
    refused = run("fleet", "refresh", str(fleet), "--timeout", "soon")
    assert refused.exit_code == 2 and "'soon' is not a duration" in refused.output
