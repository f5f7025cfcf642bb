"""examples/watch/: the config validates, both deployments run two replicas probed on /healthz."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from sssctl.config.loader import load

WATCH = Path(__file__).resolve().parents[3] / "examples" / "watch"

pytestmark = pytest.mark.timeout(30)


def test_the_example_config_is_valid_and_signs_in_without_a_secret() -> None:
    desired = load(WATCH / "sssctl.toml", {})
    assert desired.auth.method == "workload_identity"
    assert desired.state.backend == "azurerm"
    assert desired.watch.revert == ("mailboxes", "user_settings")


def _probes_and_args(container: dict[str, Any]) -> tuple[set[str], list[str]]:
    probes = container.get("probes") or [container[k] for k in ("livenessProbe", "readinessProbe")]
    return {p["httpGet"]["path"] for p in probes}, container["args"]


def test_kubernetes_runs_two_replicas_with_workload_identity_and_probes() -> None:
    documents = list(yaml.safe_load_all((WATCH / "kubernetes.yaml").read_text()))
    deployment = next(d for d in documents if d["kind"] == "Deployment")
    assert deployment["spec"]["replicas"] == 2
    pod = deployment["spec"]["template"]
    assert pod["metadata"]["labels"]["azure.workload.identity/use"] == "true"
    assert pod["spec"]["terminationGracePeriodSeconds"] >= 10
    paths, args = _probes_and_args(pod["spec"]["containers"][0])
    assert paths == {"/healthz"}
    assert args[0] == "watch" and "--listen" in args


def test_container_apps_runs_two_replicas_with_a_managed_identity_and_probes() -> None:
    app = yaml.safe_load((WATCH / "containerapp.yaml").read_text())
    assert app["identity"]["type"] == "UserAssigned"
    scale = app["properties"]["template"]["scale"]
    assert scale["minReplicas"] == scale["maxReplicas"] == 2
    paths, args = _probes_and_args(app["properties"]["template"]["containers"][0])
    assert paths == {"/healthz"}
    assert args[0] == "watch"
