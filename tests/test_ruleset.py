"""Rulesets: every problem located at file:line:column with what was expected; extends; scope/exceptions."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

import hrguard
from hrguard.errors import Problem
from hrguard.rules import ruleset_json_schema

TS = "2026-03-30T09:00:00+08:00"


@pytest.fixture
def write(tmp_path):
    def make(text: str, name: str = "rules.yaml") -> Path:
        p = tmp_path / name
        p.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return p
    return make


@pytest.fixture
def problems(engine, write):
    """Load ``text`` as a ruleset file; it must fail; return its problems (each located in that file)."""
    def run(text: str, name: str = "rules.yaml") -> list[Problem]:
        path = write(text, name)
        with pytest.raises(hrguard.RulesetError) as info:
            engine.load_ruleset(path)
        err = info.value
        assert err.problems and str(err) == "\n".join(str(p) for p in err.problems)
        for p in err.problems:
            assert str(p).startswith(f"{p.file}:{p.line}:{p.column}:")
        return err.problems
    return run


def one(probs: list[Problem]) -> Problem:
    assert len(probs) == 1, [str(p) for p in probs]
    return probs[0]


def at(p: Problem) -> tuple[int | None, int | None]:
    return (p.line, p.column)


# -- one problem each, located at the offending node --------------------------------------------------
def test_unknown_detector_lists_the_available_ones(problems, engine):
    p = one(problems("""
        rules:
          - use: geofence.mismatch
          - use: geofence.mismatchh
        """))
    assert at(p) == (3, 10) and p.rule == "geofence.mismatchh"
    assert "unknown detector 'geofence.mismatchh'" in p.message
    assert "available: " + ", ".join(sorted(engine.detectors)) in p.message


def test_unknown_parameter_points_at_the_key_and_lists_the_expected_ones(problems):
    p = one(problems("""
        rules:
          - use: geofence.mismatch
            params:
              radius_m: 300
              radius: 10
        """))
    assert at(p) == (5, 7)  # the key "radius", not its value
    assert "unknown key 'radius' in the params of geofence.mismatch" in p.message
    assert "(expected: radius_m, window_slack, max_accuracy_credit_m, flag_missing_location)" in p.message


def test_mistyped_parameter_points_at_the_value(problems):
    p = one(problems("""
        rules:
          - use: geofence.mismatch
            params: {radius_m: far}
        """))
    assert at(p) == (3, 24)
    assert p.message == "radius_m: expected a number (got 'far')"


def test_out_of_range_parameter(problems):
    p = one(problems("""
        rules:
          - use: geofence.mismatch
            params: {radius_m: -5}
        """))
    assert at(p) == (3, 24) and p.message.startswith("radius_m: ") and "-5" in p.message


def test_duplicate_instance_name(problems):
    p = one(problems("""
        rules:
          - use: expr
            name: big
            params: {on: order.recorded, condition: "event.amount > 1"}
          - use: geofence.mismatch
            name: big
        """))
    assert at(p) == (6, 11) and p.rule == "big"
    assert "duplicate rule name 'big'" in p.message and "unique 'name'" in p.message


def test_the_same_detector_twice_needs_names(problems):
    p = one(problems("""
        rules:
          - use: geofence.mismatch
          - use: geofence.mismatch
        """))
    assert at(p) == (3, 10) and "duplicate rule name 'geofence.mismatch'" in p.message


@pytest.mark.parametrize("value, hint", [
    ("7x", ""),
    ("7D", "units are lower case"),
    ("P1M", "months and years have no fixed length"),
    ("-5m", "cannot be negative"),
    ("30", "needs a unit, e.g. '30s' or '30m'"),
    ("thirty", ""),
])
def test_bad_duration_names_the_accepted_forms(problems, value, hint):
    p = one(problems(f"""
        rules:
          - use: followup.stall
            params:
              max_idle: {{quoting: "{value}"}}
        """))
    assert at(p) == (4, 27)
    assert p.message.startswith("max_idle.quoting: expected a duration such as '45s', '30m'")
    assert "'P7D'" in p.message and hint in p.message


@pytest.mark.parametrize("written", ["90", "90.0", '"90s"', '"1m30s"', '"PT90S"'])
def test_a_bare_number_is_seconds_as_everywhere_in_hrguard(ruleset, written):
    rs = ruleset({"use": "geofence.mismatch", "params": yaml.safe_load(f"{{window_slack: {written}}}")})
    assert rs.rule("geofence.mismatch").params.window_slack == 90 * 1_000_000
    assert rs.rule("geofence.mismatch").params.model_dump(mode="json")["window_slack"] == "90s"


@pytest.mark.parametrize("written, says", [("-30", "cannot be negative"), (".nan", "got nan"), (".inf", "got inf"),
                                            ("true", "got bool True"), ("[30]", "got list")])
def test_a_number_that_is_not_a_duration_is_a_located_error(problems, written, says):
    p = one(problems(f"""
        rules:
          - use: geofence.mismatch
            params: {{window_slack: {written}}}
        """))
    assert at(p) == (3, 28)
    assert p.message.startswith("window_slack: ") and says in p.message


def test_cel_syntax_error_points_inside_the_expression(problems):
    p = one(problems("""
        rules:
          - use: expr
            params:
              on: order.recorded
              condition: "event.amount >> 5"
        """))
    # the expression starts at column 19 (after the quote); CEL reports its column 15, the second ">"
    assert at(p) == (5, 19 + 15 - 1)
    assert p.message.startswith("condition: CEL syntax error at line 1, column 15 of the expression:")
    assert "\n" not in p.message


def test_cel_syntax_error_in_a_block_scalar(problems):
    p = one(problems("""
        rules:
          - use: expr
            params:
              on: order.recorded
              condition: |
                event.amount > 5 &&
                  event.type = 'order'
        """))
    assert p.line == 7 and "CEL syntax error at line 2" in p.message


def test_unknown_event_kind_in_expr(problems):
    p = one(problems("""
        rules:
          - use: expr
            params: {on: order.recordd, condition: "true"}
        """))
    assert at(p) == (3, 18) and "unknown event kind 'order.recordd'" in p.message and "order.recorded" in p.message


def test_a_tab_indented_file(problems):
    p = one(problems("rules:\n\t- use: expr\n"))
    assert at(p) == (2, 1)
    assert p.message.startswith("YAML syntax error:") and "spaces, not tabs" in p.message


def test_a_yaml_syntax_error(problems):
    p = one(problems("rules: [\n  {use: expr\n"))
    assert p.line == 3 and p.message.startswith("YAML syntax error:")


def test_unknown_top_level_key_lists_the_expected_ones(problems):
    p = one(problems("""
        ruleset: x
        rule:
          - use: expr
        """))
    assert at(p) == (2, 1)
    assert p.message == ("unknown key 'rule' in a ruleset "
                         "(expected: version, ruleset, description, language, timezone, extends, horizons, rules, tests)")


def test_unknown_key_in_a_rule_and_in_its_scope(problems):
    a, b = problems("""
        rules:
          - use: geofence.mismatch
            severty: high
            scope: {role: [sales]}
        """)
    assert at(a) == (3, 5) and "unknown key 'severty'" in a.message and "(expected: use, name, severity," in a.message
    assert at(b) == (4, 13) and b.message == "unknown key 'role' in scope (expected: roles, departments, employees)"


def test_duplicate_yaml_key(problems):
    p = one(problems("""
        timezone: UTC
        rules: []
        timezone: Asia/Shanghai
        """))
    assert at(p) == (3, 1)
    assert "duplicate key 'timezone' (first at line 1)" in p.message


def test_duplicate_key_inside_params(problems):
    p = one(problems("""
        rules:
          - use: geofence.mismatch
            params: {radius_m: 1, radius_m: 2}
        """))
    assert at(p) == (3, 27) and "duplicate key 'radius_m'" in p.message


def test_unknown_timezone(problems):
    p = one(problems("timezone: Asia/Shangai\n"))
    assert at(p) == (1, 11)
    assert "unknown IANA time zone 'Asia/Shangai'" in p.message and "Asia/Shanghai" in p.message


@pytest.mark.parametrize("text, where, words", [
    ("language: fr\n", (1, 11), ["language: expected 'en' or 'zh'", "'fr'"]),
    ("version: 2\n", (1, 10), ["version: expected 1"]),
    ("rules:\n  - use: geofence.mismatch\n    severity: urgent\n", (3, 15),
     ["severity: expected 'info', 'low', 'medium', 'high' or 'critical'", "'urgent'"]),
    ("rules:\n  - use: geofence.mismatch\n    exceptions:\n      - {employees: [E1]}\n", (4, 9),
     ["required key 'reason' is missing in exceptions.0"]),
    ("rules:\n  - use: geofence.mismatch\n    exceptions:\n      - {reason: x, until: 2026-13-45}\n", (4, 28),
     ["exceptions.0.until: expected a date YYYY-MM-DD", "2026-13-45"]),
    ("rules:\n  - geofence.mismatch\n", (2, 5), ["a rule is a mapping like {use: geofence.mismatch}"]),
    ("rules:\n  - use: geofence.mismatch\n    params: 5\n", (3, 13), ["params: expected a mapping"]),
    ("rules: {use: expr}\n", (1, 8), ["'rules' must be a list of rules"]),
    ("- use: expr\n", (1, 1), ["a ruleset is a mapping with 'rules:'"]),
])
def test_other_shape_errors(problems, text, where, words):
    p = one(problems(text))
    assert at(p) == where
    for w in words:
        assert w in p.message, p.message


def test_multiple_problems_in_one_file_are_all_reported_at_once(problems):
    probs = problems("""
        ruleset: broken
        timezone: Mars/Olympus
        rules:
          - use: geofence.mismatch
            params: {radius_m: -5, bogus: 1}
          - use: no.such.detector
          - use: followup.stall
            params: {max_idle: {quoting: 7x}}
          - use: expr
            params: {on: order.recorded, condition: "event.amount >"}
        """)
    assert [at(p) for p in probs] == [(2, 11), (5, 24), (5, 28), (6, 10), (8, 34), (10, 60)]
    assert [p.rule for p in probs] == [None, "geofence.mismatch", "geofence.mismatch", "no.such.detector",
                                      "followup.stall", "expr"]


def test_a_ruleset_loads_whole_or_not_at_all(problems):
    # one good rule and one bad: nothing is returned, only the problem
    p = one(problems("rules:\n  - use: geofence.mismatch\n  - use: nope\n"))
    assert p.rule == "nope"


def test_a_missing_file_or_name(engine, tmp_path):
    with pytest.raises(hrguard.RulesetError) as info:
        engine.load_ruleset(tmp_path / "nothere.yaml")
    p = one(info.value.problems)
    assert "no ruleset file or bundled ruleset named" in p.message and "sales" in p.message


def test_problems_of_a_dict_ruleset_have_no_line(engine):
    with pytest.raises(hrguard.RulesetError) as info:
        engine.load_ruleset({"rules": [{"use": "nope"}]})
    p = one(info.value.problems)
    assert (p.file, p.line, p.column) == ("<dict>", None, None) and "unknown detector 'nope'" in p.message


# -- YAML details -------------------------------------------------------------------------------------
def test_on_stays_the_string_on(engine, write):
    rs = engine.load_ruleset(write("""
        rules:
          - use: expr
            params:
              on: order.recorded
              condition: "true"
              message: "yes"
        """))
    params = rs.rule("expr").params
    assert params.on == ["order.recorded"] and params.message == "yes"  # not True, not a boolean key


def test_unquoted_dates_and_yes_no_stay_strings(engine, write):
    rs = engine.load_ruleset(write("""
        rules:
          - use: geofence.mismatch
            exceptions:
              - {employees: [no], until: 2026-12-31, reason: on leave}
        """))
    exc = rs.rule("geofence.mismatch").exceptions[0]
    assert exc.employees == ["no"] and str(exc.until) == "2026-12-31" and exc.reason == "on leave"


def test_unsafe_tags_are_refused(problems):
    p = one(problems("rules: !!python/object/apply:os.system [echo hi]\n"))
    assert p.line == 1 and "YAML syntax error" in p.message


# -- extends ------------------------------------------------------------------------------------------
def test_extends_a_relative_path_override_and_inheritance(engine, write, tmp_path):
    (tmp_path / "base").mkdir()
    write("""
        ruleset: base
        language: zh
        timezone: Asia/Shanghai
        rules:
          - use: geofence.mismatch
            severity: low
          - use: expr
            name: big
            params: {on: order.recorded, condition: "event.amount > 10"}
        """, "base/base.yaml")
    child = write("""
        extends: [base/base.yaml]
        rules:
          - use: geofence.mismatch
            severity: high
            params: {radius_m: 50}
          - use: expr
            name: small
            params: {on: order.recorded, condition: "event.amount < 10"}
        """, "child.yaml")
    rs = engine.load_ruleset(child)
    assert rs.name == "child"  # the name is not inherited
    assert (rs.language, rs.timezone) == ("zh", "Asia/Shanghai")  # language and timezone are
    assert [r.name for r in rs.rules] == ["geofence.mismatch", "big", "small"]
    geo = rs.rule("geofence.mismatch")
    assert geo.severity.value == "high" and geo.params.radius_m == 50  # the child's rule replaces the base's whole
    assert rs.rule("big").params.condition == "event.amount > 10"


def test_extends_nested_relative_to_each_file(engine, write, tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    write("rules:\n  - use: followup.stall\n", "a/b/deep.yaml")
    write("extends: b/deep.yaml\ntimezone: Europe/Berlin\n", "a/mid.yaml")
    rs = engine.load_ruleset(write("extends: [a/mid.yaml]\n", "top.yaml"))
    assert [r.name for r in rs.rules] == ["followup.stall"] and rs.timezone == "Europe/Berlin"


def test_extends_a_bundled_name(engine, write):
    rs = engine.load_ruleset(write("""
        extends: [sales]
        timezone: UTC
        rules:
          - use: followup.stall
            params: {max_idle: {quoting: 1d}}
        """))
    sales = engine.load_ruleset("sales")
    assert rs.timezone == "UTC" and sales.timezone == "Asia/Shanghai"
    assert [r.name for r in rs.rules] == [r.name for r in sales.rules]
    assert rs.rule("followup.stall").params.max_idle == {"quoting": 86_400_000_000}


def test_extends_of_a_missing_file(problems, tmp_path):
    p = one(problems("extends: [base.yaml, sales]\n"))
    assert at(p) == (1, 11)
    assert "no ruleset file next to this file" in p.message and "'base.yaml'" in p.message and "bundled: " in p.message


def test_extends_is_relative_to_the_file_not_the_working_directory(problems, tmp_path, monkeypatch):
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "base.yaml").write_text("rules: []\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path / "elsewhere")
    (tmp_path / "sub").mkdir()
    p = one(problems("extends: base.yaml\n", "sub/child.yaml"))
    assert "'base.yaml'" in p.message


def test_extends_cycle(problems, write):
    write("extends: [two.yaml]\nrules: []\n", "one.yaml")
    write("rules: []\nextends:\n  - one.yaml\n", "two.yaml")
    p = one(problems("extends: one.yaml\n", "start.yaml"))
    assert p.file.endswith("two.yaml") and at(p) == (3, 5)
    assert "extends: a cycle: one.yaml -> two.yaml -> one.yaml" in p.message


def test_extends_itself(problems):
    p = one(problems("extends: [self.yaml]\n", "self.yaml"))
    assert at(p) == (1, 11) and "a cycle: self.yaml -> self.yaml" in p.message


def test_problems_in_an_extended_file_are_located_in_that_file(problems, write):
    base = write("rules:\n  - use: nope\n", "base.yaml")
    probs = problems("extends: base.yaml\nrules:\n  - use: nope2\n", "child.yaml")
    assert [(Path(p.file).name, p.line, p.column) for p in probs] == [("base.yaml", 2, 10), ("child.yaml", 3, 10)]
    assert probs[0].file == str(base)


def test_a_diamond_is_not_a_cycle(engine, write):
    write("rules:\n  - use: followup.stall\n", "d.yaml")
    write("extends: d.yaml\n", "b.yaml")
    write("extends: d.yaml\n", "c.yaml")
    rs = engine.load_ruleset(write("extends: [b.yaml, c.yaml]\n", "a.yaml"))
    assert [r.name for r in rs.rules] == ["followup.stall"]


# -- bundled rulesets, API ----------------------------------------------------------------------------
def test_bundled_sales_loads_by_name():
    rs = hrguard.load_ruleset("sales")
    assert rs.name == "sales" and rs.timezone == "Asia/Shanghai"
    assert {"geofence.mismatch", "followup.stall"} <= {r.use for r in rs.rules}
    assert Path(rs.source).name == "sales.yaml"
    assert hrguard.load_ruleset(rs) is rs


def test_a_bare_name_that_is_both_a_bundled_ruleset_and_a_file_is_an_error(engine, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sales").write_text("", encoding="utf-8")  # an empty file used to replace the bundled ruleset
    with pytest.raises(hrguard.RulesetError) as info:
        engine.load_ruleset("sales")
    p = one(info.value.problems)
    assert p.file == "sales" and "is both the bundled ruleset 'sales' (" in p.message
    assert "sales.yaml" in p.message and "the file 'sales' in the working directory" in p.message
    assert "write './sales' for the file" in p.message
    assert engine.load_ruleset("./sales").rules == ()  # the file, as asked
    assert engine.load_ruleset(Path("sales")).rules == ()  # a Path is a path
    (tmp_path / "sales").unlink()
    (tmp_path / "sales").mkdir()  # a folder is not a ruleset file: the name is the bundled one
    assert engine.load_ruleset("sales").name == "sales"
    (tmp_path / "sales.yaml").write_text("ruleset: mine\n", encoding="utf-8")  # a file name is a path
    assert engine.load_ruleset("sales.yaml").name == "mine"


def test_extends_of_a_bare_name_that_is_also_a_file_next_to_it(problems, write, engine):
    write("rules: []\n", "sales")
    p = one(problems("ruleset: mine\nextends: [sales]\n"))
    assert at(p) == (2, 11) and "extends: 'sales' is both the bundled ruleset 'sales'" in p.message
    assert "next to this file" in p.message and "write './sales' for the file" in p.message
    assert engine.load_ruleset(write("extends: [./sales]\n", "mine.yaml")).rules == ()


def test_every_bundled_ruleset_loads(engine):
    for name in engine.registry.rulesets:
        assert engine.load_ruleset(name).rules


def test_with_params_round_trips_durations(ruleset):
    rs = ruleset({"use": "geofence.mismatch", "params": {"window_slack": "1h"}})
    changed = rs.with_params("geofence.mismatch", radius_m=10)
    p = changed.rule("geofence.mismatch").params
    assert p.radius_m == 10 and p.window_slack == 3_600_000_000  # not re-read as 3.6e9 hours or seconds
    with pytest.raises(KeyError):
        rs.with_params("nope", radius_m=1)


# -- JSON Schema --------------------------------------------------------------------------------------
def test_ruleset_json_schema_lists_detectors_and_is_valid(engine, write):
    schema = ruleset_json_schema(engine)
    json.dumps(schema)  # serialisable as is
    rule = schema["$defs"]["RuleSpec"]
    assert rule["properties"]["use"]["enum"] == sorted(engine.detectors)
    assert {v["if"]["properties"]["use"]["const"] for v in rule["allOf"]} == set(engine.detectors)
    jsonschema = pytest.importorskip("jsonschema")
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    validator = cls(schema)
    import yaml

    good = yaml.safe_load((Path(hrguard.__file__).parent / "rulesets" / "sales.yaml").read_text(encoding="utf-8"))
    assert not list(validator.iter_errors(good))
    bad = {"rules": [{"use": "geofence.mismatch", "params": {"radius": 3}}, {"use": "nope"}]}
    assert len(list(validator.iter_errors(bad))) >= 2


# -- scope and exceptions -----------------------------------------------------------------------------
def hired(id: str, emp: str, role: str, ts: str = "2026-03-01T09:00:00+08:00", dept: str | None = None) -> dict[str, Any]:
    return {"id": id, "kind": "employee.hired", "ts": ts, "employee_id": emp, "role": role, "department": dept}


def order(id: str, emp: str, ts: str, customer: str = "C1", amount: int = 1000) -> dict[str, Any]:
    return {"id": id, "kind": "order.recorded", "ts": ts, "employee_id": emp, "order_id": id,
            "customer_id": customer, "amount": amount}


BIG = {"use": "expr", "name": "big", "severity": "high",
       "params": {"on": "order.recorded", "condition": "event.amount > 500"}}
TEAM = [hired("h1", "E1", "sales", dept="east"), hired("h2", "E2", "manager", dept="east"),
        hired("h3", "E3", "sales", dept="west")]
ORDERS = [order("o1", "E1", "2026-03-10T10:00:00+08:00"), order("o2", "E2", "2026-03-10T11:00:00+08:00"),
          order("o3", "E3", "2026-03-10T12:00:00+08:00"), order("o4", "E9", "2026-03-10T13:00:00+08:00")]


def emps(findings: list[hrguard.Finding]) -> list[str | None]:
    return [f.employee_id for f in findings]


def test_without_scope_every_employee_is_judged(engine, ruleset):
    res = engine.scan(TEAM + ORDERS, ruleset(BIG))
    assert emps(res.findings) == ["E1", "E2", "E3", "E9"]


@pytest.mark.parametrize("scope, expected", [
    ({"roles": ["sales"]}, ["E1", "E3"]),
    ({"departments": ["east"]}, ["E1", "E2"]),
    ({"roles": ["sales"], "departments": ["east"]}, ["E1"]),
    ({"employees": ["E2", "E9"]}, ["E2", "E9"]),
    ({"roles": []}, ["E1", "E2", "E3", "E9"]),
])
def test_a_finding_outside_scope_is_dropped(engine, ruleset, scope, expected):
    res = engine.scan(TEAM + ORDERS, ruleset({**BIG, "scope": scope}))
    assert emps(res.findings) == expected
    assert res.suppressed == [] and res.summary()["findings"] == len(expected)


def test_scope_uses_the_role_known_at_the_findings_time(engine, ruleset):
    rehire = hired("h4", "E2", "sales", ts="2026-03-10T10:30:00+08:00")  # E2 becomes sales at 10:30
    late = order("o5", "E2", "2026-03-10T09:00:00+08:00")
    res = engine.scan(TEAM + ORDERS + [rehire, late], ruleset({**BIG, "scope": {"roles": ["sales"]}}))
    assert [f.evidence for f in res.findings] == [["o1"], ["o2"], ["o3"]]


def test_a_finding_matching_an_exception_is_suppressed_with_its_reason(engine, ruleset):
    rule = {**BIG, "exceptions": [
        {"employees": ["E1"], "reason": "approved bulk buyer"},
        {"customers": ["C-LEGACY"], "until": "2026-03-10", "reason": "legacy account"},
    ]}
    extra = [order("o6", "E3", "2026-03-10T23:30:00+08:00", customer="C-LEGACY"),  # the last covered local day
             order("o7", "E3", "2026-03-11T00:30:00+08:00", customer="C-LEGACY")]  # a day too late
    res = engine.scan(TEAM + ORDERS + extra, ruleset(rule, timezone="Asia/Shanghai"))
    assert [f.evidence for f in res.findings] == [["o2"], ["o3"], ["o4"], ["o7"]]
    assert [(f.evidence, f.suppressed_by) for f in res.suppressed] == [
        (["o1"], "approved bulk buyer"), (["o6"], "legacy account")]
    assert res.summary()["suppressed"] == 2 and res.summary()["findings"] == 4
    assert all(f.suppressed_by is None for f in res.findings)


def test_until_is_a_local_date_of_the_rulesets_timezone(engine, ruleset):
    rule = {**BIG, "exceptions": [{"employees": ["E1"], "until": "2026-03-10", "reason": "trip"}]}
    evs = TEAM + [order("o1", "E1", "2026-03-10T20:00:00-04:00")]  # 2026-03-11 00:00 UTC, 08:00 in Shanghai
    assert len(engine.scan(evs, ruleset(rule, timezone="America/New_York")).suppressed) == 1
    assert len(engine.scan(evs, ruleset(rule, timezone="UTC")).findings) == 1


def test_scope_applies_before_exceptions(engine, ruleset):
    rule = {**BIG, "scope": {"roles": ["manager"]}, "exceptions": [{"employees": ["E1", "E2"], "reason": "r"}]}
    res = engine.scan(TEAM + ORDERS, ruleset(rule))
    assert res.findings == [] and emps(res.suppressed) == ["E2"]  # E1 is out of scope: not even suppressed


def test_scope_and_exceptions_from_a_yaml_file(engine, write):
    rs = engine.load_ruleset(write("""
        rules:
          - use: expr
            name: big
            params: {on: order.recorded, condition: "event.amount > 500"}
            scope: {roles: [sales]}
            exceptions:
              - {employees: [E3], until: 2026-12-31, reason: "approved field trip"}
        """))
    res = engine.scan(TEAM + ORDERS, rs)
    assert emps(res.findings) == ["E1"] and [f.suppressed_by for f in res.suppressed] == ["approved field trip"]
