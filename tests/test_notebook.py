"""Notebook tools (hrguard.notebook) and the tutorial notebook docs/tutorial-tuning.ipynb.

The notebook is executed without Jupyter: its JSON is read with the json module and its code cells
run in order in one namespace, with matplotlib's Agg backend. As in Jupyter, a cell whose last
statement is an expression shows that value; the runner renders it (``_repr_html_`` when it has one)
so a broken representation fails the test too.

``python tests/test_notebook.py --update`` runs the notebook the same way and stores what each cell
printed and showed (text, HTML, figures as PNG) as the cells' outputs, for readers of the file.
"""

from __future__ import annotations

import dataclasses

import ast
import base64
import contextlib
import io
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any, Callable

import pytest

for _mod, _extra in (("pandas", "pandas"), ("matplotlib", "plot"), ("sklearn", "ml")):
    pytest.importorskip(_mod, reason=f"the notebook tools' tests need the {_extra!r} extra")

import matplotlib  # noqa: E402

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

import hrguard  # noqa: E402
from hrguard import MissingExtraError  # noqa: E402
from hrguard import notebook as nb  # noqa: E402
from hrguard import quality  # noqa: E402
from hrguard.demo import load_events  # noqa: E402
from hrguard.findings import Finding, Severity
from hrguard.synth import generate, write_dataset  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "docs" / "tutorial-tuning.ipynb"


# -- running the notebook ------------------------------------------------------------------------
def code_cells(path: Path = NOTEBOOK) -> list[tuple[int, str]]:
    """(cell index, source) of every code cell, in order."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc.get("nbformat") == 4, f"{path.name}: not an nbformat 4 notebook"
    out = []
    for i, cell in enumerate(doc["cells"]):
        if cell["cell_type"] == "code":
            src = cell["source"]
            out.append((i, "".join(src) if isinstance(src, list) else src))
    return out


def run_notebook(path: Path = NOTEBOOK, show: Callable[[int, Any], None] | None = None,
                 printed: Callable[[int, str], None] | None = None,
                 after: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Exec every code cell in one namespace; ``show`` gets a cell's last expression's value (if not None)."""
    namespace: dict[str, Any] = {"__name__": "__main__"}
    for i, source in code_cells(path):
        tree = ast.parse(source, filename=f"{path.name}[{i}]")
        last = None
        if tree.body and isinstance(tree.body[-1], ast.Expr) and not source.rstrip().endswith(";"):
            last = ast.Expression(tree.body.pop().value)
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            exec(compile(tree, f"{path.name}[cell {i}]", "exec"), namespace)  # noqa: S102 - our own notebook
            value = eval(compile(last, f"{path.name}[cell {i}]", "eval"), namespace) if last else None  # noqa: S307
        if printed is not None:
            printed(i, buf.getvalue())
        if value is not None and show is not None:
            show(i, value)
        if after is not None:
            after(i)
    return namespace


def _render(value: Any) -> dict[str, str]:
    """What Jupyter would show for ``value``: text/plain, and text/html when the object has it."""
    data = {"text/plain": repr(value)}
    html = getattr(value, "_repr_html_", None)
    if callable(html):
        rendered = html()
        if rendered is not None:
            data["text/html"] = rendered
    return data


def test_the_tutorial_notebook_runs_top_to_bottom_and_shows_what_it_stores() -> None:
    cells = code_cells()
    assert len(cells) >= 10
    for i, src in cells:  # plain Python: no IPython magics or shell escapes
        magics = [ln for ln in src.splitlines() if ln.lstrip().startswith(("%", "!"))]
        assert not magics, f"cell {i} uses IPython syntax: {magics}"
    t0 = time.perf_counter()
    fresh, ns = fresh_outputs()
    took = time.perf_counter() - t0
    assert took < 60, f"the tutorial took {took:.0f} s; keep it under a minute"
    # what the tutorial promises: a DataFrame of findings, both sweeps, plots, choices
    assert isinstance(ns["df"], pd.DataFrame) and len(ns["df"]) == len(ns["result"].findings) > 0
    for name, param in (("radius", "radius_m"), ("contamination", "contamination")):
        table = ns[name]
        assert isinstance(table, pd.DataFrame) and set(table["param"]) == {param} and len(table) >= 5
    figures = [o for outs in fresh.values() for o in outs if "image/png" in o.get("data", {})]
    assert len(figures) >= 3
    assert ns["chosen_radius"] in ns["radius"]["value"].tolist() or ns["chosen_radius"] == ns["bundled"]
    assert ns["chosen_contamination"] in ns["contamination"]["value"].tolist()
    shown = [o["data"] for outs in fresh.values() for o in outs if o["output_type"] == "execute_result"]
    assert any("hrguard-findings" in "".join(d.get("text/html", "")) for d in shown), "no ScanResult as HTML"
    # a reader sees what a fresh run shows: the stored outputs, cell by cell
    stored = stored_outputs()
    stale = [i for i in stored if normalised(stored[i]) != normalised(fresh.get(i, []))]
    assert not stale, (f"the stored outputs of code cell(s) {stale} differ from a fresh run (first: "
                       f"{normalised(stored[stale[0]])!r:.600} vs {normalised(fresh.get(stale[0], []))!r:.600}); "
                       f"python tests/test_notebook.py --update stores a fresh run")


def test_the_comparison_of_outputs_sees_a_change_but_not_a_timing() -> None:
    cell = [{"name": "stdout", "output_type": "stream", "text": ["took 1.25 s at 0x7f3a2b1c4d50\n", "12 findings\n"]}]
    retimed = [{"name": "stdout", "output_type": "stream", "text": ["took 3.5 s at 0x7f00deadbeef\n", "12 findings\n"]}]
    changed = [{"name": "stdout", "output_type": "stream", "text": ["took 1.25 s at 0x7f3a2b1c4d50\n", "13 findings\n"]}]
    assert normalised(cell) == normalised(retimed) and normalised(cell) != normalised(changed)
    buf = io.BytesIO()
    fig, _ = plt.subplots(figsize=(4, 3))
    fig.savefig(buf, format="png", dpi=72)
    plt.close(fig)
    png = {"data": {"image/png": base64.b64encode(buf.getvalue()).decode()}, "output_type": "display_data"}
    assert normalised([png]) == [("figure", 288, 216)]
    assert normalised([png]) != normalised([])  # a figure gone is a change


# -- a small company, shared -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def company(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    synth = generate(employees=20, days=30, seed=1)
    events = list(synth.events())
    folder = tmp_path_factory.mktemp("company")
    write_dataset(folder, employees=20, days=30, seed=1)
    return {"events": events, "labels": synth.labels, "roster": synth.roster, "folder": folder,
            "result": hrguard.scan(events, "sales")}


# -- DataFrame and HTML ----------------------------------------------------------------------------
def test_to_pandas_has_one_row_per_finding(company: dict[str, Any]) -> None:
    result = company["result"]
    df = result.to_pandas()
    assert list(df.columns[: len(nb.BASE_COLUMNS)]) == list(nb.BASE_COLUMNS)
    assert df["id"].tolist() == [f.id for f in result.findings]
    assert df["evidence"].tolist() == [f.evidence for f in result.findings]
    assert df["details"].tolist() == [f.details for f in result.findings]
    assert str(df["ts"].dt.tz) == "Asia/Shanghai"
    assert df["ts"].tolist() == [pd.Timestamp(f.ts) for f in result.findings]
    assert df["severity"].cat.ordered and list(df["severity"].cat.categories) == [s.value for s in Severity]
    geo = df[df["name"] == "geofence.mismatch"]
    assert len(geo) and geo["details.distance_m"].notna().all() and "details.expected.customer_id" in df
    assert df.loc[df["name"] != "geofence.mismatch", "details.threshold_m"].isna().all()
    assert (df.sort_values("severity")["severity"].iloc[-1]) == df["severity"].max()


def test_to_pandas_empty_and_suppressed() -> None:
    empty = hrguard.scan([], "sales").to_pandas()
    assert len(empty) == 0 and list(empty.columns) == list(nb.BASE_COLUMNS)
    rs = hrguard.load_ruleset({"extends": "sales", "rules": [
        {"use": "geofence.mismatch", "exceptions": [{"employees": ["S01"], "reason": "on a trade fair"}]}]})
    result = hrguard.scan(load_events(), rs)
    assert len(result.suppressed) > 0
    plain, both = result.to_pandas(), result.to_pandas(suppressed=True)
    assert len(plain) == len(result.findings) and plain["suppressed_by"].isna().all()
    assert len(both) == len(result.findings) + len(result.suppressed)
    assert set(both["suppressed_by"].dropna()) == {"on a trade fair"}
    assert both["ts"].is_monotonic_increasing


def test_html_table_escapes_and_truncates(company: dict[str, Any]) -> None:
    result = company["result"]
    html = result._repr_html_()
    assert html.startswith('<table class="hrguard-findings">') and html.rstrip().endswith("</table>")
    assert f"{len(result.findings)} findings" in html and html.count("<tr>") == min(50, len(result.findings)) + 1 + (
        len(result.findings) > 50)
    f = result.findings[0].model_copy(update={"message": "<script>alert(1)</script> & co"})
    out = nb.to_html([f] * 3, max_rows=2)
    assert "<script>" not in out and "&lt;script&gt;" in out and "&amp; co" in out
    assert "1 more" in out and "3 findings" in out


def test_without_pandas(monkeypatch: pytest.MonkeyPatch, company: dict[str, Any]) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas now raises ImportError
    with pytest.raises(MissingExtraError, match=r"pandas is not installed: pip install 'hrguard\[pandas\]'"):
        company["result"].to_pandas()
    assert "<table" in company["result"]._repr_html_()  # the HTML table needs no extra
    ev = nb.evaluate(company["result"], company["labels"], company["roster"])
    assert isinstance(ev.rules, list) and isinstance(ev.scenarios, list) and "<table>" in ev._repr_html_()
    with pytest.raises(MissingExtraError, match="pandas"):
        nb.evaluate(company["result"], company["labels"], as_frame=True)
    rows = nb.sweep(company["events"], "sales", "plan.missing", "deadline", ["10:00"], company["labels"])
    assert isinstance(rows, list) and rows[0]["param"] == "deadline"


def test_without_matplotlib(monkeypatch: pytest.MonkeyPatch) -> None:
    for mod in ("matplotlib", "matplotlib.pyplot"):
        monkeypatch.setitem(sys.modules, mod, None)
    table = [{"value": 1, "alerts": 2, "recall": 1.0, "false_alarm_rate": 0.0}]
    with pytest.raises(MissingExtraError, match=r"matplotlib is not installed: pip install 'hrguard\[plot\]'"):
        nb.plot_sweep(table)
    with pytest.raises(MissingExtraError, match="plot"):
        nb.plot_scores([0.4, 0.6])


# -- evaluate --------------------------------------------------------------------------------------
def test_evaluate_agrees_with_hrguard_quality(company: dict[str, Any]) -> None:
    result, labels, roster = company["result"], company["labels"], company["roster"]
    ev = nb.evaluate(result, labels, roster)
    ref = quality.evaluate(result, labels, roster)
    scen = ev.scenarios.set_index("scenario")
    for s in ref.scenarios:
        assert scen.loc[s.scenario, "labels"] == s.labels and scen.loc[s.scenario, "detected"] == s.detected
        assert scen.loc[s.scenario, "recall"] == s.recall
        assert (scen.loc[s.scenario, "median_time_to_detect"] == s.time_to_detect) or s.time_to_detect is None
    for n in ref.noise:
        assert scen.loc[n.scenario, "kind"] == "noise" and scen.loc[n.scenario, "flagged"] == n.flagged
    rules = ev.rules.set_index("rule")
    # no label expects the outlier rule: it alone is judged on any misconduct (see notebook.evaluate)
    assert set(rules.drop(index="outlier.isolation_forest", errors="ignore")["judged_on"]) == {"expected"}, \
        rules["judged_on"].to_dict()
    for r in ref.rules:
        if r.rule == "outlier.isolation_forest":
            continue  # judged on any misconduct here, on expected rules in hrguard.quality
        assert rules.loc[r.rule, "findings"] == r.findings and rules.loc[r.rule, "true_findings"] == r.true_positives
    assert ev.recall == ref.recall and ev.false_alarm_rate == ref.false_alarm_rate and ev.honest == ref.honest
    # per-rule recall: of the labels expecting the rule, those it explained
    for s in ref.scenarios:
        for rule, n in s.by_rule.items():
            assert rules.loc[rule, "detected"] >= min(n, 1)
    assert ((rules["recall"].dropna() >= 0) & (rules["recall"].dropna() <= 1)).all()
    assert ((ev.scenarios["precision"].dropna() >= 0) & (ev.scenarios["precision"].dropna() <= 1)).all()


def test_evaluate_reads_a_dataset_folder(company: dict[str, Any]) -> None:
    folder = company["folder"]
    result = hrguard.scan(folder / "events.jsonl", "sales")
    ev = nb.evaluate(result, folder)  # labels.jsonl, and the roster from meta.json
    roster = json.loads((folder / "meta.json").read_text())["roster"]
    bad = {json.loads(line)["employee_id"] for line in (folder / "labels.jsonl").read_text().splitlines()
           if json.loads(line)["kind"] == "misconduct"}
    assert ev.honest == len(set(roster) - bad)
    same = nb.evaluate(result, folder / "labels.jsonl")
    assert same.rules.equals(ev.rules) and same.honest == ev.honest


def test_a_rule_with_no_findings_still_has_a_row() -> None:
    labels = [{"employee_id": "E1", "scenario": "x", "start": "2026-01-01T00:00:00+08:00",
               "end": "2026-01-02T00:00:00+08:00", "expected_rules": ["approval.bypass"]}]
    ev = nb.evaluate([], labels, ["E1", "E2"], as_frame=False)
    assert ev.rules == [{"rule": "approval.bypass", "judged_on": "expected", "findings": 0, "true_findings": 0,
                         "false_findings": 0, "precision": None, "labels": 1, "detected": 0, "recall": 0.0, "flagged_honest": 0}]
    assert ev.recall == 0.0 and ev.honest == 1 and ev.false_alarm_rate == 0.0


def test_labels_with_missing_fields_are_refused(tmp_path: Path, company: dict[str, Any]) -> None:
    good = {"employee_id": "E0001", "scenario": "fake_visits", "start": "2026-03-02T09:00:00+08:00",
            "end": "2026-03-03T09:00:00+08:00", "expected_rules": ["geofence.mismatch"], "kind": "misconduct"}
    broken = {k: v for k, v in good.items() if k not in ("end", "expected_rules")}
    path = tmp_path / "labels.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps(broken) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"labels.jsonl:2: the label has no 'end', 'expected_rules'"):
        nb.evaluate(company["result"], tmp_path)
    with pytest.raises(ValueError, match=r"labels.jsonl:2"):
        nb.sweep(company["events"], "sales", "geofence.mismatch", "radius_m", [500], path)
    with pytest.raises(ValueError, match=r"label #1: the label has no 'scenario'"):
        nb.load_labels([{k: v for k, v in good.items() if k != "scenario"}])
    with pytest.raises(ValueError, match="no UTC offset"):
        nb.load_labels([{**good, "start": "2026-03-02T09:00:00"}])
    with pytest.raises(ValueError, match="expected_rules must be a list"):
        nb.load_labels([{**good, "expected_rules": "geofence.mismatch"}])
    path.write_text("{not json\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"labels.jsonl:1: not a JSON object"):
        nb.load_labels(path)
    with pytest.raises(FileNotFoundError, match="no labels file"):
        nb.load_labels(tmp_path / "nowhere")


# -- sweep -----------------------------------------------------------------------------------------
def test_sweep_geofence_radius(company: dict[str, Any]) -> None:
    events, labels, roster = company["events"], company["labels"], company["roster"]
    values = [100, 500, 2000, 8000]
    table = nb.sweep(iter(events), "sales", "geofence.mismatch", "radius_m", values, labels, roster=roster)
    assert list(table.columns) == list(nb.SWEEP_COLUMNS) and table["value"].tolist() == values
    assert table["alerts"].is_monotonic_decreasing  # a wider radius never adds a clock-in too far away
    assert (table["alerts"] == table["true_alerts"] + table["false_alerts"]).all()
    expecting = [lab for lab in labels if lab["kind"] == "misconduct" and "geofence.mismatch" in lab["expected_rules"]]
    assert (table["labels"] == len(expecting)).all() and table["recall"].between(0, 1).all()
    assert (table["honest"] == len(set(roster) - {lab["employee_id"] for lab in labels
                                                   if lab["kind"] == "misconduct"})).all()
    # the row at the ruleset's own value is what a full scan finds for that rule
    rs = hrguard.load_ruleset("sales")
    own = rs.rule("geofence.mismatch").params.radius_m
    row = nb.sweep(events, rs, "geofence.mismatch", "radius_m", [own], labels, roster=roster, as_frame=False)[0]
    assert row["alerts"] == sum(f.name == "geofence.mismatch" for f in company["result"].findings)


def test_sweep_judges_the_swept_rule_on_the_labels_that_expect_it(company: dict[str, Any]) -> None:
    """The outlier rule is expected by the ``coasting`` scenario (issue 14): the sweep and evaluate judge it
    on those labels alone, the same way."""
    rs = hrguard.load_ruleset({"extends": "sales", "rules": [
        {"use": "outlier.isolation_forest", "params": {"roles": ["sales"], "refit_growth": 0.5}}]})
    rows = nb.sweep(company["events"], rs, "outlier.isolation_forest", "contamination", ["auto"],
                    company["labels"], roster=company["roster"], as_frame=False)
    assert rows[0]["labels"] == sum(lab["scenario"] == "coasting" for lab in company["labels"]) > 0
    assert rows[0]["judged_on"] == "expected" and rows[0]["alerts"] > 0 and rows[0]["true_alerts"] > 0
    # evaluate judges the rule's own row the same way (and the rest by expected rules, as hrguard.quality)
    scanned = hrguard.scan(company["events"], rs)
    ev = nb.evaluate(scanned, company["labels"], company["roster"], min_severity="info", as_frame=False)
    row = next(r for r in ev.rules if r["rule"] == "outlier.isolation_forest")
    assert row["judged_on"] == "expected"
    assert (row["findings"], row["true_findings"], row["labels"], row["detected"], row["flagged_honest"]) == (
        rows[0]["alerts"], rows[0]["true_alerts"], rows[0]["labels"], rows[0]["detected"], rows[0]["flagged_honest"])
    assert ev.recall == quality.evaluate(scanned, company["labels"], company["roster"]).recall


def test_sweep_refuses_what_it_cannot_do(company: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    events, labels = company["events"], company["labels"]

    def no_scan(*a: Any, **k: Any) -> None:
        raise AssertionError("scanned before checking its arguments")

    for name in ("scan", "judge", "intake"):
        monkeypatch.setattr(hrguard.Engine, name, no_scan)
    with pytest.raises(ValueError, match=r"no rule named 'geofence' in ruleset 'sales' \(its rules: geofence.mismatch"):
        nb.sweep(events, "sales", "geofence", "radius_m", [500], labels)
    with pytest.raises(ValueError, match=r"rule 'geofence.mismatch' \(geofence.mismatch\) has no parameter "
                                         r"'radius' \(its parameters: radius_m, window_slack"):
        nb.sweep(events, "sales", "geofence.mismatch", "radius", [500], labels)
    with pytest.raises(ValueError, match="no values to sweep geofence.mismatch.radius_m over"):
        nb.sweep(events, "sales", "geofence.mismatch", "radius_m", [], labels)
    with pytest.raises(ValueError, match=r"geofence.mismatch.radius_m = -5 is not a valid value: .*greater than"):
        nb.sweep(events, "sales", "geofence.mismatch", "radius_m", [500, -5], labels)
    with pytest.raises(ValueError, match=r"radius_m = 'far' is not a valid value"):
        nb.sweep(events, "sales", "geofence.mismatch", "radius_m", ["far"], labels)
    with pytest.raises(ValueError, match=r"n_jobs: must be an integer >= 1, got 0"):
        nb.sweep(events, "sales", "geofence.mismatch", "radius_m", [500], labels, n_jobs=0)
    with pytest.raises(ValueError, match="a mapping of at least one parameter"):
        nb.grid(events, "sales", "geofence.mismatch", {}, labels)
    with pytest.raises(ValueError, match=r"no values to sweep geofence.mismatch.window_slack"):
        nb.grid(events, "sales", "geofence.mismatch", {"radius_m": [500], "window_slack": []}, labels)
    with pytest.raises(ValueError, match=r"radius_m = 500, geofence.mismatch.window_slack = 'soon' is not a valid"):
        nb.grid(events, "sales", "geofence.mismatch", {"radius_m": [500], "window_slack": ["30m", "soon"]}, labels)


def test_sweep_reads_the_events_once_and_matches_a_scan_per_value(company: dict[str, Any]) -> None:
    from hrguard.ingest import watch_blocks

    events, labels, roster = company["events"], company["labels"], company["roster"]
    rs = hrguard.load_ruleset("sales")
    values = [100, 800, 5000]
    blocks: list[int] = []
    with watch_blocks(lambda b: blocks.append(len(b.values))):
        table = nb.sweep(events, rs, "geofence.mismatch", "radius_m", values, labels, roster=roster, as_frame=False)
    assert sum(blocks) == len(events)  # every event read once, not once per value
    for v, row in zip(values, table):  # each row is what a scan with the value finds for the rule
        full = hrguard.scan(events, rs.with_params("geofence.mismatch", radius_m=v))
        assert row["alerts"] == sum(f.name == "geofence.mismatch" for f in full.findings) > 0


def test_grid_and_n_jobs_give_the_same_table(company: dict[str, Any]) -> None:
    events, labels, roster = company["events"], company["labels"], company["roster"]
    params = {"radius_m": [200, 3000], "window_slack": ["0m", "2h"]}
    one = nb.grid(events, "sales", "geofence.mismatch", params, labels, roster=roster, n_jobs=1)
    two = nb.grid(events, "sales", "geofence.mismatch", params, labels, roster=roster, n_jobs=2)
    assert list(one.columns) == ["rule", "radius_m", "window_slack", *nb.GRID_METRICS]
    assert one[["radius_m", "window_slack"]].values.tolist() == [[200, "0m"], [200, "2h"], [3000, "0m"], [3000, "2h"]]
    pd.testing.assert_frame_equal(one.drop(columns="seconds"), two.drop(columns="seconds"))
    for _, row in one.iterrows():  # a grid row is the one-parameter sweep's row
        swept = nb.sweep(events, hrguard.load_ruleset("sales").with_params("geofence.mismatch",
                                                                            window_slack=row["window_slack"]),
                         "geofence.mismatch", "radius_m", [row["radius_m"]], labels, roster=roster, as_frame=False)[0]
        assert (swept["alerts"], swept["true_alerts"], swept["flagged_honest"]) == (
            row["alerts"], row["true_alerts"], row["flagged_honest"])
    assert len(set(one["alerts"])) > 1  # the parameters matter here


def test_a_forest_sweep_is_the_same_whatever_n_jobs(company: dict[str, Any]) -> None:
    rs = hrguard.load_ruleset("sales").with_params("outlier.isolation_forest", refit_growth=0.5)
    args = (company["events"], rs, "outlier.isolation_forest", "contamination", [0.01, 0.05, "auto"], company["labels"])
    one = nb.sweep(*args, roster=company["roster"], n_jobs=1).drop(columns="seconds")
    two = nb.sweep(*args, roster=company["roster"], n_jobs=2).drop(columns="seconds")
    pd.testing.assert_frame_equal(one, two)
    assert one["alerts"].is_monotonic_increasing and one["alerts"].iloc[-1] > 0


def test_the_progress_bar_shows_only_when_asked_or_interactive(company: dict[str, Any],
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    args = (company["events"], "sales", "geofence.mismatch", "radius_m", [300, 900], company["labels"])
    nb.sweep(*args)  # stderr is not a terminal here: no bar
    assert capsys.readouterr().err == ""
    nb.sweep(*args, progress=True)
    err = capsys.readouterr().err
    assert "geofence.mismatch [" in err and "2/2" in err and err.endswith("\r")  # drawn, then cleared
    assert f"reading the events once, {len(company['events']):,} so far" in err
    nb.sweep(*args, progress=False)
    assert capsys.readouterr().err == ""


# -- outlier scores and plots ----------------------------------------------------------------------
def test_outlier_scores_and_plot(company: dict[str, Any]) -> None:
    rs = hrguard.load_ruleset({"extends": "sales", "rules": [
        {"use": "outlier.isolation_forest", "params": {"roles": ["sales"], "contamination": 0.05}}]})
    scores = nb.outlier_scores(company["events"], rs, labels=company["labels"])
    assert list(scores.index.names) == list(nb.INDEX) and len(scores) > 100
    assert list(scores.reset_index().columns) == list(nb.SCORE_COLUMNS)
    assert str(scores.index.get_level_values("period_start").dtype).startswith("datetime64")
    assert scores["score"].between(0, 1).all() and scores["threshold"].nunique() == 1
    assert (scores["outlier"] == (scores["score"] > scores["threshold"])).all()
    assert 0 < scores["outlier"].mean() <= 0.1 and scores["misconduct"].any() and not scores["misconduct"].all()
    ax = nb.plot_scores(scores)
    fig = ax.figure
    assert "threshold" in " ".join(t.get_text() for t in fig.legends[0].get_texts())
    assert any(t.get_text().startswith("during misconduct (") for t in fig.legends[0].get_texts())
    plt.close(fig)
    with pytest.raises(ValueError, match="uses geofence.mismatch, not outlier.isolation_forest"):
        nb.outlier_scores(company["events"], rs, "geofence.mismatch")
    with pytest.raises(ValueError, match="no rule named 'outlier'"):
        nb.outlier_scores(company["events"], rs, "outlier")
    # the scores of a scan's findings
    result = hrguard.scan(company["events"], rs)
    ax = nb.plot_scores(result)
    assert ax.get_title() == "anomaly scores"
    plt.close(ax.figure)
    without = [f for f in company["result"].findings if f.rule != "outlier.isolation_forest"]
    with pytest.raises(ValueError, match="no finding has a score"):
        nb.plot_scores(dataclasses.replace(company["result"], findings=without))


def test_plot_sweep_and_plot_scores_shapes() -> None:
    rows = [{"rule": "r", "param": "contamination", "value": v, "alerts": a, "false_alerts": a // 2,
             "recall": r, "false_alarm_rate": f} for v, a, r, f in
            (("auto", 30, 0.8, 0.5), (0.01, 3, 0.2, 0.0), (0.05, 12, None, 0.1))]
    ax = nb.plot_sweep(rows)
    fig = ax.figure
    assert [t.get_text() for t in ax.get_xticklabels()] == ["auto", "0.01", "0.05"]
    assert ax.get_title() == "r: contamination" and len(fig.axes) == 2
    plt.close(fig)
    ax = nb.plot_sweep(pd.DataFrame(rows[1:]))  # numeric values: a numeric axis, linear over a factor of 5
    assert ax.lines[0].get_xdata().tolist() == [0.01, 0.05] and ax.get_xscale() == "linear"
    plt.close(ax.figure)
    with pytest.raises(ValueError, match="logx: a logarithmic axis needs every value to be a positive number"):
        nb.plot_sweep(rows, logx=True)
    with pytest.raises(ValueError, match="empty sweep table"):
        nb.plot_sweep([])
    with pytest.raises(ValueError, match="not a sweep table: no column"):
        nb.plot_sweep([{"value": 1}])
    fig, ax = plt.subplots()
    assert nb.plot_scores([0.3, 0.4, 0.7], threshold=0.6, marked=[False, False, True], ax=ax) is ax
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["unmarked (2)", "marked (1)", "threshold 0.600"]
    plt.close(fig)
    with pytest.raises(ValueError, match=r"marked: 1 flags for 3 scores \(give one per score\)"):
        nb.plot_scores([0.3, 0.4, 0.7], marked=[True])
    with pytest.raises(ValueError, match="no scores"):
        nb.plot_scores([])
    f = Finding(id="F1", rule="x", name="x", severity="low", ts="2026-01-01T00:00:00+00:00", message="m",
                details={"score": 0.7, "threshold": 0.6})
    ax = nb.plot_scores([f, f])
    plt.close(ax.figure)


def _inside(box: Any, outer: Any) -> bool:
    return box.x0 >= outer.x0 - 1 and box.x1 <= outer.x1 + 1 and box.y0 >= outer.y0 - 1 and box.y1 <= outer.y1 + 1


def test_plots_keep_legends_off_the_data_and_return_the_axes_not_the_figure() -> None:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    rows = [{"rule": "g", "param": "radius_m", "value": v, "alerts": a, "false_alerts": 0, "recall": 1.0,
             "false_alarm_rate": 0.0} for v, a in ((100, 40), (300, 30), (1000, 20), (3000, 10))]
    for made in (nb.plot_sweep(rows), nb.plot_scores([0.3, 0.35, 0.4, 0.8], threshold=0.6,
                                                     marked=[False, False, False, True], logy=True)):
        # an Axes, as pandas and seaborn return: Jupyter shows the figure once (a Figure would show twice)
        assert isinstance(made, Axes) and not isinstance(made, Figure)
        fig = made.figure
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        legend = (fig.legends or [made.get_legend()])[0].get_window_extent(renderer)
        assert not legend.overlaps(made.get_window_extent(renderer))  # outside the data
        assert _inside(legend, fig.bbox)  # and not cut off
        plt.close(fig)
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4), layout="constrained")  # given axes, side by side
    nb.plot_sweep(rows, ax=left)
    nb.plot_scores([0.3, 0.35, 0.4, 0.8], ax=right, density=True)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for ax in (left, right):
        legend = ax.get_legend().get_window_extent(renderer)
        assert _inside(legend, fig.bbox)
        assert not any(legend.overlaps(other.get_window_extent(renderer)) for other in fig.axes if other is not ax
                       and other.bbox.bounds != ax.bbox.bounds)  # not on the other plot (a twin axis shares ax's box)
        assert not legend.overlaps(ax.get_window_extent(renderer))
    plt.close(fig)
    ax = nb.plot_sweep(rows)  # geometric values: a log axis, one tick per value
    assert ax.get_xscale() == "log" and [t.get_text() for t in ax.get_xticklabels()] == ["100", "300", "1000", "3000"]
    assert nb.plot_sweep(rows, logx=False).get_xscale() == "linear"
    plt.close("all")


def test_score_views_density_and_log() -> None:
    scores = [0.3 + 0.001 * i for i in range(300)] + [0.7, 0.72, 0.75]
    marked = [False] * 300 + [True] * 3
    ax = nb.plot_scores(scores, marked=marked, density=True, bins=10)
    assert len(ax.patches) == 2  # two overlaid step outlines, not stacked bars
    assert "density" in ax.get_ylabel()
    plt.close(ax.figure)
    ax = nb.plot_scores(scores, marked=marked, logy=True, bins=10)
    assert ax.get_yscale() == "log" and "log" in ax.get_ylabel()
    plt.close(ax.figure)


def test_tables_join_on_one_index(company: dict[str, Any]) -> None:
    from hrguard.features import build_features
    from hrguard.ml import IsolationForestScorer

    rs = hrguard.load_ruleset({"extends": "sales", "rules": [
        {"use": "outlier.isolation_forest", "params": {"roles": ["sales"], "contamination": 0.05}}]})
    scores = nb.outlier_scores(company["events"], rs, labels=company["labels"])
    fm = build_features(company["events"], timezone=rs.timezone, complete_only=True)
    features = fm.to_pandas()
    assert list(features.index.names) == list(scores.index.names) == list(nb.INDEX)
    joined = scores.join(features)  # no renaming, no conversion
    assert len(joined) == len(scores) and not joined["events"].isna().any()
    result = hrguard.scan(company["events"], rs)
    ex = nb.explanations(result)
    assert list(ex.index.names) == list(nb.INDEX) and list(ex.reset_index().columns) == list(nb.EXPLANATION_COLUMNS)
    outliers = [f for f in result.findings if f.rule == "outlier.isolation_forest"]
    assert set(ex["id"]) == {f.id for f in outliers} and ex["rank"].min() == 1
    one = outliers[0]
    mine = ex[ex["id"] == one.id].sort_values("rank")
    assert mine["feature"].tolist() == [e["name"] for e in one.details["features"]]
    assert mine["z"].tolist() == [e["z"] for e in one.details["features"]]
    assert not ex.join(scores[["outlier", "misconduct"]], how="inner").empty  # explanations, scores and features share the index
    findings = result.to_pandas()
    assert set(findings.merge(ex.reset_index(), on=["id", "employee_id"])["id"]) == set(ex["id"])
    # a scorer's explanations of every vector, from the features' own frame
    names = list(fm.feature_names)
    scorer = IsolationForestScorer(random_state=0).fit(features[names])
    tidy = nb.explanations(scorer, features, top=2)
    assert len(tidy) <= 2 * len(features) and set(tidy["feature"]) <= set(names) and tidy["id"].isna().all()
    with pytest.raises(ValueError, match="indexed by"):
        nb.explanations(scorer, features.reset_index(drop=True))


# -- python tests/test_notebook.py --update, and the stored outputs ----------------------------------------
def fresh_outputs(path: Path = NOTEBOOK) -> tuple[dict[int, list[dict[str, Any]]], dict[str, Any]]:
    """Run the notebook; each code cell's outputs as Jupyter stores them (text, HTML, figures as PNG), and
    the namespace it left."""
    outputs: dict[int, list[dict[str, Any]]] = {}

    def printed(i: int, text: str) -> None:
        if text:
            outputs.setdefault(i, []).append({"name": "stdout", "output_type": "stream",
                                              "text": text.splitlines(keepends=True)})

    def show(i: int, value: Any) -> None:
        shown = _render(value)
        if "text/html" in shown and len(shown["text/plain"]) > 2000:  # a ScanResult's repr holds every finding
            shown["text/plain"] = f"<{type(value).__name__}: {len(shown['text/plain']):,} characters of repr>"
        data = {k: v.splitlines(keepends=True) for k, v in shown.items()}
        outputs.setdefault(i, []).append({"data": data, "metadata": {}, "output_type": "execute_result",
                                          "execution_count": None})

    def after(i: int) -> None:
        for num in plt.get_fignums():
            buf = io.BytesIO()
            plt.figure(num).savefig(buf, format="png", dpi=72)
            outputs.setdefault(i, []).append({"data": {"image/png": base64.b64encode(buf.getvalue()).decode(),
                                                       "text/plain": ["<Figure>"]},
                                              "metadata": {}, "output_type": "display_data"})
        plt.close("all")

    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        ns = run_notebook(path, show=show, printed=printed, after=after)
    finally:
        os.chdir(cwd)
    return outputs, ns


_TIMING = re.compile(r"\b\d+(\.\d+)?\s?(s|ms|seconds)\b")
_ADDRESS = re.compile(r"\b0x[0-9a-fA-F]{6,}\b")


def normalised(outputs: list[dict[str, Any]]) -> list[Any]:
    """What must not change between two runs of a cell: its text and tables with timings and object
    addresses masked; for a figure, that there is one and its size in pixels (the PNG's bytes depend on
    the fonts and the matplotlib at hand)."""
    out: list[Any] = []
    for o in outputs:
        if o["output_type"] == "stream":
            out.append(("stream", o.get("name"), _mask("".join(o["text"]))))
        elif "image/png" in o.get("data", {}):
            png = base64.b64decode(o["data"]["image/png"])
            width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")  # the IHDR chunk
            out.append(("figure", width, height))
        else:
            data = o.get("data", {})
            out.append((o["output_type"], {k: _mask("".join(v) if isinstance(v, list) else v)
                                           for k, v in sorted(data.items())}))
    return out


def _mask(text: str) -> str:
    return _ADDRESS.sub("0x…", _TIMING.sub("<time>", text))


def stored_outputs(path: Path = NOTEBOOK) -> dict[int, list[dict[str, Any]]]:
    doc = json.loads(path.read_text(encoding="utf-8"))
    return {i: c.get("outputs", []) for i, c in enumerate(doc["cells"]) if c["cell_type"] == "code"}


def update(path: Path = NOTEBOOK) -> None:
    """Run the notebook and store each code cell's outputs (text, HTML, figures as PNG) in the file."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    outputs, _ = fresh_outputs(path)
    n = 0
    for i, cell in enumerate(doc["cells"]):
        if cell["cell_type"] != "code":
            continue
        n += 1
        cell["execution_count"] = n
        cell["outputs"] = outputs.get(i, [])
        for out in cell["outputs"]:
            if out["output_type"] == "execute_result":
                out["execution_count"] = n
    path.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"updated {path.relative_to(ROOT)}: outputs of {n} code cells")


if __name__ == "__main__":
    if sys.argv[1:2] != ["--update"]:
        sys.exit("usage: python tests/test_notebook.py --update")
    update()
