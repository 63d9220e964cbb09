"""Rulesets: YAML files that switch detectors on and tune them, validated as data with located errors.

A ruleset loads whole or not at all: every problem (YAML syntax, unknown key, unknown detector,
unknown or mistyped parameter, duplicate instance name, bad duration, CEL syntax error, unknown time
zone, a cycle in ``extends``) is collected with its ``file:line:column`` and raised together in one
:class:`~hrguard.errors.RulesetError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from ..errors import ArgumentTypeError, Problem, RulesetError
from ..events import get_zone

if TYPE_CHECKING:  # pragma: no cover
    from ..engine import Engine

from ._model import Horizons, Rule, Ruleset, RulesetFile, RulesetTest, RuleSpec, Scope
from ._tests import load_tests
from ._yaml import MAX_YAML_BYTES, Doc, parse_yaml, pydantic_problems


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


def _outside(ref: str, target: Path, base_dir: Path | None, engine: Engine) -> str | None:
    """Why ``extends: ref`` (resolved to ``target``) may not be read, or None. A ruleset extends bundled
    rulesets, plugins' rulesets, and files in its own directory or below (symbolic links resolved):
    never ``../``, an absolute path, or ``/proc/self/environ`` — a ruleset is data a user may be sent."""
    registered = {Path(reg.obj[1]).resolve() for reg in engine.registry.rulesets.values()}
    real = target.resolve()
    if real in registered:
        return None
    root = (base_dir if base_dir is not None else Path.cwd()).resolve()
    if real.is_relative_to(root):
        return None
    return (f"{ref!r} is outside this ruleset's directory ({root}): a ruleset may extend bundled rulesets, "
            f"plugins' rulesets and files in its own directory or below")


def _ambiguous(ref: str, base_dir: Path | None, engine: Engine) -> str | None:
    """Why a bare name (no folder: ``leave``, not ``./leave``) cannot be resolved, when it names both a
    bundled ruleset and a file (in the working directory, or next to the extending file); else None.

    Picking either silently is wrong one time in two: an empty file named ``leave`` would replace the
    bundled ruleset (and load as 0 rules), or a file the user meant would be ignored."""
    reg = engine.registry.rulesets.get(ref)
    if reg is None or Path(ref).name != ref:
        return None
    here = base_dir / ref if base_dir is not None else Path(ref)
    if not here.is_file():
        return None
    where = f"next to this file ({base_dir})" if base_dir is not None else "in the working directory"
    return (f"{ref!r} is both the bundled ruleset {ref!r} ({reg.obj[1]}) and the file {str(here)!r} {where}: "
            f"write './{ref}' for the file; for the bundled ruleset, rename or move the file")


@dataclass
class _Partial:
    name: str | None
    language: str | None
    timezone: str | None
    rules: list[Rule]
    horizons: Horizons | None = None
    tests: list[RulesetTest] = field(default_factory=list)  # its own, then the extended rulesets' (inherited)


def _load_file(path: Path, engine: Engine, problems: list[Problem], stack: tuple[Path, ...],
               tests: bool = False) -> _Partial:
    file = str(path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_YAML_BYTES + 1)  # never more than the limit, whatever the path is (/dev/zero)
    except OSError as exc:
        problems.append(Problem(file, None, None, f"cannot read ruleset: {exc.strerror or exc}"))
        return _Partial(None, None, None, [])
    if len(raw) > MAX_YAML_BYTES:
        problems.append(Problem(file, None, None, f"too large: more than {MAX_YAML_BYTES:,} bytes (the limit)"))
        return _Partial(None, None, None, [])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        problems.append(Problem(file, line, None, f"a ruleset must be UTF-8 text: {exc.reason} at byte {exc.start}"))
        return _Partial(None, None, None, [])
    data, doc = parse_yaml(text, file, problems)
    if doc.node is None and data is None and problems:
        return _Partial(None, None, None, [])
    return _load_data(data, doc, path.parent, engine, problems, stack + (path.resolve(),), tests)


def _load_data(data: Any, doc: Doc, base_dir: Path | None, engine: Engine, problems: list[Problem],
               stack: tuple[Path, ...], tests: bool = False) -> _Partial:
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        doc.problem((), f"a ruleset is a mapping with 'rules:', got {type(data).__name__}")
        return _Partial(None, None, None, [])
    # validate the shape first, rules one by one so every problem is found
    raw_rules = data.get("rules", [])
    top = {k: v for k, v in data.items() if k not in ("rules", "tests")}
    try:
        head = RulesetFile.model_validate(top)
    except ValidationError as exc:
        pydantic_problems(exc, doc, (), None, RulesetFile)
        head = RulesetFile()
    if head.timezone is not None:
        try:
            get_zone(head.timezone)
        except ValueError as exc:
            doc.problem(("timezone",), str(exc))
    base_rules: list[Rule] = []
    inherited: list[RulesetTest] = []
    language, timezone, name, horizons = head.language, head.timezone, head.ruleset, head.horizons
    extends = [head.extends] if isinstance(head.extends, str) else list(head.extends)
    for i, ref in enumerate(extends):
        at = ("extends", i) if isinstance(head.extends, list) else ("extends",)
        clash = _ambiguous(ref, base_dir, engine)
        if clash is not None:
            doc.problem(at, f"extends: {clash}")
            continue
        target = _resolve(ref, base_dir, engine)
        if target is None:
            where = f" next to this file ({base_dir})" if base_dir is not None else ""
            doc.problem(at, f"extends: no ruleset file{where} or bundled ruleset named {ref!r} "
                            f"(bundled: {', '.join(sorted(engine.registry.rulesets)) or 'none'})")
            continue
        outside = _outside(ref, target, base_dir, engine)
        if outside is not None:  # never read: its content must not reach a message either
            doc.problem(at, f"extends: {outside}")
            continue
        if target.resolve() in stack:
            chain = list(stack[stack.index(target.resolve()):]) + [target.resolve()]
            doc.problem(at, "extends: a cycle: " + " -> ".join(c.name for c in chain)
                            + " (a ruleset cannot extend itself, directly or through others)")
            continue
        part = _load_file(target, engine, problems, stack, tests)
        language = language or part.language
        timezone = timezone or part.timezone
        horizons = horizons or part.horizons
        inherited += [t if t.inherited else replace(t, inherited=True) for t in part.tests]
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
    names: dict[str, int] = {}  # rule name -> its index among this file's rules
    for i, raw in enumerate(raw_rules):
        path = ("rules", i)
        try:
            spec = RuleSpec.model_validate(raw)
        except ValidationError as exc:
            label = None
            if isinstance(raw, Mapping):
                label = raw.get("name") if isinstance(raw.get("name"), str) else raw.get("use")
            pydantic_problems(exc, doc, path, label if isinstance(label, str) else None, RuleSpec)
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
            pydantic_problems(exc, doc, path + ("params",), rule_name, det.Params, owner=f"the params of {det.id}")
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
    _check_correlations(rules, {r.name for r in own}, names, engine, doc)
    if not tests:  # a scan needs no tests: reading and checking them is left to validate and test
        return _Partial(name, language, timezone, rules, horizons)
    label = name or (Path(doc.file).stem if doc.file != "<dict>" else "ruleset")
    known = list(dict.fromkeys([r.name for r in rules] + list(names)))  # a rule with a bad param is still named
    own = load_tests(data.get("tests"), doc, base_dir, engine, problems, known, label)
    return _Partial(name, language, timezone, rules, horizons, own + inherited)


def _check_correlations(rules: list[Rule], own: set[str], index: dict[str, int], engine: Engine, doc: Doc) -> None:
    """A correlation's inputs are rules of the ruleset (a correlation among them must come before it, as the
    engine runs correlations in order) or event kinds; a rule whose findings a stream only reports at
    ``advance_to`` (its detector defers work to ``settle``) cannot be an input."""
    from ..sdk import Detector

    position = {r.name: k for k, r in enumerate(rules)}
    for k, rule in enumerate(rules):
        if not rule.detector.reads_findings or rule.name not in own:
            continue
        items = getattr(rule.params, "rules", [])
        for j, item in enumerate(items):
            for m, n in enumerate([item] if isinstance(item, str) else item):
                at = ("rules", index[rule.name], "params", "rules", j) + ((m,) if not isinstance(item, str) else ())
                target = rules[position[n]] if n in position else None
                if target is not None and n in engine.kinds:
                    doc.problem(at, f"{n!r} is both a rule of this ruleset and an event kind: rename the rule", rule.name)
                elif target is not None:
                    if target.name == rule.name:
                        doc.problem(at, "a correlation cannot take its own findings", rule.name)
                    elif target.detector.reads_findings and position[n] > k:
                        doc.problem(at, f"correlation {n!r} comes after this one: list it before (correlations run "
                                        "in ruleset order)", rule.name)
                    elif type.__getattribute__(target.detector, "settle") is not Detector.settle:
                        doc.problem(at, f"rule {n!r} ({target.use}) reports its findings at advance_to in a stream, "
                                        "too late to correlate the same way as a scan: it cannot be an input", rule.name)
                elif n not in engine.kinds:
                    doc.problem(at, f"{n!r} is neither a rule of this ruleset nor an event kind (rules: "
                                    f"{', '.join(r.name for r in rules if r.name != rule.name)})", rule.name)


def load_ruleset(source: str | Path | Mapping[str, Any] | Ruleset, engine: Engine, *, tests: bool = False) -> Ruleset:
    """Load a ruleset from a path, a bundled name (``"sales"``), or a mapping with ``engine``'s detectors and
    bundled rulesets; raise ``RulesetError``. With ``tests``, the ruleset's tests (its own and those of the
    rulesets it extends) are read and checked too, into ``Ruleset.tests``; otherwise that is ``None``.

    ``hrguard.load_ruleset`` (:func:`hrguard.engine.load_ruleset`) is this with the default engine.
    """
    if engine is None:
        raise ArgumentTypeError("engine", "hrguard.rules.load_ruleset needs the engine whose detectors the "
                                          "ruleset uses; hrguard.load_ruleset(source) uses the default engine")
    if isinstance(source, Ruleset):
        if tests and source.tests is None:
            if source.source == "<dict>":
                raise ArgumentTypeError("source", "a ruleset loaded from a mapping without tests=True: load the "
                                                  "mapping again with tests=True")
            return load_ruleset(source.source, engine, tests=True)
        return source
    problems: list[Problem] = []
    if isinstance(source, Mapping):
        doc = Doc("<dict>", None, problems)
        part = _load_data(source, doc, Path.cwd(), engine, problems, (), tests)
        label = "<dict>"
    else:
        clash = None if isinstance(source, Path) else _ambiguous(str(source), None, engine)  # a Path is a path
        if clash is not None:
            raise RulesetError([Problem(str(source), None, None, clash)])
        path = _resolve(str(source), None, engine)
        if path is None:
            bundled = ", ".join(sorted(engine.registry.rulesets)) or "none"
            raise RulesetError([Problem(str(source), None, None,
                                        f"no ruleset file or bundled ruleset named {str(source)!r} (bundled: {bundled})")])
        part = _load_file(path, engine, problems, (), tests)
        label = str(path)
    if problems:
        files = {p.file: i for i, p in reversed(list(enumerate(problems)))}  # files in order of first problem
        problems.sort(key=lambda p: (files[p.file], p.line or 0, p.column or 0))
        raise RulesetError(problems)
    name = part.name or (Path(label).stem if label != "<dict>" else "ruleset")
    return Ruleset(name, part.language or "en", part.timezone or "UTC", tuple(part.rules), label, engine,
                   part.horizons or Horizons(), tuple(part.tests) if tests else None)
