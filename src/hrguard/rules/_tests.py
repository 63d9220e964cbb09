"""A ruleset's ``tests:``: read and validated like the rest of the ruleset, every problem located.

A test's section is checked as data (unknown keys, types, instants with offsets), its events as input
(each through its kind's model, as a scan would: a bad event is a located problem, not a rejection
found when the test runs), ids unique within the test, and every rule it names must be a rule of the
ruleset. ``tests:`` may instead name a YAML file (relative to the ruleset file) holding ``tests: [...]``,
so that a bundled ruleset stays short; that file's problems are located in it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from ..errors import Problem
from ..ingest import validate
from ._model import RulesetTest, RulesetTestsFile, RulesetTestSpec
from ._yaml import Doc, parse_yaml, pydantic_problems

if TYPE_CHECKING:  # pragma: no cover
    from ..engine import Engine


def load_tests(raw: Any, doc: Doc, base_dir: Path | None, engine: Engine, problems: list[Problem],
               rule_names: Sequence[str], ruleset: str) -> list[RulesetTest]:
    """The tests of ``raw`` (the value of ``tests:`` in ``doc``: a list, or a file's path)."""
    if raw is None:
        return []
    if isinstance(raw, str):
        loaded = _read_file(raw, doc, base_dir, problems)
        if loaded is None:
            return []
        raw, doc = loaded
    if not isinstance(raw, list):
        doc.problem(("tests",), f"'tests' must be a list of tests or the path of a file of tests, got {type(raw).__name__}")
        return []
    out: list[RulesetTest] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(raw):
        test = _one(item, ("tests", i), doc, engine, rule_names, ruleset)
        if test is None:
            continue
        if test.name in seen:
            doc.problem(("tests", i, "name"), f"duplicate test name {test.name!r} (also test #{seen[test.name] + 1}); "
                                              "give each test a unique name")
            continue
        seen[test.name] = i
        out.append(test)
    return out


def _read_file(ref: str, doc: Doc, base_dir: Path | None, problems: list[Problem]) -> tuple[Any, Doc] | None:
    path = (base_dir or Path.cwd()) / ref
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = "no such file" if isinstance(exc, FileNotFoundError) else str(exc)
        doc.problem(("tests",), f"tests: cannot read the file of tests {str(path)!r}: {why}")
        return None
    data, tdoc = parse_yaml(text, str(path), problems)
    if tdoc.node is None and data is None:
        return [], tdoc  # a YAML error (already reported), or an empty file: no tests
    if not isinstance(data, Mapping):
        tdoc.problem((), f"a file of tests is a mapping with 'tests:', got {type(data).__name__}")
        return None
    try:  # its other keys (the tests themselves are checked one by one)
        RulesetTestsFile.model_validate({k: v for k, v in data.items() if k != "tests"})
    except ValidationError as exc:
        pydantic_problems(exc, tdoc, (), None, RulesetTestsFile, owner="a file of tests")
    return data.get("tests", []), tdoc


def _one(item: Any, path: tuple[Any, ...], doc: Doc, engine: Engine, rule_names: Sequence[str],
         ruleset: str) -> RulesetTest | None:
    label = item.get("name") if isinstance(item, Mapping) and isinstance(item.get("name"), str) else f"#{path[-1] + 1}"
    where = f"test {label!r}"
    ok = _check_events(item.get("events") if isinstance(item, Mapping) else None, path, doc, engine, where)
    try:
        spec = RulesetTestSpec.model_validate(item)
    except ValidationError as exc:
        pydantic_problems(exc, doc, path, None, RulesetTestSpec, owner=where)
        return None
    named = [(("expect", k, "rule"), m.rule) for k, m in enumerate(spec.expect)]
    named += [(("expect_not", k, "rule"), m.rule) for k, m in enumerate(spec.expect_not)]
    named += [(("no_findings_of", k), r) for k, r in enumerate(spec.no_findings_of)]
    for sub, rule in named:
        if rule not in rule_names:
            doc.problem(path + sub, f"{where}: no rule named {rule!r} in this ruleset "
                                    f"(its rules: {', '.join(rule_names) or 'none'})")
            ok = False
    if not (spec.expect or spec.expect_not or spec.no_findings_of):
        doc.problem(path, f"{where} expects nothing, so it cannot fail: give expect, expect_not or no_findings_of")
        ok = False
    if not ok:
        return None
    line, col = doc.locate(path)
    places = {}
    for key in ("expect", "expect_not", "no_findings_of"):
        for k in range(len(getattr(spec, key))):
            places[(key, k)] = doc.locate(path + (key, k))
    return RulesetTest(spec, ruleset, doc.file, line, col, places)


def _check_events(events: Any, path: tuple[Any, ...], doc: Doc, engine: Engine, where: str) -> bool:
    """Each event (a mapping) through its kind's model, ids unique: whether all are valid input."""
    if not isinstance(events, list):
        return True  # not a list: the test's model says so
    ok = True
    ids: dict[str, int] = {}
    for j, ev in enumerate(events):
        if not isinstance(ev, Mapping):
            continue  # the test's model says so
        at = path + ("events", j)
        checked = validate(dict(ev), engine.kinds)
        if isinstance(checked, tuple):
            rid, fld, msg = checked
            steps = tuple(int(s) if s.isdigit() else s for s in fld.split(".")) if fld else ()
            doc.problem(at + steps, f"{where}: event #{j + 1}{f' (id {rid})' if rid else ''} is not valid: "
                                    f"{f'field {fld!r}: ' if fld else ''}{msg}")
            ok = False
            continue
        if checked.id in ids:
            doc.problem(at + ("id",), f"{where}: event #{j + 1} repeats the id {checked.id!r} of event "
                                      f"#{ids[checked.id] + 1}: ids are unique within a test")
            ok = False
        ids.setdefault(checked.id, j)
    return ok
