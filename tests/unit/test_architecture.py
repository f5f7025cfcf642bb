"""The layering the code relies on, checked from the import statements themselves.

Every import counts, inside functions too (a lazy import is still a dependency), except
those under ``if TYPE_CHECKING:``, which never run.
"""

from __future__ import annotations

import ast
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
