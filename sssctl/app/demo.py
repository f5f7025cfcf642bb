"""``sssctl demo``: the whole loop against the built-in emulator, in one command.

It starts the emulator in-process, points the chosen config at it through the
``SSSCTL_*`` variables (handed to the loader and clients as a mapping: the user's own
environment is never changed), keeps state in a temporary directory, and runs
plan -> apply -> plan. The point it proves is the last step: the second plan is empty.
Everything temporary is removed and the server stopped, even on Ctrl-C.

The example configs ship inside the package (``sssctl/examples``, copies of the
``configs/`` files users read in a clone, kept identical by a test), so ``sssctl demo`` and
``sssctl init`` work from any directory after ``pip install`` / ``pipx install``.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from importlib import resources
from pathlib import Path

from sssctl import exitcodes
from sssctl.app.commands import Invocation, Output, cmd_apply, cmd_plan
from sssctl.app.requests import ApplyRequest, Limits, PlanRequest

EXAMPLES = ("hardened", "hardened-rbac", "lockdown", "minimal")
# A fleet is a directory (the fleet file, a baseline, one overlay per environment), so it is
# written into a directory rather than one file.
FLEET_EXAMPLE = "fleet"


class InitError(Exception):
    """``sssctl init`` cannot write the example; the message says why and what to do."""


def example_path(name: str) -> Path:
    """The packaged example config ``name`` (one of :data:`EXAMPLES`)."""
    if name not in EXAMPLES:
        raise InitError(f"unknown example {name!r}; choose one of: {', '.join(EXAMPLES)}")
    return packaged(f"{name}.toml")


def packaged(*parts: str) -> Path:
    """A file or directory shipped under ``sssctl/examples``; refuses an incomplete install."""
    path = Path(str(resources.files("sssctl").joinpath("examples", *parts)))
    if not path.exists():
        raise InitError(f"the packaged example {path} is missing: this installation of sssctl is incomplete; "
                        "reinstall it (pip install --force-reinstall sssctl)")
    return path


def policy_dir() -> Path:
    """The shipped Rego policies (``examples/policy`` of the repository), for Conftest or OPA."""
    return packaged("policy")


def write_example(name: str, destination: Path, *, force: bool) -> str:
    """Write example ``name`` to ``destination``; an existing file is kept unless ``force``."""
    if name == FLEET_EXAMPLE:
        return _write_fleet(destination, force=force)
    # the examples' own usage lines name their place in the repository; here they name the file written
    text = example_path(name).read_text(encoding="utf-8").replace(f"configs/{name}.toml", str(destination))
    if destination.is_dir():
        raise InitError(f"{destination} is a directory; name the file to write, "
                        f"e.g. {destination / 'sssctl.toml'}")
    _write(destination, text, force=force)
    return (f"Wrote {destination} from the {name} example. Replace the placeholder URL and GUIDs (or set "
            f"SSSCTL_* variables), then: sssctl validate {destination}\n"
            "Editor completion: sssctl schema > sssctl.schema.json (the file's first line points at it).")


def _write(destination: Path, text: str, *, force: bool) -> None:
    try:
        with destination.open("w" if force else "x", encoding="utf-8") as handle:
            handle.write(text)
    except FileExistsError:
        raise InitError(f"{destination} already exists and was left unchanged; "
                        "pass --force to overwrite it, or name another file") from None
    except OSError as exc:
        raise InitError(f"cannot write {destination}: {exc.strerror}") from exc


def _write_fleet(directory: Path, *, force: bool) -> str:
    """The example fleet: its files into ``directory`` (created), none overwritten unless ``force``."""
    files = sorted(packaged("fleet").glob("*.toml"))
    if directory.exists() and not directory.is_dir():
        raise InitError(f"{directory} is a file; name a directory for the fleet's files")
    clashes = [directory / f.name for f in files if (directory / f.name).exists()]
    if clashes and not force:
        raise InitError(f"{', '.join(map(str, clashes))} already exist(s) and nothing was written; "
                        "pass --force to overwrite, or name another directory")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InitError(f"cannot create {directory}: {exc.strerror}") from exc
    for source in files:
        text = (source.read_text(encoding="utf-8").replace("configs/fleet/", f"{directory}/")
                .replace("#:schema ../", "#:schema ./"))  # the schemas the message says to write
        _write(directory / source.name, text, force=True)
    fleet = directory / "fleet.toml"
    return (f"Wrote the example fleet to {directory} ({', '.join(f.name for f in files)}). Replace the "
            f"placeholder URLs and GUIDs, then: sssctl fleet validate {fleet}\n"
            f"Editor completion: sssctl schema --fleet > {directory / 'fleet.schema.json'} and "
            f"sssctl schema > {directory / 'sssctl.schema.json'}.")


def _heading(output: Output, title: str) -> None:
    output.echo("")
    output.echo(f"=== {title} " + "=" * max(3, 72 - len(title)))
    output.echo("")


def demo_environ(emulator_environ: dict[str, str], state_dir: Path) -> dict[str, str]:
    """The user's environment without any SSSCTL_* of theirs, plus the emulator's."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("SSSCTL_")}
    return {**base, **emulator_environ, "SSSCTL_STATE_DIR": str(state_dir)}


def run_demo(config_path: Path, output: Output) -> int:
    from sssctl.emulator import running_emulator

    with tempfile.TemporaryDirectory(prefix="sssctl-demo-") as tmp:
        _heading(output, "Starting the emulator (Entra ID, Dataverse, Graph, Exchange on 127.0.0.1)")
        with running_emulator(dataset="small", data_dir=Path(tmp) / "emulator") as info:
            output.echo(f"Dataverse at {info.dataverse_url}; state in a temporary directory.")
            inv = Invocation(config_path, demo_environ(info.environ(), Path(tmp) / "state"), output)
            _heading(output, f"1. sssctl plan -c {config_path}")
            first = cmd_plan(inv, PlanRequest(detailed=True))
            if first not in (exitcodes.OK, exitcodes.CHANGES_PRESENT):
                return exitcodes.ERROR
            _heading(output, f"2. sssctl apply --auto-approve -c {config_path}")
            applying = dataclasses.replace(inv, limits=Limits(parallelism=4))
            if cmd_apply(applying, ApplyRequest(config_given=True, auto_approve=True)) != exitcodes.OK:
                return exitcodes.ERROR
            _heading(output, "3. sssctl plan again: it must be empty")
            second = cmd_plan(inv, PlanRequest(detailed=True))
    _heading(output, "Result")
    if second == exitcodes.OK:
        output.echo("The second plan is empty: the environment converged in one apply.")
        return exitcodes.OK
    output.echo("The second plan still has changes: the environment did not converge.")
    return exitcodes.ERROR
