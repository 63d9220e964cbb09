"""One exception tree: every error hrguard raises on purpose is an ``HrguardError``, drawn in errors.py.

- Every public exception class of any hrguard module is defined in ``hrguard.errors``, derives from
  ``HrguardError`` and appears in the tree drawn in that module's docstring under its real parent.
- A private exception class (``bulk._Unknown``) is a signal inside its module: it is caught there.
- A built-in exception (``ValueError``, ``TypeError``, ``KeyError``...) is raised only inside a pydantic
  validator, where pydantic turns it into a located validation error (``AssertionError`` and
  ``NotImplementedError`` stay for invariants and abstract methods).
- The command line's usage errors are ``UsageError`` too, printed in argparse's format, exit 2.
"""

from __future__ import annotations

import ast
import builtins
import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest

import hrguard
import hrguard.errors
from hrguard.cli import build_parser, main

SRC = Path(hrguard.__file__).parent


def _modules() -> list:
    out = [hrguard]
    for info in pkgutil.walk_packages(hrguard.__path__, "hrguard."):
        if info.name == "hrguard.__main__":  # runs the command line
            continue
        out.append(importlib.import_module(info.name))
    return out


def _exception_classes() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for mod in _modules():
        for _, obj in inspect.getmembers(mod, inspect.isclass):
            if issubclass(obj, BaseException) and obj.__module__.startswith("hrguard"):
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return found


def _tree() -> dict[str, str | None]:
    """``{class name: parent name}`` as drawn in errors.py's docstring (by the column each name starts at)."""
    doc = hrguard.errors.__doc__ or ""
    parents: dict[str, str | None] = {}
    stack: list[tuple[int, str]] = []
    for line in doc.splitlines():
        m = re.match(r"^([\s│├└─]*)([A-Z]\w+Error)\b", line)
        if not m:
            continue
        col, name = len(m.group(1)), m.group(2)
        while stack and stack[-1][0] >= col:
            stack.pop()
        parents[name] = stack[-1][1] if stack else None
        stack.append((col, name))
    return parents


def test_the_tree_is_drawn_with_hrguard_error_at_its_root() -> None:
    tree = _tree()
    assert tree["HrguardError"] is None
    assert [n for n, p in tree.items() if p is None] == ["HrguardError"]
    assert len(tree) >= 15


def test_every_exception_class_hrguard_defines_is_in_the_tree_under_its_parent() -> None:
    tree = _tree()
    public = {k: v for k, v in _exception_classes().items() if not v.__name__.startswith("_")}
    assert public, "no exception class found: the walk is broken"
    for where, cls in public.items():
        assert cls.__module__ == "hrguard.errors", f"{where}: define exception classes in hrguard/errors.py"
        assert issubclass(cls, hrguard.HrguardError), f"{where} is not an HrguardError"
        assert cls.__name__ in tree, f"{where} is not drawn in the tree of errors.py's docstring"
        parent = tree[cls.__name__]
        if parent is not None:
            assert issubclass(cls, getattr(hrguard.errors, parent)), f"{where} is drawn under {parent}"
    drawn = set(tree)
    defined = {c.__name__ for c in public.values()}
    assert drawn == defined, f"drawn but not defined: {drawn - defined}"


def test_every_exception_class_is_exported_at_the_top_level() -> None:
    for name in _tree():
        assert getattr(hrguard, name) is getattr(hrguard.errors, name) and name in hrguard.__all__


def test_errors_that_are_also_built_in_exceptions_keep_old_except_clauses_working() -> None:
    e = hrguard.errors
    assert issubclass(e.InvalidArgumentError, ValueError) and issubclass(e.ArgumentTypeError, TypeError)
    assert issubclass(e.UnknownNameError, KeyError) and issubclass(e.MissingFileError, FileNotFoundError)
    assert issubclass(e.ModelFileError, ValueError) and issubclass(e.ConformanceError, AssertionError)
    assert issubclass(e.MissingExtraError, ImportError) and issubclass(e.FieldError, ValueError)
    err = e.UnknownNameError("name", "no rule named 'x'")
    assert str(err) == "name: no rule named 'x'" and (err.argument, err.reason) == ("name", "no rule named 'x'")


def _raises(tree: ast.AST) -> list[tuple[ast.Raise, list[ast.AST]]]:
    """Every ``raise`` with the chain of function definitions around it."""
    out: list[tuple[ast.Raise, list[ast.AST]]] = []

    def walk(node: ast.AST, funcs: list[ast.AST]) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Raise):
                out.append((child, funcs))
            walk(child, funcs + [child] if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else funcs)

    walk(tree, [])
    return out


_VALIDATOR_DECORATORS = {"field_validator", "model_validator", "validator", "root_validator"}
_VALIDATOR_WRAPPERS = {"BeforeValidator", "AfterValidator", "PlainValidator", "WrapValidator"}
_BUILTIN_ERRORS = {n for n in dir(builtins) if isinstance(getattr(builtins, n), type)
                   and issubclass(getattr(builtins, n), BaseException)} - {"AssertionError", "NotImplementedError",
                                                                            "StopIteration", "SystemExit"}


def _name(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else None


def test_built_in_exceptions_are_raised_only_inside_pydantic_validators() -> None:
    bad = []
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        wrapped = {_name(a) for n in ast.walk(tree) if isinstance(n, ast.Call) and _name(n) in _VALIDATOR_WRAPPERS
                   for a in n.args}
        for node, funcs in _raises(tree):
            if _name(node.exc) not in _BUILTIN_ERRORS:
                continue
            fn = funcs[-1] if funcs else None
            ok = fn is not None and (fn.name in wrapped or any(_name(d) in _VALIDATOR_DECORATORS
                                                               for d in fn.decorator_list))
            if not ok:
                bad.append(f"{path.relative_to(SRC.parent)}:{node.lineno}: raise {_name(node.exc)}")
    assert not bad, "deliberate errors must be HrguardErrors (see hrguard/errors.py):\n" + "\n".join(bad)


def test_private_exception_classes_are_caught_in_their_own_module() -> None:
    for where, cls in _exception_classes().items():
        if not cls.__name__.startswith("_"):
            continue
        tree = ast.parse(Path(inspect.getsourcefile(inspect.getmodule(cls))).read_text(encoding="utf-8"))
        handled = {_name(h.type) for h in ast.walk(tree) if isinstance(h, ast.ExceptHandler)}
        handled |= {_name(e) for h in ast.walk(tree) if isinstance(h, ast.ExceptHandler)
                    and isinstance(h.type, ast.Tuple) for e in h.type.elts}
        assert cls.__name__ in handled, f"{where} is raised but never caught in its module: make it an HrguardError"


# -- the command line's usage errors --------------------------------------------------------------------
def test_argparse_errors_are_usage_errors() -> None:
    with pytest.raises(hrguard.UsageError) as err:
        build_parser().parse_args(["scan", "--no-such-option", "x.jsonl"])
    assert isinstance(err.value, hrguard.HrguardError)
    assert err.value.prog == "hrguard" and err.value.usage.startswith("usage: hrguard ")
    assert "unrecognized arguments: --no-such-option" in str(err.value)


@pytest.mark.parametrize("argv, prog, says", [
    (["scan"], "hrguard scan", "the following arguments are required: EVENTS"),
    (["scan", "x.jsonl", "--format", "xml"], "hrguard scan", "argument --format/-f: invalid choice: 'xml'"),
    (["synth", "--out", "d", "--employees", "many"], "hrguard synth", "expected a whole number of employees"),
    (["nope"], "hrguard", "argument COMMAND: invalid choice: 'nope'"),
])
def test_usage_errors_keep_argparses_format_and_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str],
                                                       prog: str, says: str) -> None:
    assert main(argv) == 2
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert out == "" and lines[0].startswith(f"usage: {prog} ")
    assert lines[-1].startswith(f"{prog}: error: ") and says in lines[-1]


def test_help_and_version_still_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0 and main(["scan", "--help"]) == 0
    assert "hrguard " in capsys.readouterr().out
