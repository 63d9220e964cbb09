"""Reading ruleset YAML safely and pointing at any path in it: ``file:line:column`` for every problem,
from YAML, pydantic or CEL."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import BaseModel, ValidationError

from ..errors import Problem
from ._model import RuleSpec

if TYPE_CHECKING:  # pragma: no cover
    pass

# -- locating problems in YAML -----------------------------------------------------------------------
class Doc:
    """A YAML document with its node tree, so any path in the data can be pointed at."""

    def __init__(self, file: str, node: yaml.Node | None, problems: list[Problem]):
        self.file = file
        self.node = node
        self.problems = problems

    def node_at(self, path: tuple[Any, ...], key: bool = False) -> yaml.Node | None:
        """The node at ``path`` (the key node of its last step when ``key``), or the deepest found."""
        node = self.node
        best = node
        for i, step in enumerate(path):
            if isinstance(node, yaml.MappingNode):
                nxt = None
                for k, v in node.value:
                    if isinstance(k, yaml.ScalarNode) and k.value == str(step):
                        nxt = k if key and i == len(path) - 1 else v
                        break
                node = nxt
            elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
                node = node.value[step]
            else:
                node = None
            if node is None:
                break
            best = node
        return best

    def locate(self, path: tuple[Any, ...], key: bool = False) -> tuple[int | None, int | None]:
        best = self.node_at(path, key)
        if best is None:
            return None, None
        return best.start_mark.line + 1, best.start_mark.column + 1

    def problem(self, path: tuple[Any, ...], message: str, rule: str | None = None, *, key: bool = False,
                at: tuple[int, int] | None = None) -> None:
        """Record ``message`` at the node of ``path`` (its key with ``key``), or at ``at`` = (line, col)."""
        line, col = at if at is not None else self.locate(path, key)
        self.problems.append(Problem(self.file, line, col, message, rule))


def _check_duplicate_keys(node: yaml.Node | None, doc: Doc) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode):
                if k.value in seen:
                    doc.problems.append(Problem(
                        doc.file, k.start_mark.line + 1, k.start_mark.column + 1,
                        f"duplicate key {k.value!r} (first at line {seen[k.value]}): each key may appear once "
                        "in a mapping; remove or merge one of them"))
                else:
                    seen[k.value] = k.start_mark.line + 1
            _check_duplicate_keys(v, doc)
    elif isinstance(node, yaml.SequenceNode):
        for v in node.value:
            _check_duplicate_keys(v, doc)


class _SafeLoader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2 booleans: only true/false, so ``on:`` stays the key "on".

    Unquoted dates stay strings (YAML 1.2 has no timestamp type); the models parse them, so a bad
    date such as ``2026-13-45`` is a located error instead of a crash inside the YAML library.
    """


_DROPPED = ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")
_SafeLoader.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in resolvers if tag not in _DROPPED]
    for ch, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_SafeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


MAX_YAML_BYTES = 1_000_000
"""The largest ruleset or pipeline text read (1 MB: the bundled ``sales`` with its tests is ~20 KB)."""
MAX_YAML_NODES = 100_000
"""The most nodes a YAML document may have once its aliases are expanded (an alias bomb of 800 bytes
expands to billions: refused before anything is built from it)."""
MAX_YAML_DEPTH = 64
"""The deepest nesting of mappings and lists a YAML document may have."""


def _measure(root: yaml.Node) -> tuple[int, int]:
    """``(nodes once aliases are expanded, nesting depth)`` of a composed document, without expanding it:
    each distinct node is visited once (an alias is the same node object), iteratively (no recursion)."""
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if key in size and not done:
            continue
        kids: list[yaml.Node] = []
        if isinstance(node, yaml.MappingNode):
            kids = [n for pair in node.value for n in pair]
        elif isinstance(node, yaml.SequenceNode):
            kids = list(node.value)
        if not done:
            size[key] = -1  # in progress: a node that contains itself is counted once
            stack.append((node, True))
            stack.extend((k, False) for k in kids if id(k) not in size)
            continue
        size[key] = min(1 + sum(max(size.get(id(k), 1), 0) for k in kids), 10 * MAX_YAML_NODES)
        depth[key] = 1 + max((depth.get(id(k), 0) for k in kids), default=0)
    return size[id(root)], depth[id(root)]


def parse_yaml(text: str, file: str, problems: list[Problem]) -> tuple[Any, Doc]:
    """Parse ``text`` safely into data and a :class:`Doc` for locating problems; a problem (never an
    exception) for YAML that is invalid or over the limits (:data:`MAX_YAML_BYTES`, :data:`MAX_YAML_NODES`,
    :data:`MAX_YAML_DEPTH`)."""
    if len(text) > MAX_YAML_BYTES:
        problems.append(Problem(file, None, None, f"too large: {len(text):,} characters (the limit is "
                                                  f"{MAX_YAML_BYTES:,})"))
        return None, Doc(file, None, problems)
    try:
        loader = _SafeLoader(text)
        try:
            node = loader.get_single_node()
            if node is not None:
                nodes, depth = _measure(node)
                if nodes > MAX_YAML_NODES or depth > MAX_YAML_DEPTH:
                    what = (f"has {'more than ' if nodes >= 10 * MAX_YAML_NODES else ''}{nodes:,} values once its "
                            f"aliases are expanded (the limit is {MAX_YAML_NODES:,})" if nodes > MAX_YAML_NODES
                            else f"is nested {depth} deep (the limit is {MAX_YAML_DEPTH})")
                    mark = node.start_mark
                    problems.append(Problem(file, mark.line + 1, mark.column + 1, f"refused: the document {what}"))
                    return None, Doc(file, None, problems)
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except RecursionError:
        problems.append(Problem(file, None, None, f"refused: the document is nested too deeply (the limit is "
                                                  f"{MAX_YAML_DEPTH})"))
        return None, Doc(file, None, problems)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        msg = "YAML syntax error: " + " ".join(p for p in (exc.context, exc.problem) if p)
        if "'\\t'" in msg:
            msg += " (a tab character: YAML indentation must use spaces, not tabs)"
        problems.append(Problem(file, mark.line + 1 if mark else None, mark.column + 1 if mark else None, msg))
        return None, Doc(file, None, problems)
    except yaml.YAMLError as exc:
        problems.append(Problem(file, None, None, f"not valid YAML: {exc}"))
        return None, Doc(file, None, problems)
    except (ValueError, TypeError, OverflowError) as exc:  # a value an explicit !!tag cannot hold
        problems.append(Problem(file, None, None, f"not valid YAML: a value cannot be read ({exc})"))
        return None, Doc(file, None, problems)
    doc = Doc(file, node, problems)
    _check_duplicate_keys(node, doc)
    return data, doc


_FRIENDLY = {
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "int_type": "expected a whole number",
    "int_parsing": "expected a whole number",
    "int_from_float": "expected a whole number",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "string_type": "expected a string",
    "list_type": "expected a list",
    "dict_type": "expected a mapping",
    "date_type": "expected a date YYYY-MM-DD",
    "date_parsing": "expected a date YYYY-MM-DD",
    "date_from_datetime_parsing": "expected a date YYYY-MM-DD",
    "string_too_short": "must not be empty",
}


def _model_at(model: type[BaseModel] | None, loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model that holds the last step of ``loc`` (for listing its expected keys)."""
    import typing

    for step in loc:
        if model is None:
            return None
        if isinstance(step, int) or step not in model.model_fields:
            continue  # a list index or a dict key: stay on the element type found below
        ann = model.model_fields[step].annotation
        model = None
        todo = [ann]
        while todo:  # find a model inside Optional[...], list[...], dict[..., ...]
            t = todo.pop()
            if isinstance(t, type) and issubclass(t, BaseModel):
                model = t
                break
            todo.extend(typing.get_args(t))
    return model


def _expected(model: type[BaseModel] | None) -> str:
    return ", ".join(model.model_fields) if model is not None and model.model_fields else "none"


_CEL_AT = re.compile(r"<input>:(\d+):(\d+): (.*?)(?:\n|$)", re.S)


def cel_problem(doc: Doc, path: tuple[Any, ...], msg: str) -> tuple[str, tuple[int, int] | None]:
    """A CEL syntax error as one line, located at the offending character inside the YAML scalar.

    The expression's own line/column are mapped into the file for plain and quoted one-line scalars
    and for literal (``|``) block scalars; otherwise the scalar itself is pointed at and the CEL
    caret snippet is kept in the message.
    """
    m = _CEL_AT.search(msg)
    if m is None:
        return msg, None
    cel_line, cel_col, what = int(m.group(1)), int(m.group(2)), m.group(3).strip()
    head = msg.split(":", 1)[0]  # "condition"
    short = f"{head}: CEL syntax error at line {cel_line}, column {cel_col} of the expression: {what}"
    node = doc.node_at(path)
    if not isinstance(node, yaml.ScalarNode):
        return short, None
    start, end = node.start_mark, node.end_mark
    if node.style in (None, "", "'", '"') and start.line == end.line and cel_line == 1:
        return short, (start.line + 1, start.column + 1 + (1 if node.style in ("'", '"') else 0) + cel_col - 1)
    if node.style == "|" and start.buffer is not None:
        lines = start.buffer.rstrip("\0").split("\n")
        first = start.line + 1  # the block's text starts on the line after the indicator
        body = lines[first:end.line + 1]
        indent = min((len(ln) - len(ln.lstrip(" ")) for ln in body if ln.strip()), default=0)
        return short, (first + cel_line, indent + cel_col)
    snippet = "\n".join(ln for ln in msg.splitlines() if ln.startswith("|"))
    return short + ("\n" + snippet if snippet else ""), None


def pydantic_problems(exc: ValidationError, doc: Doc, prefix: tuple[Any, ...], rule: str | None,
                       model: type[BaseModel] | None = None, owner: str = "") -> None:
    """Report every error of ``exc`` at its node; ``model`` is what was validated (for expected keys)."""
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        where = ".".join(str(p) for p in loc)
        etype = err["type"]
        ctx = err.get("ctx") or {}
        shown = err.get("input")
        at = None
        if etype == "extra_forbidden":
            holder = _model_at(model, loc[:-1])
            inside = f"{owner} {'.'.join(str(p) for p in loc[:-1])}".strip() or "a ruleset"
            doc.problem(prefix + loc, f"unknown key {loc[-1]!r} in {inside} (expected: {_expected(holder)})",
                        rule, key=True)
            continue
        if etype == "missing":
            msg = f"required key {loc[-1]!r} is missing" + (f" in {'.'.join(map(str, loc[:-1]))}" if loc[:-1] else "")
            doc.problem(prefix + loc, msg, rule)
            continue
        if etype == "value_error":
            cause = ctx.get("error")
            msg = f"{where}: {cause if cause is not None else err['msg'].removeprefix('Value error, ')}"
            if "<input>:" in msg:
                msg, at = cel_problem(doc, prefix + loc, msg)
        elif etype in ("literal_error", "enum") and "expected" in ctx:
            msg = f"{where}: expected {ctx['expected']} (got {shown!r})"
        elif etype in ("model_type", "model_attributes_type"):
            target = _model_at(model, loc) if loc else model
            if target is RuleSpec:
                msg = f"{where}: a rule is a mapping like {{use: geofence.mismatch}}, got {shown!r}"
            else:
                msg = f"{where}: expected a mapping (keys: {_expected(target)}), got {type(shown).__name__}"
        else:
            msg = f"{where}: {_FRIENDLY.get(etype, err['msg'])}"
            if "input" in err and not isinstance(shown, (dict, list)):
                msg += f" (got {shown!r})"
        if not where:
            msg = msg.lstrip(": ")
        doc.problem(prefix + loc, msg, rule, at=at)
