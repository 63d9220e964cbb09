"""outlier.isolation_forest judged over a window with persistence, and the coasting scenario of hrguard synth."""

from __future__ import annotations

import importlib.util
import json

import pytest

import hrguard
from hrguard.synth import SCENARIOS, Synth, SynthConfig

pytestmark = pytest.mark.skipif(importlib.util.find_spec("sklearn") is None, reason="needs the ml extra")

SH = "Asia/Shanghai"
PARAMS = {"min_periods": 10, "n_estimators": 20, "refit_growth": 0.5, "contamination": 0.1}


def _coasting_events() -> list[dict]:
    from test_conformance import coasting

    return coasting()


def _scan(**params):
    rs = hrguard.load_ruleset({"ruleset": "t", "timezone": SH, "rules": [
        {"use": "outlier.isolation_forest", "params": {**PARAMS, **params}}]})
    return hrguard.scan(_coasting_events(), rs, as_of="2026-04-17T00:00:00+08:00")


def test_window_and_persistence_flag_the_coasting_rep_once_per_run():
    one = _scan()
    persistent = _scan(window=4, min_active=3, persistence=3)
    assert {f.employee_id for f in persistent.findings} == {"E7"}
    assert len(persistent.findings) < len(one.findings)
    f = persistent.findings[0]
    assert f.details["window"] == 4 and f.details["persistence"] == 3
    assert "over the 4 days to" in f.message
    # one finding per run past the threshold: E7's findings are separated by a judgement below it
    assert len({f.ts for f in persistent.findings}) == len(persistent.findings)


def test_new_params_are_validated():
    for bad in ({"window": 0}, {"window": 3, "min_active": 4}, {"persistence": 0}):
        with pytest.raises(hrguard.RulesetError):
            hrguard.load_ruleset({"ruleset": "t", "rules": [{"use": "outlier.isolation_forest", "params": bad}]})


def test_synth_coasting_is_misconduct_no_rule_names_and_formally_in_order(tmp_path):
    assert SCENARIOS["coasting"].kind == "misconduct"
    assert SCENARIOS["coasting"].expected_rules == ("outlier.isolation_forest",)
    from hrguard.synth import write_dataset

    write_dataset(tmp_path, SynthConfig(employees=40, days=45, seed=5))
    labels = [json.loads(line) for line in open(tmp_path / "labels.jsonl", encoding="utf-8")]
    coast = [x for x in labels if x["scenario"] == "coasting"]
    assert coast, "a dataset with misconduct has a coasting rep"
    rs = hrguard.load_ruleset("sales")
    result = hrguard.scan(tmp_path / "events.jsonl", rs)
    for lab in coast:
        others = [f for f in result.findings if f.employee_id == lab["employee_id"] and f.rule != "outlier.isolation_forest"
                  and f.severity.rank >= hrguard.Severity("medium").rank]
        assert others == [], [f.message for f in others]


def test_coasting_reps_do_not_change_anyone_else():
    """The coasting reps draw from a random stream of their own: every other rep's events are the same
    as in the company without them (compared by content, ids aside)."""
    def rest(cfg: SynthConfig, drop: set[str]) -> list[tuple]:
        out = []
        for ev in Synth(cfg).events():
            if ev["employee_id"] not in drop:
                out.append(json.dumps({k: v for k, v in ev.items() if k != "id"}, sort_keys=True))
        return out

    cfg = SynthConfig(employees=30, days=35, seed=3)
    synth = Synth(cfg)
    list(synth.events())
    coasting = {x["employee_id"] for x in synth.labels if x["scenario"] == "coasting"}
    assert coasting
    import hrguard.synth._company as company

    original = company.CompanyBase.plan_coasting
    try:
        company.CompanyBase.plan_coasting = lambda self, honest: setattr(self, "crng", None)
        without = rest(cfg, coasting)
    finally:
        company.CompanyBase.plan_coasting = original
    assert rest(cfg, coasting) == without
