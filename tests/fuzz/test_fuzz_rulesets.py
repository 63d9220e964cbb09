"""Fuzzing the ruleset input (issue 16): rulesets generated from the ruleset format's keys and detectors'
params, mutated, and a corpus of hostile rulesets (alias bombs, deep nesting, huge CEL, escaping
``extends``, invalid UTF-8, tabs, duplicate keys), each scanned in a subprocess under a time limit
(``fuzzlib.Worker``), asserting that loading ends in a Ruleset or a clear ``HrguardError`` (a
``RulesetError`` naming the problem) — never a traceback, a dead process or a hang — and that a valid one
scans. ``HRGUARD_FUZZ_RULESETS`` sets the number of generated cases (default 120).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fuzzlib
from fuzzlib import Worker, check_counts, count

pytestmark = pytest.mark.xdist_group("fuzz")

EXAMPLES = int(os.environ.get("HRGUARD_FUZZ_RULESETS", "120"))
DETECTORS = ["geofence.mismatch", "followup.stall", "summary.unsupported_claim", "approval.bypass", "expr",
             "correlation", "plan.missing", "termination.unsettled", "nope.unknown", ""]
PARAM_KEYS = ["radius_m", "max_idle", "horizon", "on", "condition", "message", "type", "rules", "timespan", "gte",
              "group_by", "field", "required_steps", "grace", "deadline", "window_slack", "roles", "fit_on"]
CEL_BITS = ["event.amount", ">", "1", "+", "(", ")", "[", "]", ".map(x, x)", ".exists(y, y > 1)", "&&", "size(",
            "'s'", "event.items", "==", "null", "!", "1e308", "\\u0000"]


@pytest.fixture(autouse=True)
def _timed():
    start = time.monotonic()
    yield
    fuzzlib.SECONDS[0] += time.monotonic() - start


@pytest.fixture(scope="module")
def worker():
    w = Worker()
    yield w
    w.close()


@pytest.fixture(scope="module")
def events(tmp_path_factory) -> Path:
    from hrguard.demo import load_events

    path = tmp_path_factory.mktemp("ev") / "events.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in load_events()[:120]))
    return path


_SCALAR = st.one_of(st.none(), st.booleans(), st.integers(-10**30, 10**30), st.floats(allow_nan=True),
                    st.text(max_size=30), st.sampled_from(["30m", "7d", "-1d", "P1W", "soon", "1e23w", "Asia/Shanghai"]))
_VALUE = st.recursive(_SCALAR, lambda kids: st.one_of(st.lists(kids, max_size=4),
                                                       st.dictionaries(st.text(max_size=8), kids, max_size=4)),
                      max_leaves=12)
_CEL = st.lists(st.sampled_from(CEL_BITS), min_size=1, max_size=40).map(" ".join)
_PARAMS = st.dictionaries(st.sampled_from(PARAM_KEYS), st.one_of(_VALUE, _CEL), max_size=5)
_RULE = st.fixed_dictionaries({"use": st.sampled_from(DETECTORS)}, optional={
    "name": st.text(max_size=12), "severity": st.sampled_from(["low", "high", "critical", "loud", 3]),
    "params": _PARAMS, "scope": _VALUE, "exceptions": _VALUE})
_RULESET = st.fixed_dictionaries({"rules": st.lists(_RULE, max_size=4)}, optional={
    "ruleset": st.text(max_size=10), "version": st.sampled_from([1, 2, "1"]),
    "timezone": st.sampled_from(["Asia/Shanghai", "UTC", "Asia", "Mars/Olympus", "A" * 300, "../../etc/passwd"]),
    "language": st.sampled_from(["en", "zh", "fr"]), "extends": st.sampled_from(["sales", "../x.yaml", "/etc/passwd",
                                                                                "nope", ["sales", "sales"]]),
    "horizons": st.one_of(_VALUE, st.fixed_dictionaries({"ids": st.sampled_from(["400d", None, "-1d", 10**20])})),
    "tests": _VALUE})


def _mutate_text(text: str, how: int) -> str:
    lines = text.splitlines()
    if how == 1 and lines:
        del lines[len(lines) // 2]
    elif how == 2:
        lines.insert(0, "\t" + (lines[0] if lines else "x"))
    elif how == 3:
        return text[: len(text) // 2]
    elif how == 4:
        lines.append(lines[0] if lines else "rules: []")
    return "\n".join(lines) + "\n"


def _scan(worker: Worker, events: Path, path: Path, describe: str) -> dict[str, Any]:
    out = worker.scan(events, "jsonl", None, ruleset=str(path), describe=describe)
    count("ruleset_cases")
    if "hrguard_error" in out:
        count("ruleset_refused")
        assert out["hrguard_error"].split(":")[0].endswith("Error"), out
    else:
        count("ruleset_loaded")
        check_counts(out, describe)
        assert out["received"] == 120 and out["rejected"] == 0, (describe, out)  # the demo's valid events
    return out


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(data=_RULESET, how=st.integers(0, 4))
def test_generated_rulesets_load_or_are_refused_clearly(worker, events, tmp_path_factory, data, how):
    folder = tmp_path_factory.mktemp("rs")
    try:
        text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    except Exception:  # noqa: BLE001 - a value PyYAML cannot write: skip it, it is no ruleset anyone sends
        return
    path = folder / "r.yaml"
    path.write_text(_mutate_text(text, how), encoding="utf-8", errors="surrogatepass")
    count("ruleset_generated_examples")
    _scan(worker, events, path, f"generated ruleset (mutation {how})")


def _bomb() -> str:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        prev, name = chr(96 + i), chr(97 + i)
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines) + "\nrules: []\n"


CORPUS = {
    "alias-bomb": _bomb(),
    "deep-flow": "rules: " + "[" * 3000 + "]" * 3000 + "\n",
    "deep-block": "rules:\n" + "".join("  " * i + "- x:\n" for i in range(400)),
    "cel-plus-chain": "rules:\n  - use: expr\n    params: {on: order.recorded, condition: 'event.amount" + " + 1" * 14000 + "'}\n",
    "cel-parens": "rules:\n  - use: expr\n    params: {on: order.recorded, condition: '" + "(" * 100000 + "1" + ")" * 100000 + "'}\n",
    "cel-nested-maps": "rules:\n  - use: expr\n    params: {on: order.recorded, condition: '[1,2,3,4,5,6,7,8,9].map(a, "
                       "[1,2,3,4,5,6,7,8,9].map(b, [1,2,3,4,5,6,7,8,9].map(c, [1,2,3].map(d, a)))).size() > 0'}\n",
    "extends-parent": "extends: ../../secret.yml\nrules: []\n",
    "extends-proc": "extends: /proc/self/environ\nrules: []\n",
    "extends-dev-zero": "extends: /dev/zero\nrules: []\n",
    "tabs": "rules:\n\t- use: expr\n",
    "duplicate-keys": "rules: []\nrules: []\n",
    "huge-duration": "rules:\n  - use: summary.unsupported_claim\n    params: {horizon: 100000000000000000000000w}\n",
    "zone-folder": "timezone: Asia\nrules: []\n",
    "python-tag": "rules: !!python/object/apply:os.system ['echo pwned']\n",
    "bad-utf8": b"rules: [\xff\xfe]\n",
}


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_hostile_rulesets_are_refused_clearly(worker, events, tmp_path, name):
    body = CORPUS[name]
    path = tmp_path / "sub" / "r.yaml"
    path.parent.mkdir()
    (tmp_path / "secret.yml").write_text("version: SECRET-VALUE-123\n")
    path.write_bytes(body if isinstance(body, bytes) else body.encode())
    out = _scan(worker, events, path, f"corpus ruleset {name}")
    count("ruleset_corpus_cases")
    assert "hrguard_error" in out, f"{name} was accepted"
    assert "SECRET-VALUE" not in out["hrguard_error"] and "pwned" not in out["hrguard_error"]
