"""A user's install: build the wheel, install it into a fresh virtual environment, and run
`sssctl demo` and `sssctl init` from an unrelated directory."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(240)]

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ("sssctl", "pyproject.toml", "README.md", "LICENSE")


def _run(*command: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(c) for c in command], cwd=cwd, capture_output=True, text=True,
                          timeout=200, check=False)
    assert done.returncode == 0, f"{command}: {done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin/ directory of a fresh venv holding the built wheel (and the venv's own pip).

    The dependencies come from the test environment's site-packages through a plain path
    line in a .pth file: that adds the directory without running its own .pth files, so the
    development (editable) install of sssctl stays invisible and only the wheel is imported.
    """
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    source.mkdir()
    for name in SOURCE:
        origin = ROOT / name
        if origin.is_dir():
            shutil.copytree(origin, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(origin, source / name)
    # The fresh venv brings its own pip (ensurepip, offline): the test environment need not
    # have one (a venv made from the hashed lock by another installer has none).
    venv = work / "venv"
    _run(sys.executable, "-m", "venv", venv, cwd=work)
    python = venv / "bin" / "python"
    _run(python, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", work / "dist", source, cwd=work)
    wheel = next((work / "dist").glob("sssctl-*.whl"))
    _run(python, "-m", "pip", "install", "--no-deps", "--quiet", wheel, cwd=work)
    site = Path(_run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])",
                     cwd=work).stdout.strip())
    (site / "test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv / "bin"


def test_the_installed_package_is_the_wheel_not_the_checkout(installed: Path, tmp_path: Path) -> None:
    done = _run(installed / "python", "-c", "import sssctl; print(sssctl.__file__)", cwd=tmp_path)
    assert Path(done.stdout.strip()).is_relative_to(installed.parent)


def test_demo_runs_from_any_directory(installed: Path, tmp_path: Path) -> None:
    done = _run(installed / "sssctl", "demo", cwd=tmp_path)
    assert "The second plan is empty" in done.stdout
    assert list(tmp_path.iterdir()) == []  # nothing left behind in the user's directory


def test_init_writes_a_config_that_validates(installed: Path, tmp_path: Path) -> None:
    _run(installed / "sssctl", "init", "--example", "minimal", cwd=tmp_path)
    done = _run(installed / "sssctl", "validate", "sssctl.toml", cwd=tmp_path)
    assert "valid" in done.stdout


def test_the_wheel_ships_the_fleet_example_the_policies_and_its_types(installed: Path,
                                                                      tmp_path: Path) -> None:
    def sssctl(*args: str) -> str:
        return _run(installed / "sssctl", *args, cwd=tmp_path).stdout

    sssctl("init", "--example", "fleet", "fleet")
    assert "valid" in sssctl("fleet", "validate", "fleet/fleet.toml")
    sssctl("init", "--example", "hardened-rbac", "rbac.toml")
    policies = Path(sssctl("policy", "path").strip())
    assert policies.is_relative_to(installed.parent) and sorted(p.name for p in policies.glob("*.rego"))
    assert (policies.parent.parent / "py.typed").is_file()
    assert '"title": "sssctl fleet file' in sssctl("schema", "--fleet")
