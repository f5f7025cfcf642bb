"""The container image: built and run only where a container engine works."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _engine_works() -> bool:
    docker = shutil.which("docker")
    if docker is None:
        return False
    try:
        return subprocess.run([docker, "info"], capture_output=True, timeout=30, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def test_the_image_runs_sssctl_as_an_unprivileged_user() -> None:
    lines = [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines()]
    assert 'ENTRYPOINT ["sssctl"]' in lines
    users = [line for line in lines if line.startswith("USER ")]
    assert users and users[-1] != "USER root"


@pytest.mark.e2e
@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.skipif(not _engine_works(), reason="no working container engine here (`docker info` fails)")
def test_the_image_builds_and_runs_the_demo() -> None:
    tag = f"sssctl-test:{uuid.uuid4().hex[:12]}"
    try:
        built = subprocess.run(["docker", "build", "-t", tag, str(ROOT)], capture_output=True, text=True,
                               timeout=800, check=False)
        assert built.returncode == 0, built.stderr[-3000:]
        done = subprocess.run(["docker", "run", "--rm", tag, "demo"], capture_output=True, text=True,
                              timeout=120, check=False)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert "The second plan is empty" in done.stdout
    finally:
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True, timeout=60, check=False)
