"""Rulesets: YAML files that switch detectors on and tune them, validated as data with located errors.

A ruleset loads whole or not at all: every problem (YAML syntax, unknown key, unknown detector,
unknown or mistyped parameter, duplicate instance name, bad duration, CEL syntax error, unknown time
zone, a cycle in ``extends``) is collected with its ``file:line:column`` and raised together in one
:class:`~hrguard.errors.RulesetError`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import ArgumentTypeError, Problem, RulesetError, UnknownNameError
from .findings import Severity
from .timeutil import get_zone

if TYPE_CHECKING:  # pragma: no cover
    from .detector import Detector, DetectorParams
    from .engine import Engine

FORMAT_VERSION = 1


# -- the file format, as pydantic models (also the JSON Schema) --------------------------------------
class Scope(BaseModel):
    """Who a rule applies to: an employee matches when every non-empty list contains them."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    roles: list[str] = Field(default_factory=list)
    departments: list[str] = Field(default_factory=list)
    employees: list[str] = Field(default_factory=list)


class RuleException(BaseModel):
    """Suppress matching findings (they are counted and listable, never silently dropped)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    employees: list[str] | None = None
    customers: list[str] | None = None
    until: date | None = Field(default=None, description="last local date the exception covers (inclusive)")
    reason: str = Field(min_length=1, description="why: shown on every suppressed finding")


class RuleSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    use: str = Field(description="detector id, built in or from a plugin")
    name: str | None = Field(default=None, description="instance name, unique in the ruleset (default: the detector id)")
    severity: Severity | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    scope: Scope = Field(default_factory=Scope)
    exceptions: list[RuleException] = Field(default_factory=list)


class RulesetFile(BaseModel):
    model_config = ConfigDict(extra="forbid", title="hrguard ruleset")
    version: Literal[1] = Field(default=FORMAT_VERSION, description="ruleset format version")
    ruleset: str | None = Field(default=None, description="the ruleset's name")
    description: str | None = None
    language: Literal["en", "zh"] | None = Field(default=None, description="message language (default en)")
    timezone: str | None = Field(default=None, description="IANA zone for local dates and HH:MM times (default UTC)")
    extends: list[str] | str = Field(default_factory=list, description="other rulesets: relative paths or bundled names")
    rules: list[RuleSpec] = Field(default_factory=list)


def ruleset_json_schema(engine: Engine | None = None) -> dict[str, Any]:
    """JSON Schema of the ruleset format; with an engine, ``use`` and ``params`` are checked per detector."""
    schema = RulesetFile.model_json_schema()
    if engine is not None:
        variants = []
        for det_id, reg in sorted(engine.registry.detectors.items()):
            pschema = reg.obj.Params.model_json_schema()
            variants.append({
                "if": {"properties": {"use": {"const": det_id}}},
                "then": {"properties": {"params": pschema}},
            })
        rule = schema["$defs"]["RuleSpec"]
        rule["properties"]["use"]["enum"] = sorted(engine.registry.detectors)
        rule["allOf"] = variants
    return schema


# -- the loaded form ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Rule:
    """One rule instance: a detector with validated params, severity, scope and exceptions."""

    name: str
    detector: type[Detector]
    params: DetectorParams
    severity: Severity
    scope: Scope = Scope()
    exceptions: tuple[RuleException, ...] = ()

    @property
    def use(self) -> str:
        return self.detector.id


@dataclass(frozen=True)
class Ruleset:
    """A loaded, validated ruleset bound to the engine whose detectors it uses."""

    name: str
    language: str
    timezone: str
    rules: tuple[Rule, ...]
    source: str
    engine: Engine = field(repr=False, compare=False)

    def rule(self, name: str) -> Rule:
        for r in self.rules:
            if r.name == name:
                return r
        raise UnknownNameError("name", self._no_rule(name))

    def _no_rule(self, name: str) -> str:
        return f"no rule named {name!r} in ruleset {self.name!r} (its rules: {', '.join(r.name for r in self.rules)})"

    def with_params(self, name: str, **params: Any) -> Ruleset:
        """A copy with rule ``name``'s params changed (validated), e.g. for a parameter sweep."""
        from dataclasses import replace

        rules = []
        for r in self.rules:
            if r.name == name:
                merged = {**r.params.model_dump(mode="json"), **params}  # durations as "30m" again
                r = replace(r, params=r.detector.Params.model_validate(merged))
            rules.append(r)
        if not any(r.name == name for r in self.rules):
            raise UnknownNameError("name", self._no_rule(name))
        return replace(self, rules=tuple(rules))


# -- locating problems in YAML -----------------------------------------------------------------------
class _Doc:
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


def _check_duplicate_keys(node: yaml.Node | None, doc: _Doc) -> None:
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


def _parse_yaml(text: str, file: str, problems: list[Problem]) -> tuple[Any, _Doc]:
    try:
        loader = _SafeLoader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        msg = "YAML syntax error: " + " ".join(p for p in (exc.context, exc.problem) if p)
        if "'\\t'" in msg:
            msg += " (a tab character: YAML indentation must use spaces, not tabs)"
        problems.append(Problem(file, mark.line + 1 if mark else None, mark.column + 1 if mark else None, msg))
        return None, _Doc(file, None, problems)
    except yaml.YAMLError as exc:
        problems.append(Problem(file, None, None, f"not valid YAML: {exc}"))
        return None, _Doc(file, None, problems)
    except (ValueError, TypeError, OverflowError) as exc:  # a value an explicit !!tag cannot hold
        problems.append(Problem(file, None, None, f"not valid YAML: a value cannot be read ({exc})"))
        return None, _Doc(file, None, problems)
    doc = _Doc(file, node, problems)
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


def _cel_problem(doc: _Doc, path: tuple[Any, ...], msg: str) -> tuple[str, tuple[int, int] | None]:
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


def _pydantic_problems(exc: ValidationError, doc: _Doc, prefix: tuple[Any, ...], rule: str | None,
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
                msg, at = _cel_problem(doc, prefix + loc, msg)
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


# -- loading -----------------------------------------------------------------------------------------
def _resolve(ref: str, base_dir: Path | None, engine: Engine) -> Path | None:
    p = Path(ref)
    # relative to the extending file (never the working directory); a top-level path as given
    candidates = [base_dir / p] if base_dir is not None and not p.is_absolute() else [p]
    for c in candidates:
        if c.is_file():
            return c
    reg = engine.registry.rulesets.get(ref) or engine.registry.rulesets.get(Path(ref).stem if ref.endswith((".yaml", ".yml")) and "/" not in ref else "")
    if reg is not None:
        return Path(reg.obj[1])
    return None


@dataclass
class _Partial:
    name: str | None
    language: str | None
    timezone: str | None
    rules: list[Rule]


def _load_file(path: Path, engine: Engine, problems: list[Problem], stack: tuple[Path, ...]) -> _Partial:
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        problems.append(Problem(file, None, None, f"cannot read ruleset: {exc}"))
        return _Partial(None, None, None, [])
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        problems.append(Problem(file, line, None, f"a ruleset must be UTF-8 text: {exc.reason} at byte {exc.start}"))
        return _Partial(None, None, None, [])
    data, doc = _parse_yaml(text, file, problems)
    if doc.node is None and data is None and problems:
        return _Partial(None, None, None, [])
    return _load_data(data, doc, path.parent, engine, problems, stack + (path.resolve(),))


def _load_data(data: Any, doc: _Doc, base_dir: Path | None, engine: Engine, problems: list[Problem],
               stack: tuple[Path, ...]) -> _Partial:
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        doc.problem((), f"a ruleset is a mapping with 'rules:', got {type(data).__name__}")
        return _Partial(None, None, None, [])
    # validate the shape first, rules one by one so every problem is found
    raw_rules = data.get("rules", [])
    top = {k: v for k, v in data.items() if k != "rules"}
    try:
        head = RulesetFile.model_validate(top)
    except ValidationError as exc:
        _pydantic_problems(exc, doc, (), None, RulesetFile)
        head = RulesetFile()
    if head.timezone is not None:
        try:
            get_zone(head.timezone)
        except ValueError as exc:
            doc.problem(("timezone",), str(exc))
    base_rules: list[Rule] = []
    language, timezone, name = head.language, head.timezone, head.ruleset
    extends = [head.extends] if isinstance(head.extends, str) else list(head.extends)
    for i, ref in enumerate(extends):
        at = ("extends", i) if isinstance(head.extends, list) else ("extends",)
        target = _resolve(ref, base_dir, engine)
        if target is None:
            where = f" next to this file ({base_dir})" if base_dir is not None else ""
            doc.problem(at, f"extends: no ruleset file{where} or bundled ruleset named {ref!r} "
                            f"(bundled: {', '.join(sorted(engine.registry.rulesets)) or 'none'})")
            continue
        if target.resolve() in stack:
            chain = list(stack[stack.index(target.resolve()):]) + [target.resolve()]
            doc.problem(at, "extends: a cycle: " + " -> ".join(c.name for c in chain)
                            + " (a ruleset cannot extend itself, directly or through others)")
            continue
        part = _load_file(target, engine, problems, stack)
        language = language or part.language
        timezone = timezone or part.timezone
        by_name = {r.name: i for i, r in enumerate(base_rules)}
        for r in part.rules:
            if r.name in by_name:
                base_rules[by_name[r.name]] = r
            else:
                by_name[r.name] = len(base_rules)
                base_rules.append(r)
    if not isinstance(raw_rules, list):
        doc.problem(("rules",), f"'rules' must be a list of rules, got {type(raw_rules).__name__}")
        raw_rules = []
    own: list[Rule] = []
    names: dict[str, int] = {}
    for i, raw in enumerate(raw_rules):
        path = ("rules", i)
        try:
            spec = RuleSpec.model_validate(raw)
        except ValidationError as exc:
            label = None
            if isinstance(raw, Mapping):
                label = raw.get("name") if isinstance(raw.get("name"), str) else raw.get("use")
            _pydantic_problems(exc, doc, path, label if isinstance(label, str) else None, RuleSpec)
            continue
        rule_name = spec.name or spec.use
        if rule_name in names:
            doc.problem(path + ("name",) if spec.name else path + ("use",),
                        f"duplicate rule name {rule_name!r} (also rule #{names[rule_name] + 1}); give each instance a unique 'name'",
                        rule_name)
            continue
        names[rule_name] = i
        reg = engine.registry.detectors.get(spec.use)
        if reg is None:
            known = ", ".join(sorted(engine.registry.detectors))
            doc.problem(path + ("use",), f"unknown detector {spec.use!r} (available: {known})", rule_name)
            continue
        det = reg.obj
        try:
            params = det.validate_params(spec.params)
        except ValidationError as exc:
            _pydantic_problems(exc, doc, path + ("params",), rule_name, det.Params, owner=f"the params of {det.id}")
            continue
        cross = det.check(params, set(engine.kinds))
        for sub, msg in cross:
            doc.problem(path + ("params",) + tuple(sub), msg, rule_name)
        if cross:
            continue
        scope = spec.scope if "scope" in spec.model_fields_set else Scope(**det.default_scope)
        own.append(Rule(rule_name, det, params, spec.severity or det.default_severity, scope, tuple(spec.exceptions)))
    by_name = {r.name: i for i, r in enumerate(base_rules)}
    rules = list(base_rules)
    for r in own:
        if r.name in by_name:
            rules[by_name[r.name]] = r  # a rule of the same name overrides the extended one
        else:
            rules.append(r)
    return _Partial(name, language, timezone, rules)


def load_ruleset(source: str | Path | Mapping[str, Any] | Ruleset, engine: Engine) -> Ruleset:
    """Load a ruleset from a path, a bundled name (``"sales"``), or a mapping with ``engine``'s detectors and
    bundled rulesets; raise ``RulesetError``.

    ``hrguard.load_ruleset`` (:func:`hrguard.engine.load_ruleset`) is this with the default engine.
    """
    if engine is None:
        raise ArgumentTypeError("engine", "hrguard.ruleset.load_ruleset needs the engine whose detectors the "
                                          "ruleset uses; hrguard.load_ruleset(source) uses the default engine")
    if isinstance(source, Ruleset):
        return source
    problems: list[Problem] = []
    if isinstance(source, Mapping):
        doc = _Doc("<dict>", None, problems)
        part = _load_data(source, doc, Path.cwd(), engine, problems, ())
        label = "<dict>"
    else:
        path = _resolve(str(source), None, engine)
        if path is None:
            bundled = ", ".join(sorted(engine.registry.rulesets)) or "none"
            raise RulesetError([Problem(str(source), None, None,
                                        f"no ruleset file or bundled ruleset named {str(source)!r} (bundled: {bundled})")])
        part = _load_file(path, engine, problems, ())
        label = str(path)
    if problems:
        files = {p.file: i for i, p in reversed(list(enumerate(problems)))}  # files in order of first problem
        problems.sort(key=lambda p: (files[p.file], p.line or 0, p.column or 0))
        raise RulesetError(problems)
    name = part.name or (Path(label).stem if label != "<dict>" else "ruleset")
    return Ruleset(name, part.language or "en", part.timezone or "UTC", tuple(part.rules), label, engine)
