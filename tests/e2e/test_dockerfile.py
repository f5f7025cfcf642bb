"""The container image: checked as text everywhere, built and run only where a container
engine works (otherwise the build tests skip and say so)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")
INSTRUCTIONS = re.sub(r"\\\n\s*", " ", "\n".join(
    line for line in DOCKERFILE.splitlines() if not line.lstrip().startswith("#")))


def _engine_works() -> bool:
    docker = shutil.which("docker")
    if docker is None:
        return False
    try:
        return subprocess.run([docker, "info"], capture_output=True, timeout=30, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _lines(prefix: str) -> list[str]:
    return [line.strip() for line in INSTRUCTIONS.splitlines() if line.strip().startswith(prefix)]


def test_the_image_runs_sssctl_as_an_unprivileged_user() -> None:
    assert 'ENTRYPOINT ["sssctl"]' in _lines("ENTRYPOINT")
    users = _lines("USER ")
    assert users and users[-1] not in ("USER root", "USER 0")


def test_the_base_image_is_pinned_by_digest() -> None:
    (arg,) = _lines("ARG PYTHON_IMAGE=")
    assert re.fullmatch(r"ARG PYTHON_IMAGE=python:[\w.-]+@sha256:[0-9a-f]{64}", arg)
    stages = {line.split()[-1] for line in _lines("FROM ") if " AS " in line}
    for line in _lines("FROM "):
        image = line.split()[1]
        assert image == "${PYTHON_IMAGE}" or image in stages, line


def test_every_package_comes_from_a_hashed_lock_or_the_built_wheel() -> None:
    commands = [command for line in _lines("RUN ") for command in line.split("&&")]
    installs = [command for command in commands if "pip install" in command]
    assert installs
    for command in installs:
        assert "--require-hashes" in command or ("--no-deps" in command and "/dist/" in command), command
    assert "--no-build-isolation" in INSTRUCTIONS          # the locked setuptools builds the wheel
    assert "COPY requirements/${LOCK}.txt" in INSTRUCTIONS and "ARG LOCK=runtime" in INSTRUCTIONS


def test_a_mounted_working_directory_is_writable_and_the_sbom_ships_inside() -> None:
    assert '--user "$(id -u):$(id -g)" -v "$PWD:/work"' in DOCKERFILE
    assert '--user "$(id -u):$(id -g)" -v "$PWD:/work"' in (ROOT / "README.md").read_text(encoding="utf-8")
    assert "XDG_CACHE_HOME=/tmp/" in INSTRUCTIONS          # any uid can write its caches
    assert "chown 10001:10001 /work" in INSTRUCTIONS       # the image's own user, nothing mounted
    assert "COPY --from=sbom /sbom.cdx.json /opt/sssctl/sbom.cdx.json" in INSTRUCTIONS


def _docker(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def images() -> Iterator[dict[str, str]]:
    tags = {lock: f"sssctl-test-{lock}:{uuid.uuid4().hex[:12]}" for lock in ("runtime", "emulator")}
    try:
        for lock, tag in tags.items():
            built = _docker("build", "--build-arg", f"LOCK={lock}", "-t", tag, str(ROOT), timeout=900)
            assert built.returncode == 0, built.stderr[-3000:]
        yield tags
    finally:
        for tag in tags.values():
            _docker("rmi", "-f", tag, timeout=60)


@pytest.mark.e2e
@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.skipif(not _engine_works(), reason="no working container engine here (`docker info` fails)")
def test_the_production_image_matches_a_pip_install_and_has_no_web_server(images: dict[str, str]) -> None:
    from sssctl import __version__

    tag = images["runtime"]
    version = _docker("run", "--rm", tag, "--version")
    assert version.returncode == 0 and __version__ in version.stdout
    demo = _docker("run", "--rm", tag, "demo")
    assert demo.returncode == 1 and "pip install '.[emulator]'" in demo.stderr
    sbom = _docker("run", "--rm", "--entrypoint", "cat", tag, "/opt/sssctl/sbom.cdx.json")
    document = json.loads(sbom.stdout)
    names = {c["name"].lower() for c in document["components"]}
    assert document["metadata"]["component"]["name"] == "sssctl"
    assert "msal" in names and not {"starlette", "uvicorn", "pip", "setuptools"} & names


@pytest.mark.e2e
@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.skipif(not _engine_works(), reason="no working container engine here (`docker info` fails)")
def test_the_documented_mount_is_writable_by_the_user_who_runs_it(images: dict[str, str],
                                                                  tmp_path: Path) -> None:
    user = f"{os.getuid()}:{os.getgid()}"
    done = _docker("run", "--rm", "--user", user, "-v", f"{tmp_path}:/work", images["runtime"],
                   "init", "--example", "minimal")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "sssctl.toml").is_file()
    (tmp_path / "state").mkdir()
    probe = _docker("run", "--rm", "--user", user, "-v", f"{tmp_path}:/work", "--entrypoint", "sh",
                    images["runtime"], "-c", "touch /work/state/probe && mkdir -p \"$XDG_CACHE_HOME\"")
    assert probe.returncode == 0, probe.stderr


@pytest.mark.e2e
@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.skipif(not _engine_works(), reason="no working container engine here (`docker info` fails)")
def test_the_emulator_image_runs_the_demo(images: dict[str, str]) -> None:
    done = _docker("run", "--rm", images["emulator"], "demo")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "The second plan is empty" in done.stdout
