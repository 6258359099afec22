"""A small import-graph checker for the project's layering rules (no dependencies).

Every ``import`` statement of every module is read from the source (the AST), at
any depth: an import inside a function is still a dependency, it only runs later.
``importlib.import_module("a.b")`` with a literal name counts as an import.
Two rules are checked:

1. **Floors.** Each top-level package sits on a floor; a module may import only
   modules on its own floor or below (``kernels`` 0, ``sweep`` 1, ``notebooks`` 2,
   the ``benchmarks`` scripts 3).  Third-party and standard-library imports are not
   checked.
2. **No cycles.** The graph of imports between the project's modules has no cycle
   (a strongly connected component of more than one module, or a module importing
   itself).  A package's ``__init__`` counts as the module named like the package.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

__all__ = ["FLOORS", "module_index", "import_graph", "violations", "Violation"]

#: the project's floors: a package may import its own floor and the ones below
FLOORS = {"kernels": 0, "sweep": 1, "notebooks": 2, "benchmarks": 3}


@dataclass(frozen=True)
class Violation:
    kind: str      # "upward" or "cycle"
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.detail}"


def module_index(root: Path, packages) -> dict[str, Path]:
    """Dotted module name -> source file, for every .py under ``root/<package>``."""
    out = {}
    for pkg in packages:
        base = root / pkg
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*.py")):
            rel = path.relative_to(root).with_suffix("")
            parts = list(rel.parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


def _is_package(name: str, index: dict[str, Path]) -> bool:
    return index[name].name == "__init__.py"


def _resolve(current: str, node: ast.ImportFrom, index: dict[str, Path]) -> str | None:
    """The absolute module a ``from ... import`` statement reads from."""
    if node.level == 0:
        return node.module
    # a relative import is relative to the current package
    pkg = current.split(".") if _is_package(current, index) else current.split(".")[:-1]
    if node.level > 1:
        pkg = pkg[: len(pkg) - (node.level - 1)]
    return ".".join(pkg + ([node.module] if node.module else []))


def _target(name: str, index: dict[str, Path]) -> str | None:
    """``name`` or its longest prefix that is a project module (None: not ours)."""
    parts = name.split(".")
    while parts:
        cand = ".".join(parts)
        if cand in index:
            return cand
        parts.pop()
    return None


def import_graph(index: dict[str, Path]) -> dict[str, set[str]]:
    """module -> the project modules it imports (anywhere in its source)."""
    graph: dict[str, set[str]] = {m: set() for m in index}
    for mod, path in index.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            targets = []
            if (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
                    and isinstance(node.args[0].value, str)
                    and (getattr(node.func, "attr", None) == "import_module"
                         or getattr(node.func, "id", None) == "import_module")):
                # importlib.import_module("pkg.mod") with a literal name is an import too
                targets = [node.args[0].value]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(mod, node, index)
                if base is None:
                    continue
                # `from pkg import sub` imports the module pkg.sub when there is one
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in index else base
                           for a in node.names]
            for t in targets:
                found = _target(t, index)
                if found is not None and found != mod:
                    graph[mod].add(found)
                elif found == mod and isinstance(node, ast.Import):
                    graph[mod].add(mod)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module, or a self-import
    (Tarjan's algorithm, iterative)."""
    index_of: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index_of:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index_of[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index_of:
                    index_of[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index_of[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index_of[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1 or v in graph[v]:
                        out.append(sorted(comp))
    return out


def violations(root: Path, floors: dict[str, int] = FLOORS) -> list[Violation]:
    """Every upward import and every import cycle among the packages under ``root``."""
    index = module_index(Path(root), floors)
    graph = import_graph(index)
    found = []
    for mod in sorted(graph):
        here = floors[mod.split(".")[0]]
        for dep in sorted(graph[mod]):
            there = floors[dep.split(".")[0]]
            if there > here:
                found.append(Violation("upward", f"{mod} imports {dep} (floor {here} -> {there})"))
    for comp in _cycles(graph):
        found.append(Violation("cycle", " <-> ".join(comp)))
    return found
