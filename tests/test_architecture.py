"""The shape of the code: no import circles, no private names across modules, short modules.

The import graph is read with ``ast`` from every ``import`` statement of every module,
including those inside functions: a late import that only dodges a circle is still a circle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("gateway", "forms", "connectors")
MAX_LINES = 600


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    """Every module of the project's packages, by dotted name."""
    return {_module_name(path): path
            for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))}


MODULES = project_modules()


def _is_private(name: str) -> bool:
    # ``_`` alone is gettext's public name by convention (gateway.i18n), not a private one
    return (name.startswith("_") and name != "_"
            and not (name.startswith("__") and name.endswith("__")))


def _base(module: str, node: ast.ImportFrom) -> str:
    """The absolute module a ``from … import`` reads from (relative ones resolved)."""
    if not node.level:
        return node.module or ""
    is_package = MODULES.get(module, Path()).name == "__init__.py"
    anchor = module.split(".")[: len(module.split(".")) - node.level + is_package]
    return ".".join([*anchor, *([node.module] if node.module else [])])


def _owner(name: str) -> str | None:
    """The project module ``name`` is, or lies in (``a.b.c`` → ``a.b`` if only that exists)."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


class ModuleReader(ast.NodeVisitor):
    """One module's project imports and its uses of other modules' private names."""

    def __init__(self, module: str):
        self.module = module
        self.imports: dict[str, int] = {}  # imported module -> first line
        self.private: list[str] = []
        self.bound: dict[str, str] = {}  # local name -> the project module it names

    def _edge(self, target: str | None, line: int) -> None:
        if target and target != self.module:
            self.imports.setdefault(target, line)

    def _private_use(self, owner: str, name: str, line: int) -> None:
        if owner != self.module and _is_private(name):
            self.private.append(f"{self.module}:{line} uses {owner}.{name}")

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            target = _owner(alias.name)
            self._edge(target, node.lineno)
            parts = alias.name.split(".")
            for i in range(1, len(parts)):
                self._private_use(".".join(parts[:i]), parts[i], node.lineno)
            if target:
                local = alias.asname or alias.name.split(".")[0]
                self.bound[local] = alias.name if alias.asname else local

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = _base(self.module, node)
        for alias in node.names:
            full = f"{base}.{alias.name}"
            if full in MODULES:
                self._edge(full, node.lineno)
                self.bound[alias.asname or alias.name] = full
            else:
                self._edge(_owner(base), node.lineno)
            if _owner(base):
                self._private_use(base, alias.name, node.lineno)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        dotted = _dotted(node.value)
        if dotted:
            head, _, rest = dotted.partition(".")
            if head in self.bound:
                target = ".".join(filter(None, (self.bound[head], rest)))
                if target in MODULES:
                    self._private_use(target, node.attr, node.lineno)
        self.generic_visit(node)


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return inner and f"{inner}.{node.attr}"
    return None


def read_modules() -> dict[str, ModuleReader]:
    """Each project module, read."""
    readers = {}
    for module, path in MODULES.items():
        reader = ModuleReader(module)
        reader.visit(ast.parse(path.read_text(encoding="utf-8"), str(path)))
        readers[module] = reader
    return readers


def find_cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """One circle per strongly connected component (Tarjan), each as a closed path."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in graph.get(node, {}):
            if succ not in index:
                connect(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return [_circle(graph, set(component)) for component in components]


def _circle(graph: dict[str, dict[str, int]], component: set[str]) -> list[str]:
    """A shortest closed path through the component's first module (breadth first)."""
    start = min(component)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for succ in sorted(graph[node]):
            if succ == start:
                return [*paths[node], start]
            if succ in component and succ not in paths:
                paths[succ] = [*paths[node], succ]
                queue.append(succ)
    raise AssertionError("unreachable: a component is strongly connected")


READERS = read_modules()
GRAPH = {module: reader.imports for module, reader in READERS.items()}


def _describe(graph: dict[str, dict[str, int]], circle: list[str]) -> str:
    """One import per line: ``a (line 7) -> b``."""
    steps = [f"{a} (line {graph[a][b]}) -> {b}" for a, b in zip(circle, circle[1:], strict=False)]
    return "\n    ".join(steps)


def test_no_import_circles():
    cycles = find_cycles(GRAPH)
    report = "\n  ".join(_describe(GRAPH, circle) for circle in cycles)
    assert not cycles, f"import circles:\n  {report}"


def test_no_private_names_across_modules():
    uses = [use for reader in READERS.values() for use in reader.private]
    assert not uses, "private names used across modules:\n  " + "\n  ".join(uses)


def test_no_module_over_the_limit():
    long = {module: n for module, path in MODULES.items()
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"


# The checks themselves must be able to fail: each is run on a small made-up graph.

def test_a_circle_is_found_and_reported():
    graph = {"a": {"b": 1}, "b": {"c": 2}, "c": {"a": 3}, "d": {"a": 4}}
    assert find_cycles(graph) == [["a", "b", "c", "a"]]
    assert "c (line 3) -> a" in _describe(graph, ["a", "b", "c", "a"])
    assert find_cycles({"a": {"b": 1}, "b": {}}) == []


@pytest.mark.parametrize("source, expected", [
    ("from gateway.cli import _configure", ["m:1 uses gateway.cli._configure"]),
    ("def f():\n    from gateway import cli\n    cli._run()", ["m:3 uses gateway.cli._run"]),
    ("import gateway.db\ngateway.db._stored_decoder", ["m:2 uses gateway.db._stored_decoder"]),
    ("from gateway.cli import main\nmain._x", []),  # not a module: not checked
    ("from gateway import db\ndb.__name__", []),
    ("from gateway.i18n import _\n_('Save')", []),  # gettext's name, by convention
])
def test_private_uses_are_found(source, expected):
    reader = ModuleReader("m")
    reader.visit(ast.parse(source))
    assert reader.private == expected


def test_late_imports_are_edges():
    reader = ModuleReader("m")
    reader.visit(ast.parse("def f():\n    from gateway import cli\n    from gateway.db import db"))
    assert reader.imports == {"gateway.cli": 2, "gateway.db": 3}
