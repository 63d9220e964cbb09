"""``outlier.isolation_forest`` and the scorer under it: scikit-learn's contract, scikit-learn's
expected scores, safe save/load, when periods are judged and by which model, and the detector conformance kit."""

from __future__ import annotations

import json
import sys
import zipfile
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from sklearn.ensemble import IsolationForest
from sklearn.utils.estimator_checks import parametrize_with_checks as sklearn_checks

import hrguard
from hrguard.demo import load_events
from hrguard.detectors.outlier import IsolationForestOutlier, fit_model
from hrguard.analytics import FEATURE_NAMES
from hrguard.analytics import IsolationForest as RuleForest
from hrguard.errors import MissingExtraError, RulesetError
from hrguard.ml import IsolationForestScorer, ModelFileError
from hrguard.analytics._isoforest import _digest  # the forest itself (scikit-learn-free) lives there
from hrguard.testing import DetectorCase, parametrize_with_checks, run_all_ways

SH = timezone(timedelta(hours=8))
HOME = (31.2304, 121.4737)
FAR = (31.4004, 121.6737)  # about 27 km away


# -- the scorer ------------------------------------------------------------------------------------
def data(n: int = 600, d: int = 5, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    X[:6, 2] += 7  # a few rows far out on one feature
    return X


@sklearn_checks([IsolationForestScorer(n_estimators=10, random_state=0)])
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def test_scores_match_scikit_learns_on_average():
    """The same algorithm as scikit-learn's IsolationForest: over seeds, the same expected scores."""
    X, Y = data(), data(seed=1)[:8]
    ours = np.mean([IsolationForestScorer(random_state=s).fit(X).score_samples(Y) for s in range(20)], axis=0)
    theirs = np.mean([IsolationForest(random_state=s).fit(X).score_samples(Y) for s in range(20)], axis=0)
    assert np.abs(ours - theirs).max() < 0.01
    assert ours[:6].mean() < ours[6:].mean() - 0.05  # the rows far out score lower


@pytest.mark.parametrize("contamination", ["auto", 0.1])
def test_the_seed_decides_and_threads_do_not(contamination):
    X, Y = data(), data(seed=1)
    one = IsolationForestScorer(contamination=contamination, random_state=3).fit(X)
    again = IsolationForestScorer(contamination=contamination, random_state=3).fit(X)
    assert np.array_equal(one.score_samples(Y), again.score_samples(Y)) and one.offset_ == again.offset_
    other = IsolationForestScorer(contamination=contamination, random_state=4).fit(X)
    assert not np.array_equal(one.score_samples(Y), other.score_samples(Y))
    threaded = IsolationForestScorer(contamination=contamination, random_state=3, n_jobs=2).fit(X)
    assert np.array_equal(threaded.score_samples(np.vstack([Y] * 5)), np.tile(one.score_samples(Y), 5))
    if contamination != "auto":  # the threshold is that quantile of the training scores
        assert np.mean(one.score_samples(X) < one.offset_) == pytest.approx(0.1, abs=0.002)


def test_the_population_sample_bounds_the_threshold_and_statistics(monkeypatch):
    """Above POPULATION_SAMPLE rows the threshold, medians and spreads come from a seeded sample of them."""
    import hrguard.analytics.forest as ml

    X = data(n=3000)
    full = IsolationForestScorer(contamination=0.05, random_state=0).fit(X)
    monkeypatch.setattr(ml, "POPULATION_SAMPLE", 1000)
    part = IsolationForestScorer(contamination=0.05, random_state=0).fit(X)
    assert np.array_equal(part.score_samples(X), full.score_samples(X))  # the same trees
    assert part.offset_ != full.offset_ and abs(part.offset_ - full.offset_) < 0.02
    assert np.abs(part.center_ - full.center_).max() < 0.15
    assert IsolationForestScorer(contamination=0.05, random_state=0).fit(X).offset_ == part.offset_


def test_trees_are_isolation_trees():
    from hrguard.analytics._isoforest import _node_depths
    from hrguard.ml import average_path_length

    X = data()
    s = IsolationForestScorer(n_estimators=5, max_samples=100, random_state=0).fit(X)
    nodes, off = s.nodes_, s.nodes_["node_offsets"]
    assert off.size == 6
    for lo, hi in zip(off[:-1], off[1:]):
        left, right, nns = nodes["left"][lo:hi], nodes["right"][lo:hi], nodes["n_node_samples"][lo:hi]
        depth = _node_depths(left, right)
        assert nns[0] == 100 and depth.max() <= 1 + 7  # ceil(log2(100)) splits at most
        inner = left >= 0
        assert np.array_equal(nns[left[inner]] + nns[right[inner]], nns[inner])
        assert np.all((nns[~inner] == 1) | (depth[~inner] == 8))
        assert np.array_equal(s.path_lengths_[lo:hi], depth + average_path_length(nns) - 1.0)


def test_higher_is_worse_in_one_place_and_params_are_kept_unchanged():
    s = IsolationForestScorer(n_estimators=50, max_samples=10_000, random_state=1)
    assert s.get_params() == {"n_estimators": 50, "max_samples": 10_000, "contamination": "auto",
                              "max_features": 1.0, "random_state": 1, "n_jobs": None}
    assert s.fit(data()) is s and s.max_samples == 10_000 and s.max_samples_ == 600  # capped, no warning
    X = data()
    assert np.array_equal(s.anomaly_score(X), -s.score_samples(X))
    assert s.threshold_ == 0.5
    assert np.array_equal(s.predict(X) == -1, s.anomaly_score(X) > s.threshold_)
    assert set(np.flatnonzero(s.predict(X) == -1)) >= set(range(6))


@pytest.mark.parametrize("bad", [{"n_estimators": 0}, {"max_samples": 1.5}, {"max_samples": 0.0},
                                 {"max_samples": "all"}, {"max_samples": True}, {"max_features": 0},
                                 {"max_features": 1.2}, {"max_features": 6}, {"contamination": 0.7},
                                 {"contamination": "high"}, {"random_state": "x"}, {"random_state": -1},
                                 {"n_jobs": 0}])
def test_parameters_are_checked_in_fit(bad):
    s = IsolationForestScorer(**bad)  # __init__ stores, never checks
    with pytest.raises(ValueError, match=next(iter(bad))):
        s.fit(data())


def test_explain_names_the_features_that_set_a_row_apart():
    s = IsolationForestScorer(random_state=0).fit(data())
    out = s.explain(data()[:2], top=2, names=list("abcde"))
    assert out[0][0]["name"] == "c" and out[0][0]["z"] > 4 and abs(out[0][0]["typical"]) < 0.2
    assert set(out[0][0]) == {"name", "value", "typical", "z"} and len(out[0]) == 2
    assert s.feature_names() == ["x0", "x1", "x2", "x3", "x4"]


def test_constant_features_still_explain():
    X = np.zeros((50, 2))
    X[:, 1] = np.arange(50) % 2
    s = IsolationForestScorer(n_estimators=10, random_state=0).fit(X)
    assert s.scale_[0] == 1.0  # a constant column falls back to 1, never 0
    assert s.scale_[1] == pytest.approx(0.5 * 1.482602218505602)  # 1.4826 x MAD
    assert s.explain([[3.0, 0.0]])[0][0] == {"name": "x0", "value": 3.0, "typical": 0.0, "z": 3.0}


# -- save and load ---------------------------------------------------------------------------------
def test_save_load_gives_the_same_scores(tmp_path):
    X = data()
    s = IsolationForestScorer(contamination=0.05, random_state=1).fit(X)
    path = tmp_path / "m.npz"
    s.save(path, extra={"note": "test"})
    t = IsolationForestScorer.load(path)
    assert np.array_equal(t.score_samples(X), s.score_samples(X)) and t.offset_ == s.offset_
    assert t.get_params() == s.get_params() and t.extra_ == {"note": "test"}
    assert np.array_equal(t.center_, s.center_) and np.array_equal(t.scale_, s.scale_)
    with zipfile.ZipFile(path) as z:
        assert all(name.endswith(".npy") for name in z.namelist())
        for name in z.namelist():
            assert b"\x80\x04" not in z.read(name)[:200] or name == "meta.npy"  # no pickle protocol header


def test_feature_names_survive_save_and_load(tmp_path):
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(data(), columns=list("abcde"))
    s = IsolationForestScorer(n_estimators=10, random_state=0).fit(df)
    s.save(tmp_path / "m.npz")
    t = IsolationForestScorer.load(tmp_path / "m.npz")
    assert t.feature_names() == list("abcde")
    assert np.array_equal(t.score_samples(df), s.score_samples(df))


def _rewrite(path, change, fix_digest=False):
    npz = np.load(path, allow_pickle=False)
    arrays = {k: npz[k] for k in npz.files}
    change(arrays)
    if fix_digest:
        meta = json.loads(str(arrays["meta"]))
        meta["sha256"] = _digest(meta, {k: v for k, v in arrays.items() if k != "meta"})
        arrays["meta"] = np.array(json.dumps(meta, sort_keys=True))
    np.savez(path, **arrays)


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "model.npz"
    IsolationForestScorer(n_estimators=5, random_state=0).fit(data()).save(path)
    return path


def test_a_model_changed_after_saving_is_refused(saved):
    def nudge(a):
        a["threshold"] = a["threshold"].copy()
        a["threshold"][0] += 1e-9

    _rewrite(saved, nudge)
    with pytest.raises(ModelFileError, match="integrity check failed.*changed after it was saved"):
        IsolationForestScorer.load(saved)


def test_a_pickle_is_never_loaded(saved, tmp_path):
    _rewrite(saved, lambda a: a.update(threshold=np.array([object()], dtype=object)))
    with pytest.raises(ModelFileError, match="pickled Python objects"):
        IsolationForestScorer.load(saved)
    import pickle

    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps(IsolationForestScorer()))
    with pytest.raises(ModelFileError, match="not an hrguard model file"):
        IsolationForestScorer.load(evil)


def test_a_consistent_but_malformed_file_cannot_crash_scoring(saved):
    def loop(a):
        a["left"] = a["left"].copy()
        a["left"][0] = 0  # the root pointing at itself

    _rewrite(saved, loop, fix_digest=True)
    with pytest.raises(ModelFileError, match="malformed model: tree 0"):
        IsolationForestScorer.load(saved)


@pytest.mark.parametrize("content, message", [
    (b"not a zip", "not an hrguard model file"),
    (None, "no such model file"),
])
def test_other_files_are_refused_clearly(tmp_path, content, message):
    path = tmp_path / "x.npz"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ModelFileError, match=message) as err:
        IsolationForestScorer.load(path)
    assert str(path) in str(err.value) and isinstance(err.value, hrguard.HrguardError)


def test_a_future_format_is_refused(saved):
    def bump(a):
        meta = json.loads(str(a["meta"]))
        meta["format_version"] = 99
        a["meta"] = np.array(json.dumps(meta))

    _rewrite(saved, bump)
    with pytest.raises(ModelFileError, match="format version 99"):
        IsolationForestScorer.load(saved)


# -- the ml extra ----------------------------------------------------------------------------------
def test_missing_scikit_learn_names_the_extra(monkeypatch, engine):
    monkeypatch.setitem(sys.modules, "sklearn", None)  # import sklearn now raises ImportError
    monkeypatch.delitem(sys.modules, "hrguard.ml")
    monkeypatch.delitem(sys.modules, "hrguard.analytics.forest")  # where hrguard.ml lives
    with pytest.raises(MissingExtraError, match=r"scikit-learn is not installed: pip install 'hrguard\[ml\]'"):
        import hrguard.ml  # noqa: F401
    with pytest.raises(MissingExtraError, match=r"hrguard\[ml\]"):
        engine.load_ruleset({"ruleset": "t", "rules": [{"use": "outlier.isolation_forest"}]})
    assert "outlier.isolation_forest" in engine.detectors  # listed (and documented) without the extra


# -- the detector ----------------------------------------------------------------------------------
def team_events(days: int = 5, odd: tuple[tuple[str, int], ...] = (("E3", 3),)) -> list[dict]:
    """Six salespeople and a manager over ``days`` working days from Mon 2026-04-06 (Shanghai).

    Every salesperson's day: a plan for two customers, clock-ins at them, visit follow-ups with photos
    and a summary claiming both. Each ``odd`` (employee, day index) is a very different day: clock-ins
    27 km away, no follow-ups, a summary claiming visits anyway, a late-night order and approvals.
    """
    out: list[dict] = []
    n = [0]

    def ev(kind: str, when: datetime, **kw) -> None:
        n[0] += 1
        out.append({"id": f"t{n[0]:04d}", "kind": kind, "ts": when.isoformat(), **kw})

    t0 = datetime(2026, 4, 6, 7, 30, tzinfo=SH)  # the first working day's morning
    ev("employee.hired", t0, employee_id="M1", role="manager")
    for i in range(1, 7):
        e = f"E{i}"
        ev("employee.hired", t0, employee_id=e, role="sales", manager_id="M1")
        for c in "ab":
            lat = HOME[0] + 0.01 * i + (0.002 if c == "b" else 0)
            ev("customer.registered", t0, customer_id=f"C{i}{c}", owner_id=e, lat=lat, lon=HOME[1])
    for d in range(days):
        day = datetime(2026, 4, 6, tzinfo=SH) + timedelta(days=d)
        at = lambda h, m=0: day + timedelta(hours=h, minutes=m)  # noqa: E731
        ev("approval.decided", at(10), employee_id="M1", request_id=f"R-M{d}", step="manager", decision="approved")
        for i in range(1, 7):
            e, ca, cb = f"E{i}", f"C{i}a", f"C{i}b"
            la, lb = HOME[0] + 0.01 * i, HOME[0] + 0.01 * i + 0.002
            ev("plan.submitted", at(8), employee_id=e, date=day.date().isoformat(),
               items=[{"customer_id": ca, "start": "09:00", "end": "10:00"},
                      {"customer_id": cb, "start": "14:00", "end": "15:00"}])
            photo = [{"uri": "x.jpg"}]
            if (e, d) in odd:
                ev("attendance.punched", at(9, 5), employee_id=e, direction="in", lat=FAR[0], lon=FAR[1])
                ev("attendance.punched", at(15), employee_id=e, direction="out", lat=FAR[0], lon=FAR[1])
                ev("approval.requested", at(22, 40), employee_id=e, request_id=f"R{e}{d}", customer_id=cb)
                ev("order.recorded", at(23, 30), employee_id=e, order_id=f"O{e}{d}", customer_id=cb, amount=900000)
            else:  # right at the customers: every ordinary day gives the same vector
                ev("attendance.punched", at(9, 5), employee_id=e, direction="in", lat=la, lon=HOME[1])
                ev("followup.logged", at(9, 30), employee_id=e, customer_id=ca, channel="visit", photos=photo)
                ev("attendance.punched", at(15), employee_id=e, direction="out", lat=lb, lon=HOME[1])
                ev("followup.logged", at(14, 30), employee_id=e, customer_id=cb, channel="visit", photos=photo)
            ev("summary.submitted", at(18), employee_id=e, date=day.date().isoformat(),
               claims=[{"customer_id": ca, "activity": "visit"}, {"customer_id": cb, "activity": "visit"}])
    ev("employee.hired", datetime(2026, 4, 6, tzinfo=SH) + timedelta(days=days, hours=9), employee_id="E7",
       role="sales")  # the clock passes the last day's end
    return out


PARAMS = {"n_estimators": 25, "min_periods": 10, "roles": ["sales"], "contamination": 0.1}


def scan(engine, events, **params):
    rs = engine.load_ruleset({"ruleset": "t", "timezone": "Asia/Shanghai",
                              "rules": [{"use": "outlier.isolation_forest", "params": {**PARAMS, **params}}]})
    return engine.scan(events, rs)


CASE = DetectorCase(IsolationForestOutlier, team_events(days=4), params=PARAMS, timezone="Asia/Shanghai",
                    bad_params=[{"fit_on": {"start": "2026-04-09", "end": "2026-04-01"}}, {"features": ["events", "events"]},
                                {"work_end": "06:00"}, {"contamination": 0.7}])


@parametrize_with_checks([CASE])
def test_the_detector_conforms(case, check):
    check(case)


def test_the_odd_day_fires_and_explains_itself(engine):
    res = scan(engine, team_events())
    assert not res.errors and not res.warnings
    (f,) = res.findings
    assert (f.employee_id, f.details["period_start"], f.details["period_end"]) == ("E3", "2026-04-09", "2026-04-09")
    assert f.ts == datetime(2026, 4, 10, tzinfo=SH) and f.customer_id is None and f.severity.value == "low"
    d = f.details
    assert d["score"] > d["threshold"] and d["model"] == "scanned" and d["period"] == "day"
    assert d["trained_on"] == 24 and len(d["features"]) == 3
    top = d["features"][0]
    assert set(top) == {"name", "value", "typical", "z"} and abs(top["z"]) > 3
    assert top["name"] in {"plan_distance_mean_m", "plan_distance_max_m", "plan_matched_share", "visits", "followups",
                           "unsupported_claims", "off_hours", "order_amount"}
    assert f.message.startswith("E3's activity on 2026-04-09 was unlike everyone else's (anomaly score")
    odd_ids = {e["id"] for e in team_events() if e.get("employee_id") == "E3" and e["ts"].startswith("2026-04-09")}
    assert set(f.evidence) <= odd_ids | {e["id"] for e in team_events() if e["kind"] == "plan.submitted"}
    assert f.evidence


def test_only_the_population_in_roles_is_judged(engine):
    everyone = scan(engine, team_events(), roles=None, min_periods=10)
    sales = scan(engine, team_events())
    assert sales.findings[0].details["trained_on"] == 24
    assert all(f.employee_id != "M1" for f in sales.findings)
    assert {f.details["trained_on"] for f in everyone.findings} >= {28}  # the manager is in the population


def test_fewer_vectors_than_min_periods_fit_nothing(engine):
    assert scan(engine, team_events(), min_periods=31).findings == []  # 30 sales vectors over five days
    assert len(scan(engine, team_events(), min_periods=24).findings) == 1


def test_refit_schedule_and_history(engine):
    every = scan(engine, team_events(), refit_growth=0)
    assert {f.details["period_start"]: f.details["trained_on"] for f in every.findings}.get("2026-04-09") == 24
    two = team_events(odd=(("E5", 1), ("E3", 3)))
    grown = scan(engine, two, refit_growth=10)  # never refits after the first fit
    assert [(f.employee_id, f.details["trained_on"]) for f in grown.findings] == [("E5", 12), ("E3", 12)]
    windowed = scan(engine, team_events(), history=2, min_periods=10, refit_growth=0)
    assert {f.details["trained_on"] for f in windowed.findings} <= {12}


def test_a_reference_range_trains_and_later_periods_are_judged(engine):
    """A model only splits on what varied in its training data: the reference range has an odd day too."""
    rng = {"start": "2026-04-06", "end": "2026-04-08"}
    res = scan(engine, team_events(odd=(("E5", 1), ("E3", 3))), fit_on=rng)
    (f,) = res.findings  # E5's odd day is training data, not judged
    assert (f.employee_id, f.details["period_start"]) == ("E3", "2026-04-09")
    assert f.details["model"] == "reference" and f.details["trained_on"] == 18
    assert scan(engine, team_events(odd=(("E5", 1),)), fit_on=rng).findings == []
    short = scan(engine, team_events(), fit_on={"start": "2026-04-06", "end": "2026-04-06"})
    assert short.findings == [] and "fewer than min_periods 10" in short.warnings[0]


def test_a_saved_model_judges_every_period(engine, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    scorer = fit_model(team_events(days=3, odd=(("E5", 1),)), "team.npz", timezone="Asia/Shanghai", **PARAMS)
    assert scorer.n_features_in_ == len(FEATURE_NAMES) and (tmp_path / "team.npz").exists()
    res = scan(engine, team_events(odd=(("E3", 0),)), fit_on={"model": "team.npz"})
    assert [(f.employee_id, f.details["period_start"]) for f in res.findings] == [("E3", "2026-04-06")]  # day one
    assert all(f.details["model"] == "saved" and f.details["trained_on"] is None for f in res.findings)
    with pytest.raises(RulesetError, match=r"team.npz: the model was saved with features"):
        scan(engine, team_events(), fit_on={"model": "team.npz"}, features=["events", "punches"])
    with pytest.raises(RulesetError, match="no such model file"):
        scan(engine, team_events(), fit_on={"model": "nope.npz"})


def test_batch_and_stream_agree_and_the_seed_decides(engine):
    events = team_events(days=4)
    rs = engine.load_ruleset({"ruleset": "t", "timezone": "Asia/Shanghai", "rules": [
        {"use": "outlier.isolation_forest", "params": {**PARAMS, "contamination": "auto"}},
        {"use": "outlier.isolation_forest", "name": "weekly", "params": {**PARAMS, "period": "week", "min_periods": 2}}]})
    ref = run_all_ways(events, rs, engine=engine, chunk_sizes=(1, 5))
    assert ref.findings
    again = engine.scan(events, rs)
    assert [f.model_dump() for f in again.findings] == [f.model_dump() for f in ref.findings]


def test_a_stream_fits_and_scores_in_advance_to_never_in_a_push(engine, monkeypatch):
    """A push that ends a period only queues its fit and scoring; advance_to (or result) does them
    and reports the findings, which are the scan's."""
    events = team_events(days=4)
    rs = engine.load_ruleset({"ruleset": "t", "timezone": "Asia/Shanghai",
                              "rules": [{"use": "outlier.isolation_forest", "params": PARAMS}]})
    calls: list[str] = []
    where = ["scan"]
    for name in ("fit", "score_samples"):  # of the rule's forest (the scorer's, without scikit-learn)
        orig = getattr(RuleForest, name)

        def spy(self, X, *a, _orig=orig, _name=name, **kw):
            calls.append(f"{_name} in {where[0]}")
            return _orig(self, X, *a, **kw)

        monkeypatch.setattr(RuleForest, name, spy)
    batch = engine.scan(events, rs)
    assert batch.findings and "fit in scan" in calls and "score_samples in scan" in calls
    calls.clear()
    stream = hrguard.Stream(rs, engine=engine)
    where[0] = "push"
    pushed = [f for e in sorted(events, key=lambda e: (e["ts"], e["id"])) for f in stream.push(e)]
    assert pushed == [] and calls == []  # every period has ended by the last push, none judged in one
    where[0] = "advance_to"
    settled = stream.advance_to(batch.as_of)
    assert [f.model_dump() for f in settled] == [f.model_dump() for f in batch.findings]
    assert "fit in advance_to" in calls and "score_samples in advance_to" in calls
    assert stream.advance_to(batch.as_of) == []  # reported once
    assert [f.id for f in stream.result().findings] == [f.id for f in batch.findings]


def test_a_stream_result_settles_the_forest(engine):
    events = team_events(days=4)
    rs = engine.load_ruleset({"ruleset": "t", "timezone": "Asia/Shanghai",
                              "rules": [{"use": "outlier.isolation_forest", "params": PARAMS}]})
    batch = engine.scan(events, rs)
    stream = hrguard.Stream(rs, engine=engine)
    for e in sorted(events, key=lambda e: (e["ts"], e["id"])):
        stream.push(e)
    got = stream.result()  # as of the watermark, just before the last event: every period has ended
    assert [f.id for f in got.findings] == [f.id for f in batch.findings] and not got.errors


def test_the_detector_state_holds_its_model_as_arrays(engine):
    """state_dict: the builder's stores, the training vectors, and the fitted model as the arrays of
    its model file (nothing pickled); a fresh instance loaded with it has the same model and vectors.
    (That a restored detector goes on to the same findings, in a scan and in a stream with periods
    still being judged, is the conformance kit's check_checkpoint.)"""
    from hrguard.state import dumps_state, loads_state

    events = team_events(days=4)
    rs = engine.load_ruleset({"ruleset": "t", "timezone": "Asia/Shanghai",
                              "rules": [{"use": "outlier.isolation_forest", "params": PARAMS}]})
    stream = hrguard.Stream(rs, engine=engine)
    for e in sorted(events, key=lambda e: (e["ts"], e["id"])):
        stream.push(e)
    ((_, det),) = [x for inst in stream.runner.instances.values() for x in inst]
    queued = det.state_dict()
    assert queued["jobs"] and not any(k.startswith("scorer.") for k in queued)  # ended periods, not judged yet
    stream.advance_to(stream.clock)
    state = det.state_dict()
    model = {k: v for k, v in state.items() if k.startswith("scorer.")}
    assert model and not state["jobs"]
    assert all(v.dtype.kind in "iuf" for k, v in model.items() if k != "scorer.meta")
    assert model["scorer.meta"].dtype.kind == "U"  # the JSON text, digest included
    fresh = IsolationForestOutlier(det.params, det.ctx)
    fresh.load_state_dict(loads_state(dumps_state(state)))
    X = np.vstack([x for _, x in det.train])
    assert np.array_equal(fresh.scorer.score_samples(X), det.scorer.score_samples(X))
    assert fresh.scorer.offset_ == det.scorer.offset_ and np.array_equal(np.vstack([x for _, x in fresh.train]), X)
    assert fresh.state_dict().keys() == state.keys()


def test_the_articles_case(engine):
    """The demo: three salespeople over three weeks; S01 spends days at a coffee shop, kilometres away."""
    recommended = engine.load_ruleset({"ruleset": "t", "timezone": "Asia/Shanghai", "rules": [
        {"use": "outlier.isolation_forest", "params": {"contamination": 0.01, "roles": ["sales"]}}]})
    res = engine.scan(load_events(), recommended)
    assert not res.errors and {f.employee_id for f in res.findings} <= {"S01"}  # honest people: nothing
    eager = engine.load_ruleset({"ruleset": "t", "timezone": "Asia/Shanghai", "rules": [
        {"use": "outlier.isolation_forest", "params": {"min_periods": 6, "roles": ["sales"]}}]})
    coffee = {f.details["period_start"]: f for f in engine.scan(load_events(), eager).findings if f.employee_id == "S01"}
    for day in ("2026-04-01", "2026-04-02", "2026-04-07"):
        names = [x["name"] for x in coffee[day].details["features"]]
        assert names[:2] == ["plan_distance_mean_m", "plan_distance_max_m"], day


def test_chinese_messages(engine):
    rs = engine.load_ruleset({"ruleset": "t", "timezone": "Asia/Shanghai", "language": "zh", "rules": [
        {"use": "outlier.isolation_forest", "params": PARAMS}]})
    res = engine.scan(team_events(days=5), rs)
    assert res.findings and all("的行为与其他人明显不同（异常分数" in f.message for f in res.findings)


def test_params_reject_nonsense(engine):
    for params, words in [({"features": []}, "at least one feature"), ({"features": ["nope"]}, "features"),
                          ({"period": "month"}, "period"), ({"fit_on": {"model": ""}}, "fit_on"),
                          ({"work_start": "7am"}, "HH:MM")]:
        with pytest.raises(RulesetError, match=words):
            engine.load_ruleset({"ruleset": "t", "rules": [{"use": "outlier.isolation_forest", "params": params}]})


def test_the_default_ruleset_needs_no_extra():
    """`pip install hrguard` then `hrguard scan FILE` (the default `sales` ruleset, whose outlier rule needs
    scikit-learn) works: scikit-learn is a core dependency, not an extra (issue 14)."""
    import re
    import tomllib
    from pathlib import Path

    meta = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text(encoding="utf-8"))
    core = {re.split(r"[<>=;\[ ]", d, maxsplit=1)[0].lower() for d in meta["project"]["dependencies"]}
    assert "scikit-learn" in core
    assert "outlier.isolation_forest" in {r.use for r in hrguard.load_ruleset("sales").rules}
