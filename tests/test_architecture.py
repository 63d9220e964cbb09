"""The shape of the code: no import cycles among hrguard's modules, no reaching into another module's privates.

The import graph is read from the source with :mod:`ast`, not by importing anything, so it sees every
import wherever it is written: at module level, inside functions and methods (a lazy import is still
a dependency), relative or absolute, and ``importlib.import_module("hrguard.x")`` with a literal name.
Imports inside ``if TYPE_CHECKING:`` are left out: they never run, they only name types. Plugins loaded
by name (``plugins.DEFAULT_PLUGINS``, entry points, the detectors ``hrguard.detectors`` finds with
``pkgutil``) are not imports either: the core names no plugin in an import, and a plugin, built in or
not, may import the core.

Importing ``a.b.c`` also runs ``a/__init__.py`` and ``a/b/__init__.py``; those implicit edges are not
counted (every module would otherwise depend on ``hrguard/__init__.py``, which re-exports the API).
``from .pkg import name`` is an edge to ``pkg.name`` when that is a module, else to ``pkg``.

Private names: ``from x import _name`` and ``x._name`` (``x`` bound to a module) are refused for any
module but the one doing it, hrguard's or a third party's (dunder names such as ``__version__`` are
public). A private module (``detectors/_state.py``) may be imported by the modules of its own package
(``hrguard.detectors`` and everything under it) and by nobody else.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = "hrguard"


# -- reading the source --------------------------------------------------------------------------------
def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules(root: Path = SRC / PACKAGE) -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(root.rglob("*.py"))}


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    line: int
    target: str  # the module imported from (absolute)
    names: tuple[str, ...]  # names taken from it (``from target import a, b``); empty for ``import target``


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _walk_runtime(node: ast.AST) -> Iterator[ast.AST]:
    """Every node below ``node`` except the bodies of ``if TYPE_CHECKING:``."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for other in child.orelse:
                yield other
                yield from _walk_runtime(other)
            continue
        yield child
        yield from _walk_runtime(child)


def _absolute(module: str, is_package: bool, level: int, name: str | None) -> str:
    if level == 0:
        return name or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join(base + ([name] if name else []))


def _imports(module: str, path: Path) -> tuple[list[Import], ast.Module]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    out: list[Import] = []
    for node in _walk_runtime(tree):
        if isinstance(node, ast.Import):
            out += [Import(module, node.lineno, a.name, ()) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = _absolute(module, is_package, node.level, node.module)
            out.append(Import(module, node.lineno, target, tuple(a.name for a in node.names)))
        elif (isinstance(node, ast.Call) and isinstance(node.func, (ast.Attribute, ast.Name))
              and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id) == "import_module"
              and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            out.append(Import(module, node.lineno, node.args[0].value, ()))
    return out, tree


def graph(modules: dict[str, Path]) -> dict[str, dict[str, int]]:
    """``{module: {hrguard module it imports: first line}}``."""
    edges: dict[str, dict[str, int]] = {m: {} for m in modules}
    for mod, path in modules.items():
        for imp in _imports(mod, path)[0]:
            targets = [f"{imp.target}.{n}" if f"{imp.target}.{n}" in modules else imp.target
                       for n in imp.names] or [imp.target]
            for t in targets:
                if t in modules and t != mod:
                    edges[mod].setdefault(t, imp.line)
    return edges


def cycles(edges: dict[str, dict[str, int]]) -> list[list[str]]:
    """Every strongly connected component with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return sorted(found)


def _a_path(edges: dict[str, dict[str, int]], comp: list[str]) -> str:
    """One cycle through ``comp``'s first module, with the line of each import, for the failure message."""
    start, members = comp[0], set(comp)
    prev: dict[str, str] = {}
    todo = [start]
    while todo:
        v = todo.pop(0)
        for w in sorted(edges[v]):
            if w in members and w not in prev:
                prev[w] = v
                if w == start:
                    todo = []
                    break
                todo.append(w)
    hops, w = [], start
    while True:
        v = prev[w]
        hops.append(f"{v}:{edges[v][w]} -> {w}")
        w = v
        if w == start:
            break
    return "; ".join(reversed(hops))


def private_reach_ins(modules: dict[str, Path]) -> list[str]:
    """Every import of another module's private name, attribute access to one, or a private module used
    outside its package: ``module:line: what``."""
    bad: list[str] = []
    for mod, path in modules.items():
        imports, tree = _imports(mod, path)
        bound: dict[str, str] = {}  # local name -> module it is bound to
        for imp in imports:
            parts = imp.target.split(".")
            for i, part in enumerate(parts):
                if _is_private(part):
                    owner = ".".join(parts[:i])
                    if not (mod == owner or mod.startswith(owner + ".")) or not owner.startswith(PACKAGE):
                        bad.append(f"{mod}:{imp.line}: imports private module {'.'.join(parts[:i + 1])}")
                    break
            for n in imp.names:
                full = f"{imp.target}.{n}"
                if _is_private(n) and full not in modules:
                    bad.append(f"{mod}:{imp.line}: imports private name {n} from {imp.target}")
                elif _is_private(n) and not mod.startswith(imp.target + ".") and mod != imp.target:
                    bad.append(f"{mod}:{imp.line}: imports private module {full}")
        for node in ast.walk(tree):  # names bound to modules, then attribute access on them
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.asname:
                        bound[a.asname] = a.name
                    else:
                        bound[a.name.split(".")[0]] = a.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom):
                target = _absolute(mod, path.name == "__init__.py", node.level, node.module)
                for a in node.names:
                    if f"{target}.{a.name}" in modules:
                        bound[a.asname or a.name] = f"{target}.{a.name}"
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and _is_private(node.attr):
                chain, base = [node.attr], node.value
                while isinstance(base, ast.Attribute):
                    chain.append(base.attr)
                    base = base.value
                if isinstance(base, ast.Name) and base.id in bound:
                    owner = ".".join([bound[base.id], *reversed(chain[1:])])
                    if owner != mod:
                        bad.append(f"{mod}:{node.lineno}: reads private {owner}.{node.attr}")
    return sorted(set(bad))


# -- the tests -------------------------------------------------------------------------------------------
def test_there_are_no_import_cycles_among_hrguard_modules() -> None:
    edges = graph(_modules())
    found = cycles(edges)
    assert not found, "import cycles (module:line -> module):\n" + "\n".join(_a_path(edges, c) for c in found)


def test_no_module_reaches_into_another_modules_privates() -> None:
    bad = private_reach_ins(_modules())
    assert not bad, "private reach-ins:\n" + "\n".join(bad)


# -- the checks themselves fail when they should ------------------------------------------------------------
def _package(tmp_path: Path, files: dict[str, str]) -> dict[str, Path]:
    for name, text in files.items():
        p = tmp_path / PACKAGE / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    return {_module_name_in(tmp_path, p): p for p in sorted((tmp_path / PACKAGE).rglob("*.py"))}


def _module_name_in(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@pytest.mark.parametrize("files, cycle", [
    ({"a.py": "from . import b\n", "b.py": "from .a import x\n"}, ["hrguard.a", "hrguard.b"]),
    ({"a.py": "def f():\n    from .b import y\n", "b.py": "import hrguard.a\n"}, ["hrguard.a", "hrguard.b"]),
    ({"a.py": "import importlib\ndef f():\n    importlib.import_module('hrguard.b')\n",
      "b.py": "from hrguard.a import z\n"}, ["hrguard.a", "hrguard.b"]),
    ({"p/__init__.py": "from .q import x\n", "p/q.py": "from .. import r\n", "r.py": "from .p import x\n"},
     ["hrguard.p", "hrguard.p.q", "hrguard.r"]),
])
def test_the_cycle_check_finds_cycles_however_the_imports_are_written(tmp_path, files, cycle) -> None:
    modules = _package(tmp_path, {"__init__.py": "", **files})
    assert cycles(graph(modules)) == [cycle]


def test_type_checking_imports_and_parent_packages_are_not_cycles(tmp_path) -> None:
    modules = _package(tmp_path, {
        "__init__.py": "from .a import A\n",
        "a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .b import B\nA = 1\n",
        "b.py": "from .a import A\nB = 2\n",
    })
    assert cycles(graph(modules)) == []


@pytest.mark.parametrize("text, expected", [
    ("from .b import _helper\n", "imports private name _helper from hrguard.b"),
    ("from . import b\nb._helper()\n", "reads private hrguard.b._helper"),
    ("import hrguard.b\nhrguard.b._helper()\n", "reads private hrguard.b._helper"),
    ("from .p import _inner\n", "imports private module hrguard.p._inner"),
    ("from .p._inner import X\n", "imports private module hrguard.p._inner"),
    ("import pluggy\npluggy._manager.DistFacade\n", "reads private pluggy._manager"),
    ("from pluggy._manager import DistFacade\n", "imports private module pluggy._manager"),
])
def test_the_private_check_finds_reach_ins(tmp_path, text, expected) -> None:
    modules = _package(tmp_path, {"__init__.py": "", "a.py": text, "b.py": "def _helper(): pass\n",
                                  "p/__init__.py": "from ._inner import X\n", "p/_inner.py": "X = 1\n",
                                  "p/sibling.py": "from ._inner import X\nfrom . import _inner\n",
                                  "c.py": "def _own(): pass\n_own()\n__all__ = []\nfrom .b import __doc__\n"})
    bad = private_reach_ins(modules)
    assert [b for b in bad if b.startswith("hrguard.a:")] == [f"hrguard.a:{_line(text, expected)}: {expected}"]
    assert not [b for b in bad if not b.startswith("hrguard.a:")]  # own privates, siblings, dunders are fine


def _line(text: str, expected: str) -> int:
    return 2 if text.count("\n") == 2 else 1
