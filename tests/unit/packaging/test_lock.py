"""The hash-pinned locks under ``requirements/`` agree with ``pyproject.toml``.

Automation installs with ``pip install --require-hashes -r requirements/runtime.txt`` and
then ``pip install --no-deps .``, so the lock, not ``pyproject.toml``, decides what runs
with the tenant's administrator identity. A dependency added, removed or re-floored in
``pyproject.toml`` without ``make lock`` would make the two disagree silently; these tests
fail instead, without any network: every declared requirement has a pin in the lock that
satisfies its specifier (on every Python the project supports, markers included), every
pin the lock attributes to sssctl itself is still declared, and every pin carries hashes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from sssctl.config.loader import tomllib

ROOT = Path(__file__).resolve().parents[3]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = PYPROJECT["project"]
SELF = canonicalize_name(PROJECT["name"])

#: lock file -> the extras it resolves (the runtime lock: none)
LOCKS = {"runtime": (), "emulator": ("emulator",), "dev": ("dev",)}
#: the Python versions the lock must serve, from requires-python (>=3.10) to the newest tested
PYTHONS = ("3.10", "3.11", "3.12", "3.13")
PIN = re.compile(r"^(?P<name>[A-Za-z0-9._-]+)==(?P<version>[^ ;\\]+)\s*(?:;\s*(?P<marker>[^\\]+?))?\s*\\?$")


@dataclass
class Pin:
    name: str
    version: Version
    marker: Marker | None
    hashes: int = 0
    via: set[str] = field(default_factory=set)


def read_lock(path: Path) -> list[Pin]:
    pins: list[Pin] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if (match := PIN.match(line)) is not None:
            marker = match["marker"]
            pins.append(Pin(canonicalize_name(match["name"]), Version(match["version"]),
                            Marker(marker) if marker else None))
        elif stripped.startswith("--hash=sha256:") and pins:
            pins[-1].hashes += 1
        elif stripped.startswith("#") and pins and "(pyproject.toml)" in stripped:
            pins[-1].via.add(stripped.lstrip("# ").removeprefix("via ").split(" ")[0])
    return pins


def declared(extras: tuple[str, ...]) -> list[Requirement]:
    """The requirements of the project with ``extras``, following self-references (sssctl[x])."""
    wanted, seen, found = list(extras), set(), [Requirement(r) for r in PROJECT["dependencies"]]
    while wanted:
        extra = wanted.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for text in PROJECT["optional-dependencies"][extra]:
            requirement = Requirement(text)
            if canonicalize_name(requirement.name) == SELF:
                wanted.extend(requirement.extras)
            else:
                found.append(requirement)
    return found


def _environment(python: str) -> dict[str, str]:
    return {"python_version": python, "python_full_version": f"{python}.0", "sys_platform": "linux",
            "platform_system": "Linux", "implementation_name": "cpython",
            "platform_python_implementation": "CPython", "platform_machine": "x86_64", "os_name": "posix"}


def _applies(marker: Marker | None, python: str) -> bool:
    return marker is None or marker.evaluate(_environment(python))


def disagreements(pins: list[Pin], requirements: list[Requirement]) -> list[str]:
    """Each declared requirement without exactly one satisfying pin, per supported Python."""
    problems = []
    for requirement in requirements:
        name = canonicalize_name(requirement.name)
        for python in PYTHONS:
            if requirement.marker is not None and not requirement.marker.evaluate(_environment(python)):
                continue
            chosen = [p for p in pins if p.name == name and _applies(p.marker, python)]
            if len(chosen) != 1:
                problems.append(f"{requirement}: {len(chosen)} pins for Python {python}")
            elif chosen[0].version not in requirement.specifier:
                problems.append(f"{requirement}: the lock pins {chosen[0].version} for Python {python}")
    return problems


@pytest.mark.parametrize("lock", sorted(LOCKS))
def test_every_declared_requirement_is_pinned_within_its_specifier(lock: str) -> None:
    problems = disagreements(read_lock(ROOT / "requirements" / f"{lock}.txt"), declared(LOCKS[lock]))
    assert problems == [], f"requirements/{lock}.txt disagrees with pyproject.toml; run make lock: {problems}"


@pytest.mark.parametrize("lock", sorted(LOCKS))
def test_every_pin_the_lock_owes_to_sssctl_is_still_declared(lock: str) -> None:
    names = {canonicalize_name(r.name) for r in declared(LOCKS[lock])}
    stale = sorted({p.name for p in read_lock(ROOT / "requirements" / f"{lock}.txt")
                    if "sssctl" in p.via and p.name not in names})
    assert stale == [], f"requirements/{lock}.txt pins {stale} for sssctl, which no longer declares them; " \
                        "run make lock"


@pytest.mark.parametrize("lock", sorted(LOCKS))
def test_every_pin_carries_hashes(lock: str) -> None:
    pins = read_lock(ROOT / "requirements" / f"{lock}.txt")
    assert pins, f"requirements/{lock}.txt pins nothing"
    assert [p.name for p in pins if p.hashes == 0] == []


def test_the_runtime_lock_has_no_web_server_and_the_locks_nest() -> None:
    runtime, emulator, dev = (read_lock(ROOT / "requirements" / f"{n}.txt")
                              for n in ("runtime", "emulator", "dev"))
    assert not {"starlette", "uvicorn"} & {p.name for p in runtime}
    assert {"starlette", "uvicorn"} <= {p.name for p in emulator}
    assert {p.name for p in emulator} <= {p.name for p in dev}


def test_the_check_reports_a_raised_floor_a_new_requirement_and_a_marker_gap() -> None:
    old_python = "python_version < '3.11'"
    pins = [Pin("click", Version("8.1.0"), None), Pin("tomli", Version("2.0"), Marker(old_python))]
    assert disagreements(pins, [Requirement("click>=8.1"), Requirement(f"tomli; {old_python}")]) == []
    assert disagreements(pins, [Requirement("click>=9")]) == [
        f"click>=9: the lock pins 8.1.0 for Python {python}" for python in PYTHONS]
    assert disagreements(pins, [Requirement("azure-identity>=1.17")])[0] == \
        "azure-identity>=1.17: 0 pins for Python 3.10"
    assert disagreements(pins, [Requirement("tomli")])[0] == "tomli: 0 pins for Python 3.11"


def test_make_lock_writes_all_three_locks() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert all(f"requirements/{name}.txt" in makefile for name in [*LOCKS, "build"])
    assert "--generate-hashes" in makefile


def test_the_build_lock_pins_the_build_system_requirements() -> None:
    """Automation builds sssctl with --no-build-isolation from requirements/build.txt, so the
    build backend is hash-checked like everything else."""
    requires = [Requirement(r) for r in PYPROJECT["build-system"]["requires"]]
    pins = read_lock(ROOT / "requirements" / "build.txt")
    assert disagreements(pins, requires) == []
    assert [p.name for p in pins if p.hashes == 0] == []


def test_the_sbom_lock_pins_the_dev_requirement_on_cyclonedx() -> None:
    """The container build installs its SBOM generator from requirements/sbom.txt."""
    dev = PROJECT["optional-dependencies"]["dev"]
    wanted = [Requirement(r) for r in dev if r.startswith("cyclonedx-bom")]
    assert wanted
    pins = read_lock(ROOT / "requirements" / "sbom.txt")
    assert disagreements(pins, wanted) == []
    assert [p.name for p in pins if p.hashes == 0] == []
