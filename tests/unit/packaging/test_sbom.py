"""`make sbom`: a CycloneDX SBOM of a production install, from the lock, by cyclonedx-py.

The full target installs the runtime lock into a fresh venv (network, minutes), so here
the same generator reads a small venv, and the Makefile is checked for the steps that make
the real one exact (the target also validates the document; run by hand it listed 29
components, and no pip, setuptools or web server)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.timeout(120)


def test_the_target_installs_the_runtime_lock_and_the_wheel_only() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    target = makefile[makefile.index("\nsbom:"):]
    target = target[:target.index("\n\n")]
    assert "--require-hashes" in target and "-r requirements/runtime.txt" in target
    assert "--no-deps $(SBOM_DIR)/dist/*.whl" in target
    assert "venv --without-pip $(SBOM_DIR)/runtime" in target      # no pip or setuptools in the SBOM
    assert "cyclonedx-py environment $(SBOM_DIR)/runtime/bin/python" in target
    assert "-o sbom.cdx.json" in target


def test_cyclonedx_reads_an_environment_with_sssctl_as_the_root_component(tmp_path: Path) -> None:
    """The pinned generator, on a fresh venv holding one package: the root component comes
    from pyproject.toml, the installed ones from the environment. (The dev environment itself
    holds too many packages to read within a unit test's time.)"""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True, timeout=30).stdout.strip()
    dist = next(Path(__import__("click").__file__).resolve().parents[1].glob("click-*.dist-info"))
    shutil.copytree(dist, Path(site) / dist.name)
    bom = tmp_path / "sbom.cdx.json"
    generator = Path(sys.executable).with_name("cyclonedx-py")
    done = subprocess.run([str(generator), "environment", str(python), "--pyproject",
                           str(ROOT / "pyproject.toml"), "--output-reproducible", "--of", "JSON",
                           "--no-validate", "-o", str(bom)], capture_output=True, text=True, timeout=100,
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    document = json.loads(bom.read_text(encoding="utf-8"))
    assert document["bomFormat"] == "CycloneDX"
    assert document["metadata"]["component"]["name"] == "sssctl"
    assert [c["name"] for c in document["components"]] == ["click"]
