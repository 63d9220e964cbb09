"""Tests inside rulesets (``tests:``): the format, checked like the rest of a ruleset; running them as a batch
and as a stream; what a failure says; ``hrguard test``; the pytest helpers; the bundled ``sales`` tests."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

import pytest

import hrguard
from hrguard import Detector, Severity
from hrguard.cli import main
from hrguard.engine import Engine
from hrguard.errors import Problem
from hrguard import hookimpl
from hrguard.rules import ruleset_json_schema
from hrguard.testing import check_ruleset, parametrize_ruleset_tests, run_ruleset_tests

HEAD = """\
ruleset: orders
timezone: Asia/Shanghai
rules:
  - use: expr
    name: big-order
    severity: high
    params: {on: order.recorded, condition: "event.amount > 500000", message: "large order"}
  - use: customer.unregistered
"""

BIG = ("{id: e1, kind: order.recorded, ts: 2026-04-01T09:00:00+08:00, employee_id: E1, order_id: O1, "
       "customer_id: C1, amount: 600000}")
SMALL = ("{id: e2, kind: order.recorded, ts: 2026-04-01T09:00:00+08:00, employee_id: E2, order_id: O2, "
         "customer_id: C1, amount: 60}")


@pytest.fixture
def write(tmp_path):
    def make(text: str, name: str = "orders.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return make


@pytest.fixture
def problems(engine, write):
    """The problems of a ruleset (HEAD + ``tests``) loaded with its tests."""

    def run(tests: str, name: str = "orders.yaml") -> list[Problem]:
        with pytest.raises(hrguard.RulesetError) as info:
            engine.load_ruleset(write(HEAD + textwrap.dedent(tests), name), tests=True)
        return info.value.problems

    return run


def at(p: Problem) -> tuple[int | None, int | None]:
    return p.line, p.column


# -- the format ------------------------------------------------------------------------------------
def test_a_ruleset_with_tests_loads_them_with_their_places(engine, write):
    rs = engine.load_ruleset(write(HEAD + f"""\
tests:
  - name: a big order
    events:
      - {BIG}
      - {SMALL}
    as_of: 2026-04-01T10:00:00+08:00
    expect:
      - {{rule: big-order, employee_id: E1, severity: high, evidence: [e1]}}
    expect_not:
      - {{rule: big-order, employee_id: E2}}
    no_findings_of: [customer.unregistered]
"""), tests=True)
    (t,) = rs.tests
    assert t.name == "a big order" and t.ruleset == "orders" and not t.inherited
    assert (t.line, t.column) == (10, 5) and t.where.endswith("orders.yaml:10:5")
    assert t.place("expect", 0).endswith(":16:9") and t.place("no_findings_of", 0).endswith(":19:22")
    assert t.spec.as_of.isoformat() == "2026-04-01T10:00:00+08:00"
    assert engine.load_ruleset(rs.source).tests is None  # a scan does not read them


def test_every_problem_of_a_test_section_is_located(problems):
    found = problems(f"""\
tests:
  - name: bad event, unknown key
    events:
      - {{id: e1, kind: order.recorded, ts: 2026-04-01T09:00:00, employee_id: E1, order_id: O1, customer_id: C1, amount: 1}}
      - {{id: e2, kind: order.recorded, ts: 2026-04-01T09:00:00+08:00, employee_id: E1, order_id: O1, customer_id: C1, amount: -5}}
    expect:
      - {{rule: big-order, employee: E1}}
  - name: repeated ids, unknown rule
    events:
      - {BIG}
      - {BIG}
    expect:
      - {{rule: big-orders}}
    no_findings_of: [nope]
  - name: expects nothing
    events: [{BIG}]
  - name: repeated ids, unknown rule
    as_of: yesterday
    expect: [{{rule: big-order, count: 0}}]
""")
    got = [(p.line, p.column, p.message) for p in found]
    assert [(line, col) for line, col, _ in got] == [
        (12, 44), (13, 127), (15, 27), (19, 14), (21, 16), (22, 22), (23, 5), (26, 12), (27, 39)]
    msgs = [m for _, _, m in got]
    assert "test 'bad event, unknown key': event #1 (id e1) is not valid: field 'ts': timestamp without an offset" in msgs[0]
    assert "event #2 (id e2) is not valid: field 'amount': money is never negative (got -5)" in msgs[1]
    assert msgs[2].startswith("unknown key 'employee' in test 'bad event, unknown key' expect.0 (expected: rule, ")
    assert "event #2 repeats the id 'e1' of event #1: ids are unique within a test" in msgs[3]
    assert "test 'repeated ids, unknown rule': no rule named 'big-orders' in this ruleset (its rules: big-order, " \
           "customer.unregistered)" in msgs[4]
    assert "no rule named 'nope'" in msgs[5]
    assert "test 'expects nothing' expects nothing, so it cannot fail" in msgs[6]
    assert msgs[7].startswith("as_of: ") and "yesterday" in msgs[7]
    assert msgs[8].startswith("expect.0.count: ")


def test_repeated_test_names_are_an_error(problems):
    p, = problems(f"""\
tests:
  - {{name: twice, events: [{BIG}], expect: [{{rule: big-order}}]}}
  - {{name: twice, events: [{BIG}], expect: [{{rule: big-order}}]}}
""")
    assert at(p) == (11, 12) and "duplicate test name 'twice' (also test #1)" in p.message


def test_tests_must_be_a_list_or_a_file(problems):
    p, = problems("tests: {name: x}\n")
    assert at(p) == (9, 8) and "'tests' must be a list of tests or the path of a file of tests, got dict" in p.message


def test_tests_in_a_file_of_their_own_are_located_in_it(engine, write):
    write(f"""\
tests:
  - name: a big order
    events: [{BIG}]
    expect: [{{rule: big-order}}]
""", "orders.tests.yaml")
    rs = engine.load_ruleset(write(HEAD + "tests: orders.tests.yaml\n"), tests=True)
    assert [t.name for t in rs.tests] == ["a big order"] and rs.tests[0].file.endswith("orders.tests.yaml")
    assert check_ruleset(rs)[0].passed
    write("tests:\n  - name: x\n    events: []\n    expect: [{rule: nope}]\nother: 1\n", "orders.tests.yaml")
    with pytest.raises(hrguard.RulesetError) as info:
        engine.load_ruleset(write(HEAD + "tests: orders.tests.yaml\n"), tests=True)
    probs = info.value.problems
    assert [(Path(p.file).name, p.line, p.column) for p in probs] == [("orders.tests.yaml", 4, 21), ("orders.tests.yaml", 5, 1)]
    assert "unknown key 'other' in a file of tests (expected: tests)" in probs[1].message


def test_a_missing_file_of_tests_is_located_where_it_is_named(problems):
    p, = problems("tests: nowhere.tests.yaml\n")
    assert at(p) == (9, 8) and "cannot read the file of tests" in p.message and "nowhere.tests.yaml" in p.message


def test_a_scan_does_not_read_tests_but_validate_does(engine, write, capsys):
    path = write(HEAD + "tests: [{name: x, expect: [{rule: nope}]}]\n")
    assert engine.load_ruleset(path).tests is None  # scans keep working while a test is being fixed
    assert main(["validate", str(path)]) == 2
    assert f"{path}:9:35: test 'x': no rule named 'nope'" in capsys.readouterr().err


def test_the_json_schema_describes_tests():
    schema = ruleset_json_schema()
    assert "tests" in schema["properties"]
    spec = schema["$defs"]["RulesetTestSpec"]
    assert set(spec["properties"]) == {"name", "description", "as_of", "events", "expect", "expect_not", "no_findings_of"}
    assert "count" in schema["$defs"]["ExpectedFinding"]["properties"]


# -- running them ----------------------------------------------------------------------------------
def test_a_failing_expectation_says_what_was_expected_and_what_was_found(engine, write):
    rs = engine.load_ruleset(write(HEAD + f"""\
tests:
  - name: wrong on purpose
    events: [{BIG}, {SMALL}]
    expect:
      - {{rule: big-order, employee_id: E2}}
      - {{rule: big-order, count: 2}}
      - {{rule: customer.unregistered, reason: nope}}
    expect_not:
      - {{rule: big-order, customer_id: C1}}
    no_findings_of: [customer.unregistered]
"""), tests=True)
    (res,) = run_ruleset_tests(rs)
    assert not res.passed and len(res.failures) == 5
    missing, count, none_of_rule, forbidden, quiet = res.failures
    assert ":13:9: test 'wrong on purpose': expected a finding {rule: big-order, employee_id: E2}; found none; " \
           "the findings of 'big-order':\n    2026-04-01T09:00:00+08:00 big-order high employee E1 customer C1 " \
           "evidence [e1]: large order" in missing
    assert ":14:9: test 'wrong on purpose': expected exactly 2 findings {rule: big-order}; found 1:\n" in count
    assert "expected a finding {rule: customer.unregistered, reason: nope}; found none; the findings of " \
           "'customer.unregistered':" in none_of_rule and "employee E1 customer C1" in none_of_rule
    assert ":17:9: test 'wrong on purpose': expected no finding {rule: big-order, customer_id: C1}; found 1:" in forbidden
    assert ":18:22: test 'wrong on purpose': expected no findings of 'customer.unregistered'; found 2:" in quiet
    with pytest.raises(AssertionError, match=r"1 of 1 tests of ruleset 'orders' failed:\n.*expected a finding"):
        check_ruleset(rs)


def test_a_rule_that_made_nothing_shows_what_the_others_made(engine, write):
    rs = engine.load_ruleset(write(HEAD + f"""\
tests:
  - {{name: t, events: [{SMALL}], expect: [{{rule: big-order}}]}}
"""), tests=True)
    (res,) = run_ruleset_tests(rs)
    assert "found none; 'big-order' made none, the other rules made 1:\n    " in res.failures[0]
    assert "customer.unregistered medium employee E2 customer C1" in res.failures[0]


def test_expectations_match_on_every_key_given(engine, write):
    rs = engine.load_ruleset(write(HEAD + f"""\
tests:
  - name: all keys
    events: [{BIG}, {SMALL}]
    expect:
      - {{rule: big-order, employee_id: E1, customer_id: C1, severity: high, evidence: [e1], ts: 2026-04-01T01:00:00Z, count: 1}}
      - {{rule: customer.unregistered, count: 2}}
    expect_not:
      - {{rule: big-order, severity: low}}
      - {{rule: big-order, evidence: [e2]}}
      - {{rule: big-order, ts: 2026-04-01T09:00:00Z}}
"""), tests=True)
    assert [r.failures for r in run_ruleset_tests(rs)] == [[]]


class _StreamOnly(Detector):
    """Broken on purpose: fires only in a stream, so a batch scan and a stream disagree."""

    id = "demo.stream_only"
    title = "Fires in a stream only"
    default_severity = Severity.low
    kinds = frozenset({"order.recorded"})
    messages = {"en": {"default": "streamed"}, "zh": {"default": "流"}}

    def next_due(self) -> int | None:
        return None

    def process(self, chunk: Any) -> None:
        f = chunk.frame
        for r in chunk.rows("order.recorded").tolist():
            if self.ctx.streaming:
                self.emit(ts=int(f.ts[r]), subject=(str(f.ids[r]),), employee_id=None, customer_id=None,
                          evidence=[(int(f.ts[r]), str(f.ids[r]))], details={})


class _StreamOnlyPlugin:
    @hookimpl
    def hrguard_register_detectors(self, register: Any) -> None:
        register(_StreamOnly)


def test_a_test_fails_when_the_batch_and_the_stream_disagree(write):
    eng = Engine([_StreamOnlyPlugin()], entrypoints=False)
    rs = eng.load_ruleset(write(f"""\
rules: [{{use: demo.stream_only}}]
tests:
  - {{name: t, events: [{BIG}], no_findings_of: [demo.stream_only]}}
"""), tests=True)
    (res,) = run_ruleset_tests(rs)
    assert len(res.failures) == 1
    assert "a batch scan and a stream of the events disagree" in res.failures[0]
    assert "only in the stream: 2026-04-01T01:00:00+00:00 demo.stream_only low evidence [e1]: streamed" in res.failures[0]


def test_extended_tests_run_against_the_extending_ruleset_when_asked(engine, write):
    write(HEAD + f"tests: [{{name: big, events: [{BIG}], expect: [{{rule: big-order, severity: high}}]}}]\n")
    child = write("""\
ruleset: lenient
extends: [orders.yaml]
rules:
  - use: expr
    name: big-order
    severity: medium
    params: {on: order.recorded, condition: "event.amount > 500000", message: "large order"}
""", "lenient.yaml")
    rs = engine.load_ruleset(child, tests=True)
    assert [(t.ruleset, t.name, t.inherited) for t in rs.tests] == [("orders", "big", True)]
    assert run_ruleset_tests(rs) == []
    (res,) = run_ruleset_tests(rs, with_extended=True)  # the override lowered the severity the test expects
    assert "expected a finding {rule: big-order, severity: high}; found none" in res.failures[0]
    with pytest.raises(AssertionError, match="has no tests of its own .with_extended=True runs those"):
        check_ruleset(rs)


def test_a_ruleset_loaded_without_its_tests_is_read_again(engine, write):
    path = write(HEAD + f"tests: [{{name: big, events: [{BIG}], expect: [{{rule: big-order}}]}}]\n")
    assert [r.test.name for r in check_ruleset(engine.load_ruleset(path))] == ["big"]
    with pytest.raises(hrguard.errors.ArgumentTypeError, match="tests=True"):
        check_ruleset(engine.load_ruleset({"rules": []}))


# -- the command line ------------------------------------------------------------------------------
def run_cli(capsys, *args: object) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_hrguard_test_exit_codes_and_report(write, capsys):
    good = write(HEAD + f"tests: [{{name: big, events: [{BIG}], expect: [{{rule: big-order}}]}}]\n")
    code, out, err = run_cli(capsys, "test", good)
    assert code == 0 and err == ""
    assert out.splitlines() == [f"{good}: 1 test", "  ok    big", "1 test: 1 passed, 0 failed; ruleset orders"]
    bad = write(HEAD + f"tests: [{{name: big, events: [{SMALL}], expect: [{{rule: big-order}}]}}, "
                       f"{{name: small, events: [{SMALL}], no_findings_of: [big-order]}}]\n", "bad.yaml")
    code, out, _ = run_cli(capsys, "test", bad)
    lines = out.splitlines()
    assert code == 1 and lines[1] == "  FAIL  big"
    assert re.match(rf"        {re.escape(str(bad))}:9:\d+: test 'big': expected a finding {{rule: big-order}}; found none", lines[2])
    assert "  ok    small" in lines and lines[-1] == "2 tests: 1 passed, 1 failed; ruleset orders"
    code, out, _ = run_cli(capsys, "test", bad, "-k", "sma")
    assert code == 0 and out.splitlines()[-1] == "1 test: 1 passed, 0 failed; ruleset orders"
    code, out, err = run_cli(capsys, "test", write(HEAD + "tests: [{name: x, expect: [{rule: nope}]}]\n", "broken.yaml"))
    assert code == 2 and out == "" and "no rule named 'nope'" in err and "invalid ruleset: 1 problem" in err
    code, out, err = run_cli(capsys, "test")
    assert code == 2 and "the following arguments are required: ruleset" in err


def test_hrguard_test_of_a_ruleset_without_tests_says_so(capsys):
    code, out, _ = run_cli(capsys, "test", "sales-zh")
    assert code == 0 and "sales-zh (bundled: " in out
    assert out.rstrip().endswith("no tests; the rulesets it extends have 28 tests: --with-extended runs them")


def test_hrguard_test_sales_passes_also_for_sales_zh(capsys):
    code, out, _ = run_cli(capsys, "test", "sales")
    assert code == 0 and out.splitlines()[-1] == "28 tests: 28 passed, 0 failed; ruleset sales"
    code, out, _ = run_cli(capsys, "test", "sales-zh", "--with-extended")
    assert code == 0 and out.splitlines()[-1] == "28 tests: 28 passed, 0 failed; ruleset sales-zh"


# -- the bundled sales ruleset: a test per rule that fires and one that does not ------------------
def test_every_sales_rule_has_a_positive_and_a_negative_test(engine):
    rs = engine.load_ruleset("sales", tests=True)
    for rule in rs.rules:
        fires = [t for t in rs.tests if any(m.rule == rule.name for m in t.spec.expect)]
        quiet = [t for t in rs.tests if rule.name in t.spec.no_findings_of
                 or any(m.rule == rule.name for m in t.spec.expect_not)]
        if rule.use == "outlier.isolation_forest":  # it fires only on weeks of a team's behaviour (10-day means,
            fires = fires or ["tests/test_outlier_persistence.py"]  # 5 in a row): its firing case lives there
        assert fires and quiet, f"rule {rule.name}: tests that fire {len(fires)}, that stay quiet {len(quiet)}"


@parametrize_ruleset_tests("sales", engine=Engine(entrypoints=False))
def test_sales(ruleset_test):
    ruleset_test()


def test_the_fixture_runs_a_rulesets_tests(hrguard_ruleset_tests, write):
    path = write(HEAD + f"tests: [{{name: big, events: [{BIG}], expect: [{{rule: big-order}}]}}]\n")
    assert [r.passed for r in hrguard_ruleset_tests(path)] == [True]
    path = write(HEAD + f"tests: [{{name: big, events: [{SMALL}], expect: [{{rule: big-order}}]}}]\n", "bad.yaml")
    with pytest.raises(AssertionError, match="1 of 1 tests of ruleset 'orders' failed"):
        hrguard_ruleset_tests(path)


def test_the_docs_show_the_example_ruleset_as_it_is():
    root = Path(__file__).resolve().parent.parent
    example = (root / "docs" / "examples" / "orders.yaml").read_text(encoding="utf-8")
    assert f"```yaml\n{example}```" in (root / "docs" / "rulesets.md").read_text(encoding="utf-8")
