"""The project's import graph: no cycles, and the floors of DESIGN.md §1 respected.

A cycle means no module in it can be understood (or imported, or tested) on its own, and
the order Python happens to import them in decides whether a name exists yet. The floors are
``amd_plugin`` (core) below ``trt`` and ``amd_train``, with ``fiftyone_plugin`` on top; a
floor imports only floors below it.

What counts as an edge ``A -> B`` (both modules of the four packages, found by parsing the
source with :mod:`ast`, never by importing it):

* every ``import`` / ``from … import`` statement anywhere in ``A``: at module level, inside
  functions (a lazy import is still a dependency; it only hides it from start-up), and under
  ``if TYPE_CHECKING:`` (the code is written against ``B``'s types);
* ``import a.b.c`` depends on ``a.b.c`` (the longest prefix that is a project module);
* ``from P import name`` depends on ``P.name`` when that is a module; otherwise on the module
  that ``P/__init__.py`` got ``name`` from when it re-exports it (so ``from amd_plugin import
  AMD`` depends on ``amd_plugin.modeling.amd``, not on everything the package imports);
  otherwise on ``P``. Relative imports are resolved against ``A``'s package first;
* ``importlib.import_module("literal")`` like ``import literal``.

Not an edge: ``A`` importing one of its own ancestor packages (``amd_plugin.checkpoint``
reading ``__version__`` from ``amd_plugin``). Python runs every ancestor's ``__init__``
before any submodule anyway, so such an import adds no ordering, and counting it would put
each package in a cycle with every submodule its ``__init__`` re-exports. The reverse, a
package ``__init__`` importing its submodules, is an ordinary edge. Names fetched through a
PEP 562 ``__getattr__`` table are not seen (they resolve to the package itself).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("amd_plugin", "amd_train", "trt", "fiftyone_plugin")
# what each package must never import (DESIGN.md §1: dependencies flow one way)
FORBIDDEN = {
    "amd_plugin": ("amd_train", "trt", "fiftyone_plugin"),
    "amd_train": ("fiftyone_plugin",),
    "trt": ("fiftyone_plugin",),
}


def project_modules(root: Path = ROOT) -> dict[str, Path]:
    """Dotted module name → source file, for every ``.py`` file of the four packages."""
    modules = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def is_package(name: str, modules: dict[str, Path]) -> bool:
    return modules[name].name == "__init__.py"


def ancestors(name: str) -> set[str]:
    """``a.b.c`` → {``a``, ``a.b``}."""
    parts = name.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts))}


def longest_known_prefix(dotted: str, modules: dict[str, Path]) -> str | None:
    parts = dotted.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return None


def from_base(module: str, node: ast.ImportFrom, modules: dict[str, Path]) -> str:
    """The absolute module a ``from … import`` statement in ``module`` reads from."""
    if not node.level:
        return node.module or ""
    package = module if is_package(module, modules) else module.rpartition(".")[0]
    parts = package.split(".")
    parts = parts[: len(parts) - (node.level - 1)]
    return ".".join(parts + ([node.module] if node.module else []))


def raw_imports(module: str, modules: dict[str, Path]) -> Iterator[tuple[str, str | None]]:
    """(module imported from, name or None) for every import in ``module``'s source."""
    tree = ast.parse(modules[module].read_text(encoding="utf-8"), str(modules[module]))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None
        elif isinstance(node, ast.ImportFrom):
            base = from_base(module, node, modules)
            for alias in node.names:
                yield base, (None if alias.name == "*" else alias.name)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node.args[0].value, None


def reexports(package: str, modules: dict[str, Path]) -> dict[str, str]:
    """Names a package ``__init__`` imports at module level → the module each comes from."""
    tree = ast.parse(modules[package].read_text(encoding="utf-8"))
    table = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            base = from_base(package, node, modules)
            for alias in node.names:
                target = f"{base}.{alias.name}"
                source = target if target in modules else longest_known_prefix(base, modules)
                if source is not None and source != package:
                    table[alias.asname or alias.name] = source
    return table


def resolve(
    base: str, name: str | None, modules: dict[str, Path], tables: dict[str, dict[str, str]]
) -> str | None:
    """The project module an import of ``name`` from ``base`` depends on (None: external).

    ``tables``: :func:`reexports` of every package.
    """
    if name is not None:
        if f"{base}.{name}" in modules:
            return f"{base}.{name}"
        source = tables.get(base, {}).get(name)
        if source is not None:
            return source
    return longest_known_prefix(base, modules)


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module → the project modules it imports (edges as the module docstring defines)."""
    tables = {m: reexports(m, modules) for m in modules if is_package(m, modules)}
    graph: dict[str, set[str]] = {}
    for module in modules:
        imports = raw_imports(module, modules)
        targets = {resolve(base, name, modules, tables) for base, name in imports}
        graph[module] = {t for t in targets if t and t != module and t not in ancestors(module)}
    return graph


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative; components of one module without a self-loop dropped."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1 or node in graph[node]:
                        components.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph.get(child, ())))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return sorted(components)


def describe_cycles(graph: dict[str, set[str]]) -> list[str]:
    """One line per cycle: its modules and the edges that close it."""
    lines = []
    for component in strongly_connected(graph):
        members = set(component)
        edges = [f"{a} -> {b}" for a in component for b in sorted(graph[a]) if b in members]
        lines.append(f"{', '.join(component)}  [{'; '.join(edges)}]")
    return lines


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    found = []
    for module, targets in sorted(graph.items()):
        forbidden = FORBIDDEN.get(module.split(".")[0], ())
        found += [f"{module} -> {t}" for t in sorted(targets) if t.split(".")[0] in forbidden]
    return found


def test_no_import_cycles():
    cycles = describe_cycles(import_graph(project_modules()))
    assert not cycles, "import cycles:\n  " + "\n  ".join(cycles)


def test_floors_import_only_floors_below():
    violations = layer_violations(import_graph(project_modules()))
    assert not violations, "imports against DESIGN.md §1:\n  " + "\n  ".join(violations)


def test_the_checks_can_fail(tmp_path):
    """A made-up tree with a lazy two-module cycle, a relative-import cycle, an upward
    import and the harmless parent-package pattern: the first three are found, the last not."""
    files = {
        "amd_plugin/__init__.py": "from amd_plugin.core import Thing\n__version__ = '0'\n",
        "amd_plugin/core.py": "from amd_plugin import __version__\nclass Thing: ...\n",
        "amd_plugin/user.py": "from amd_plugin import Thing\n",
        "amd_plugin/a.py": "def f():\n    from amd_plugin import b\n",
        "amd_plugin/b.py": "import amd_plugin.a\n",
        "amd_plugin/io/__init__.py": "",
        "amd_plugin/io/x.py": "from .y import g\n",
        "amd_plugin/io/y.py": "from . import x\ndef g(): ...\n",
        "amd_plugin/low.py": "def f():\n    from trt.engine import build\n",
        "amd_train/__init__.py": "",
        "trt/__init__.py": "",
        "trt/engine.py": "from amd_plugin import core\ndef build(): ...\n",
        "fiftyone_plugin/__init__.py": "",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    graph = import_graph(project_modules(tmp_path))
    assert graph["amd_plugin.core"] == set()  # its parent package is not an edge
    assert graph["amd_plugin.user"] == {"amd_plugin.core"}  # through the re-export
    assert describe_cycles(graph) == [
        "amd_plugin.a, amd_plugin.b  [amd_plugin.a -> amd_plugin.b; amd_plugin.b -> amd_plugin.a]",
        "amd_plugin.io.x, amd_plugin.io.y  "
        "[amd_plugin.io.x -> amd_plugin.io.y; amd_plugin.io.y -> amd_plugin.io.x]",
    ]
    assert layer_violations(graph) == ["amd_plugin.low -> trt.engine"]
