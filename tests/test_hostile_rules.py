"""Hostile rulesets and plugins (issue 16, the ruleset side): YAML bombs and depth, extends confined, CEL
limits, a plugin detector failing anywhere in its life, the CLI's exit code for an internal error."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import hrguard
from hrguard import Detector, Severity
from hrguard.testing import EventFactory

ROOT = Path(__file__).resolve().parents[1]


def problems_of(path: Path) -> list:
    with pytest.raises(hrguard.RulesetError) as info:
        hrguard.load_ruleset(path)
    return info.value.problems


# -- YAML ---------------------------------------------------------------------------------------------------
def test_a_yaml_alias_bomb_is_refused_at_once(tmp_path):
    lines = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):  # 9**9 ~ 387 million values in ~700 bytes
        prev, name = chr(96 + i), chr(97 + i)
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    (tmp_path / "bomb.yaml").write_text("\n".join(lines) + "\nrules: []\n")
    t = time.perf_counter()
    (p,) = problems_of(tmp_path / "bomb.yaml")
    assert time.perf_counter() - t < 5
    assert "once its aliases are expanded" in p.message and p.line == 1


@pytest.mark.parametrize("text, what", [
    ("rules: " + "[" * 500 + "]" * 500 + "\n", "nested too deeply"),
    ("rules: " + "[" * 70 + "]" * 70 + "\n", "is nested 71 deep"),
])
def test_deep_yaml_is_a_problem_not_a_recursion_error(tmp_path, text, what):
    (tmp_path / "deep.yaml").write_text(text)
    (p,) = problems_of(tmp_path / "deep.yaml")
    assert what in p.message


def test_a_huge_or_endless_file_is_read_no_further_than_the_limit(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text("# " + "x" * 1_100_000 + "\nrules: []\n")
    (p,) = problems_of(big)
    assert "too large" in p.message


# -- extends ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("ref", ["../secret.yml", "/proc/self/environ", "link.yaml"])
def test_extends_reads_nothing_outside_the_rulesets_directory(tmp_path, ref):
    (tmp_path / "secret.yml").write_text("version: SECRET-VALUE-123\n")
    sub = tmp_path / "rules"
    sub.mkdir()
    os.symlink(tmp_path / "secret.yml", sub / "link.yaml")
    (sub / "r.yaml").write_text(f"extends: {ref}\nrules: []\n")
    (p,) = problems_of(sub / "r.yaml")
    assert "is outside this ruleset's directory" in p.message and (p.line, p.column) == (1, 10)
    assert "SECRET" not in str(p)


def test_extends_still_reaches_bundled_rulesets_and_files_below(tmp_path):
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "b.yaml").write_text("rules: [{use: plan.missing, name: mine}]\n")
    (tmp_path / "r.yaml").write_text("extends: [sales, base/b.yaml]\nrules: []\n")
    assert "mine" in {r.name for r in hrguard.load_ruleset(tmp_path / "r.yaml").rules}


# -- CEL ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("condition, what", [
    ("event.amount" + " + 1" * 14_000, "characters"),
    ("(" * 100_000 + "1" + ")" * 100_000, "characters"),
    ("(" * 30 + "event.amount > 1" + ")" * 30, "nests parentheses and brackets 30 deep"),
    ("[1,2,3].map(a, [1,2,3].map(b, [1,2,3].map(c, a + b + c))).size() > 0", "3 comprehensions"),
    ("event.amount" + " + 1" * 300, "more than 400 tokens"),
])
def test_cel_over_the_limits_is_a_located_ruleset_error_before_cel_sees_it(tmp_path, condition, what):
    path = tmp_path / "r.yaml"
    path.write_text(f"rules:\n  - use: expr\n    params:\n      on: order.recorded\n      condition: '{condition}'\n")
    (p,) = problems_of(path)
    assert what in p.message and p.line == 5


def test_ordinary_cel_still_loads():
    rs = hrguard.load_ruleset({"rules": [{"use": "expr", "params": {
        "on": "plan.submitted", "condition": "event.items.exists(i, i.customer_id == 'C1') && size(event.items) > 1"}}]})
    assert rs.rules[0].use == "expr"


# -- a plugin detector failing anywhere in its life ---------------------------------------------------------
class _Base(Detector):
    title = "fails on purpose"
    kinds = frozenset({"order.recorded"})
    messages = {"en": {"default": "x"}, "zh": {"default": "x"}}
    default_severity = Severity.low

    def next_due(self):
        return None

    def process(self, chunk):
        pass


class InInit(_Base):
    id = "bad.init"

    def __init__(self, params, ctx):
        raise ValueError("broken constructor")


class InNextDue(_Base):
    id = "bad.next_due"

    def next_due(self):
        raise ValueError("broken next_due")


class InWarnings(_Base):
    id = "bad.warnings"

    def warnings(self):
        raise ValueError("broken warnings")


class InProcess(_Base):
    id = "bad.process"

    def process(self, chunk):
        raise ValueError("broken process")


@pytest.mark.parametrize("bad", [InInit, InNextDue, InWarnings, InProcess], ids=lambda c: c.id)
def test_a_plugin_detector_failing_anywhere_disables_only_its_rule(bad):
    class Plugin:
        @hrguard.hookimpl
        def hrguard_register_detectors(self, register):
            register(bad)

    engine = hrguard.Engine([Plugin()], entrypoints=False)
    rs = engine.load_ruleset({"extends": "sales", "rules": [{"use": bad.id}]})
    ev = EventFactory("2026-04-01T09:00:00+08:00")
    events = [ev("order.recorded", order_id="O1", customer_id="C1", amount=10)]
    result = engine.scan(events, rs)
    assert [(e.rule, e.detector) for e in result.errors] == [(bad.id, bad.id)]
    assert "broken" in str(result.errors[0])
    s = engine.stream(rs)
    s.push_many(events)
    s.advance_to("2026-04-02T00:00:00+08:00")
    r = s.result()
    assert [e.rule for e in r.errors] == [bad.id]


# -- the CLI ------------------------------------------------------------------------------------------------
def test_an_internal_error_exits_with_its_own_code_not_the_fail_on_code(tmp_path):
    """An escaped exception is a crash, not "found something": exit 70 (``--fail-on`` uses 1, usage 2)."""
    hook = tmp_path / "sitecustomize.py"  # make the scan itself raise a bug-like error
    hook.write_text("import hrguard.engine._engine as e\n"
                    "def boom(*a, **k):\n    raise ZeroDivisionError('a bug')\n"
                    "e.Engine.scan = boom\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    proc = subprocess.run([sys.executable, "-m", "hrguard", "scan", str(ROOT / "docs" / "examples" / "quickstart.jsonl")],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 70, (proc.returncode, proc.stderr[-500:])
    assert "internal error" in proc.stderr and "ZeroDivisionError" in proc.stderr


# -- values that reach past the calendar or the zone database ------------------------------------------------
@pytest.mark.parametrize("zone", ["Asia", "A" * 400, "../../etc/passwd", "Asia/Shanghai\x00"])
def test_a_zone_that_is_a_folder_or_too_long_is_a_located_error(tmp_path, zone):
    path = tmp_path / "r.yaml"
    path.write_text(f"timezone: {zone!r}\nrules: []\n".replace("'", '"').replace("\x00", "\\0"))
    (p,) = problems_of(path)
    assert "unknown IANA time zone" in p.message and p.line == 1


def test_a_horizon_longer_than_the_calendar_never_disables_the_rule():
    from hrguard.demo import load_events

    rs = hrguard.load_ruleset({"rules": [{"use": "summary.unsupported_claim", "params": {"horizon": "500000w"}}]})  # 9,589 years
    s = hrguard.Stream(rs)
    s.push_many(load_events())
    s.advance_to("2026-05-01T00:00:00+08:00")  # expire() runs with watermark - horizon before year 1
    assert s.result().errors == []
