"""The layering the code relies on, checked from the import statements themselves.

Every import counts, inside functions too (a lazy import is still a dependency), except
those under ``if TYPE_CHECKING:``, which never run.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "sssctl"


def _is_module(name: str) -> bool:
    relative = Path(*name.split(".")[1:])
    return (PACKAGE / relative).with_suffix(".py").is_file() or (PACKAGE / relative / "__init__.py").is_file()


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _runtime_nodes(tree: ast.Module) -> list[ast.AST]:
    typing_only = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If)
                   and "TYPE_CHECKING" in ast.unparse(block.test) for n in ast.walk(block)}
    return [n for n in ast.walk(tree) if id(n) not in typing_only]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("sssctl"):
            submodules = {f"{node.module}.{alias.name}" for alias in node.names}
            # ``from package import submodule`` depends on the submodule, not on the package's
            # own __init__ beyond what Python already runs while importing it.
            found.update(submodules if all(_is_module(m) for m in submodules) else {node.module})
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("sssctl"))
    return found


@functools.cache
def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: {i for i in _imports(path) if i in modules and i != name} for name, path in modules.items()}


def test_no_import_cycles_anywhere() -> None:
    graph = _graph()
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                cycles.append([*trail[trail.index(target):], target] if target in trail else [node, target])
            elif target not in state:
                visit(target, [*trail, target])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_the_engine_never_imports_a_resource_kind() -> None:
    """The kinds are named by the composition root (``app.runner.default_services``) only."""
    graph = _graph()
    offending = {m: sorted(t for t in targets if t.startswith("sssctl.kinds"))
                 for m, targets in graph.items() if m.startswith("sssctl.engine")}
    assert {m: t for m, t in offending.items() if t} == {}


def test_kinds_do_not_import_each_other() -> None:
    graph = _graph()
    kinds = {m for m in graph if m.count(".") == 2 and m.startswith("sssctl.kinds.")
             and not m.rsplit(".", 1)[1].startswith("_") and m != "sssctl.kinds.handoffs"}
    crossing = {m: sorted(graph[m] & kinds) for m in kinds if graph[m] & kinds}
    assert crossing == {}


# --- floors -----------------------------------------------------------------------------------------

# Top to bottom. A first-level package (or root module) imports only from floors below its
# own, never from its own floor or above; so no cycle can form between packages. The
# emulator stands apart: a tool beside sssctl that imports nothing of it.
FLOORS: tuple[frozenset[str], ...] = (
    frozenset({"__main__"}),
    frozenset({"cli"}),
    frozenset({"app"}),
    frozenset({"audit", "fleet"}),
    frozenset({"kinds"}),
    frozenset({"engine"}),
    frozenset({"state"}),
    frozenset({"clients"}),
    frozenset({"config"}),
    frozenset({"sssctl", "catalog", "logging", "errors", "exitcodes", "strictjson"}),
    frozenset({"emulator"}),
)


def _package(module: str) -> str:
    """``sssctl.engine.plan`` -> ``engine``; ``sssctl`` (the package itself) -> ``sssctl``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _floor(package: str) -> int:
    return next(i for i, floor in enumerate(FLOORS) if package in floor)


def _package_graph() -> dict[str, set[str]]:
    packages: dict[str, set[str]] = {}
    for module, targets in _graph().items():
        packages.setdefault(_package(module), set()).update(
            _package(t) for t in targets if _package(t) != _package(module))
    return packages


def test_every_first_level_package_sits_on_one_floor() -> None:
    placed = [p for floor in FLOORS for p in floor]
    assert len(placed) == len(set(placed))
    assert sorted(set(_package_graph()) - set(placed)) == []


def test_packages_import_only_lower_floors() -> None:
    upward = {f"{source} -> {target}"
              for source, targets in _package_graph().items() for target in targets
              if _floor(target) <= _floor(source)}
    assert sorted(upward) == []


def test_no_import_cycles_between_packages() -> None:
    graph = _package_graph()

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(t == goal or (t not in seen and reaches(t, goal, seen | {t}))
                   for t in graph.get(start, ()))

    assert sorted(p for p in graph if reaches(p, p, {p})) == []


def _spelled(package: str, names: set[str], *, attributes: frozenset[str] | set[str] = frozenset(),
             ) -> list[str]:
    """Strings (outside docstrings) and attribute names under ``package`` that spell one of ``names``."""
    found: list[str] = []
    for path in sorted((PACKAGE / package).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                      and node.body and isinstance(node.body[0], ast.Expr)
                      and isinstance(node.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                text = node.value
                if any(text == n or text.startswith((f"{n}.", f"{n}[")) for n in names):
                    found.append(f"{path.name}:{node.lineno} {text!r}")
            elif isinstance(node, ast.Attribute) and node.attr in attributes:
                found.append(f"{path.name}:{node.lineno} .{node.attr}")
    return found


def _kind_names() -> set[str]:
    from sssctl.kinds import load_kinds

    kinds = list(load_kinds())
    return {k.name for k in kinds} | {k.spec.prefix for k in kinds}


def test_the_engine_names_no_config_section_and_no_kind() -> None:
    """Outside docstrings, nothing in ``sssctl/engine/`` spells a managed section or a kind.

    The engine learns about sections and kinds from the registry it is handed; a name
    spelled here would be a kind's private fact leaking into the core.
    """
    import dataclasses

    from sssctl.config.spec import DOCUMENT
    from sssctl.engine.kind import KindSpec

    sections = set(DOCUMENT.fields) - {"version", "extends", "environment", "auth", "state"}
    names = _kind_names() | sections
    contract = {f.name for f in dataclasses.fields(KindSpec)}
    assert _spelled("engine", names, attributes=names - contract) == []


def test_the_audit_names_no_kind() -> None:
    """The audit reads the checks the kinds declare; it spells no kind's name or address."""
    assert _spelled("audit", _kind_names()) == []


def test_unit_tests_of_the_core_never_drive_the_command_layer() -> None:
    """The unit tests mirror the floors: a test that goes through ``app`` or ``cli`` is a test
    of the command layer and lives under ``tests/unit/app`` (or ``cli``), whatever it checks."""
    tests = PACKAGE.parent / "tests" / "unit"
    core = ("engine", "kinds", "state", "clients", "audit")
    above = {f"sssctl.{p}" for p in ("__main__", "cli", "app")}
    found = sorted(
        f"{path.relative_to(tests)} -> {name}"
        for package in core for path in (tests / package).rglob("*.py")
        for name in _imports(path) if name in above or name.startswith(tuple(f"{a}." for a in above)))
    assert found == []
