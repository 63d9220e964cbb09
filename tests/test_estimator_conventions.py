"""The scorer speaks PyOD's and scikit-learn's dialects where they do not collide, and model files keep
what a later use must agree on: feature names, and the time zone the features were built in."""

from __future__ import annotations

import json
import re
import warnings
import zipfile

import numpy as np
import pytest

import hrguard
from hrguard.analytics import _isoforest
from hrguard.analytics._isoforest import _digest
from hrguard.demo import load_events
from hrguard.detectors.outlier import fit_model
from hrguard.errors import InvalidArgumentError
from hrguard.ml import IsolationForestScorer, ModelFileError


def data(n: int = 600, d: int = 5, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    X[:6, 2] += 7
    return X


# -- PyOD's names --------------------------------------------------------------------------------
@pytest.mark.parametrize("contamination", ["auto", 0.05])
def test_pyod_attributes_agree_with_the_scikit_learn_ones(contamination):
    X = data()
    s = IsolationForestScorer(contamination=contamination, random_state=0).fit(X)
    assert np.allclose(s.decision_scores_, s.anomaly_score(X))  # training rows, higher is worse
    assert s.labels_.dtype.kind == "i" and set(np.unique(s.labels_)) <= {0, 1}
    assert np.array_equal(s.labels_ == 1, s.predict(X) == -1)
    assert np.array_equal(s.decision_scores_ > s.threshold_, s.decision_function(X) < 0)
    assert np.allclose(s.threshold_ - s.anomaly_score(X), s.decision_function(X))
    assert set(range(6)) <= set(np.flatnonzero(s.labels_))
    if contamination == 0.05:
        assert abs(s.labels_.mean() - 0.05) < 0.01


@pytest.mark.parametrize("method", ["linear", "unify"])
def test_predict_proba_is_a_probability_that_grows_with_the_score(method):
    X, Y = data(), data(seed=1) * 3
    s = IsolationForestScorer(random_state=0).fit(X)
    p = s.predict_proba(Y, method=method)
    assert p.shape == (len(Y), 2) and np.allclose(p.sum(axis=1), 1) and p.min() >= 0 and p.max() <= 1
    order = np.argsort(s.anomaly_score(Y), kind="stable")
    assert np.all(np.diff(p[order, 1]) >= -1e-12)  # monotone in the anomaly score
    if method == "linear":  # PyOD's: min-max over the training scores
        train = s.predict_proba(X)[:, 1]
        assert train.min() == 0 and train.max() == 1
    with pytest.raises(InvalidArgumentError, match="method"):
        s.predict_proba(Y, method="sigmoid")


def test_predict_proba_survives_save_and_load(tmp_path):
    X = data()
    s = IsolationForestScorer(n_estimators=20, random_state=0).fit(X)
    s.save(tmp_path / "m.npz")
    t = IsolationForestScorer.load(tmp_path / "m.npz")
    assert np.array_equal(t.predict_proba(X), s.predict_proba(X))
    assert np.array_equal(t.predict_proba(X, "unify"), s.predict_proba(X, "unify"))


# -- scikit-learn's parameters -------------------------------------------------------------------
@pytest.mark.parametrize(("max_samples", "rows"), [("auto", 256), (100, 100), (10_000, 600), (0.5, 300), (1.0, 600),
                                                   (0.001, 1)])
def test_max_samples_as_scikit_learn_reads_it(max_samples, rows):
    s = IsolationForestScorer(n_estimators=5, max_samples=max_samples, random_state=0).fit(data())
    assert s.max_samples_ == rows and s.max_samples == max_samples
    assert s.nodes_["n_node_samples"][0] == rows  # every root holds the rows drawn for its tree


def test_auto_is_the_default_and_the_old_default():
    X = data()
    auto = IsolationForestScorer(random_state=0).fit(X)
    old = IsolationForestScorer(max_samples=256, random_state=0).fit(X)
    assert np.array_equal(auto.score_samples(X), old.score_samples(X))


@pytest.mark.parametrize(("max_features", "k"), [(2, 2), (0.4, 2), (1, 1), (5, 5), (1.0, 5)])
def test_max_features_limits_each_tree_to_a_subset(max_features, k):
    s = IsolationForestScorer(n_estimators=30, max_features=max_features, random_state=0).fit(data())
    assert s.max_features_ == k
    off, feat = s.nodes_["node_offsets"], s.nodes_["feature"]
    used = [set(feat[off[t]:off[t + 1]][feat[off[t]:off[t + 1]] >= 0].tolist()) for t in range(off.size - 1)]
    assert max(len(u) for u in used) <= k
    assert set().union(*used) == set(range(5))  # the subsets differ from tree to tree


def test_random_state_may_be_a_random_state_or_a_generator():
    X = data()
    a = IsolationForestScorer(random_state=np.random.RandomState(0)).fit(X).score_samples(X)
    b = IsolationForestScorer(random_state=np.random.RandomState(0)).fit(X).score_samples(X)
    assert np.array_equal(a, b)  # the same generator state, the same trees
    rs = np.random.RandomState(0)
    s = IsolationForestScorer(random_state=rs)
    first, second = s.fit(X).score_samples(X), s.fit(X).score_samples(X)
    assert np.array_equal(first, a) and not np.array_equal(first, second)  # each fit draws its own seed
    g = IsolationForestScorer(random_state=np.random.default_rng(1)).fit(X)
    assert g.score_samples(X).shape == (600,)


def test_a_random_state_object_is_not_written_to_the_model_file(tmp_path):
    s = IsolationForestScorer(n_estimators=5, random_state=np.random.RandomState(0)).fit(data())
    s.save(tmp_path / "m.npz")
    t = IsolationForestScorer.load(tmp_path / "m.npz")
    assert t.random_state is None and np.array_equal(t.score_samples(data()), s.score_samples(data()))


def test_no_feature_names_warning_from_a_dataframe():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(data(), columns=list("abcde"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for contamination in ("auto", 0.1):
            s = IsolationForestScorer(n_estimators=10, contamination=contamination, random_state=0).fit(df)
            s.score_samples(df), s.predict_proba(df), s.explain(df.iloc[:2])
    assert list(s.feature_names_in_) == list("abcde") and s.feature_names() == list("abcde")


# -- feature names -------------------------------------------------------------------------------
def test_names_given_to_fit_name_the_explanations_and_survive_the_file(tmp_path):
    X = data()
    s = IsolationForestScorer(n_estimators=10, random_state=0).fit(X, feature_names=list("pqrst"))
    assert not hasattr(s, "feature_names_in_")  # an array: scikit-learn's name checks stay off
    assert s.explain(X[:1], top=1)[0][0]["name"] == "r"
    s.save(tmp_path / "m.npz")
    t = IsolationForestScorer.load(tmp_path / "m.npz")
    assert t.feature_names() == list("pqrst") and t.explain(X[:1], top=1)[0][0]["name"] == "r"
    with pytest.raises(InvalidArgumentError, match="5 distinct names"):
        IsolationForestScorer().fit(X, feature_names=["a", "b"])
    with pytest.raises(InvalidArgumentError, match="5 distinct names"):
        IsolationForestScorer().fit(X, feature_names=list("aabcd"))


def test_fit_model_names_its_columns_after_the_features(tmp_path):
    path = tmp_path / "m.npz"
    fit_model(load_events(), path, timezone="Asia/Shanghai", roles=["sales"], min_periods=6)
    model = IsolationForestScorer.load(path)
    assert model.feature_names() == list(hrguard.analytics.FEATURE_NAMES)
    assert model.extra_["timezone"] == "Asia/Shanghai"


# -- the time zone a model was built in ----------------------------------------------------------
def _outlier_ruleset(zone: str, path) -> hrguard.Ruleset:
    return hrguard.load_ruleset({"ruleset": "o", "timezone": zone, "rules": [{
        "use": "outlier.isolation_forest", "params": {"roles": ["sales"], "min_periods": 6, "fit_on": {"model": str(path)}}}]})


def _refused(path, message: str) -> None:
    """The rule refuses the model when it is built: disabled, its ModelFileError reported — never silently wrong
    (a detector that fails in its constructor disables only its rule, issue 16)."""
    res = hrguard.scan(load_events(), _outlier_ruleset("Asia/Shanghai", path))
    (err,) = res.errors
    assert isinstance(err.cause, ModelFileError) and re.search(message, str(err.cause)), err
    assert not res.findings


def test_fit_model_needs_the_zone():
    with pytest.raises(InvalidArgumentError, match="timezone"):
        fit_model(load_events(), roles=["sales"], min_periods=6)


def test_a_model_of_another_zone_is_refused(tmp_path):
    path = tmp_path / "utc.npz"
    fit_model(load_events(), path, timezone="UTC", roles=["sales"], min_periods=6)
    _refused(path, r"built in time zone 'UTC', but this ruleset's timezone is 'Asia/Shanghai'.*timezone='Asia/Shanghai'")
    assert hrguard.scan(load_events(), _outlier_ruleset("UTC", path)).as_of  # its own zone: it runs


def test_a_model_of_the_same_zone_judges(tmp_path):
    path = tmp_path / "sh.npz"
    fit_model(load_events(), path, timezone="Asia/Shanghai", roles=["sales"], min_periods=6, contamination=0.1)
    res = hrguard.scan(load_events(), _outlier_ruleset("Asia/Shanghai", path))
    assert res.findings and all(f.details["model"] == "saved" for f in res.findings)


def _rewrite_meta(path, change):
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays["meta"]))
    change(meta)
    meta["sha256"] = _digest(meta, {k: v for k, v in arrays.items() if k != "meta"})
    arrays["meta"] = np.array(json.dumps(meta, sort_keys=True))
    np.savez(path, **arrays)


def test_a_model_that_does_not_say_its_zone_is_refused(tmp_path):
    path = tmp_path / "old.npz"
    fit_model(load_events(), path, timezone="Asia/Shanghai", roles=["sales"], min_periods=6)
    _rewrite_meta(path, lambda m: m["extra"].pop("timezone"))  # as a model saved before zones were kept
    _refused(path, "built in time zone None")


# -- unsafe or corrupt files ---------------------------------------------------------------------
def test_malformed_names_and_stats_are_refused(tmp_path):
    path = tmp_path / "m.npz"
    IsolationForestScorer(n_estimators=5, random_state=0).fit(data()).save(path)
    _rewrite_meta(path, lambda m: m.update(column_names=["a"]))
    with pytest.raises(ModelFileError, match="column_names does not match"):
        IsolationForestScorer.load(path)
    IsolationForestScorer(n_estimators=5, random_state=0).fit(data()).save(path)
    _rewrite_meta(path, lambda m: m.update(score_stats={"min": "x"}))
    with pytest.raises(ModelFileError, match="score_stats"):
        IsolationForestScorer.load(path)


def test_a_truncated_file_is_refused(tmp_path):
    path = tmp_path / "m.npz"
    IsolationForestScorer(n_estimators=5, random_state=0).fit(data()).save(path)
    path.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(ModelFileError, match="not an hrguard model file|cannot read"):
        IsolationForestScorer.load(path)


def test_a_file_that_decompresses_too_far_is_refused_before_decompressing(tmp_path, monkeypatch):
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:  # 64 MB of zeros in a few kB
        zf.writestr("left.npy", b"\0" * (64 << 20))
    monkeypatch.setattr(_isoforest, "MAX_MODEL_BYTES", 32 << 20)
    read = []
    monkeypatch.setattr(np, "load", lambda *a, **k: read.append(a) or pytest.fail("decompressed"))
    with pytest.raises(ModelFileError, match="would decompress to 67,108,864 bytes"):
        IsolationForestScorer.load(path)


# -- forests grown once for a sweep ---------------------------------------------------------------
def test_reusing_grown_forests_changes_nothing_but_the_work(monkeypatch):
    from hrguard.analytics import IsolationForest, reuse_grown_forests

    X, Y = data(), data(seed=1)
    grown = []
    real = _isoforest.grow_forest
    monkeypatch.setattr(_isoforest, "grow_forest", lambda *a, **k: grown.append(1) or real(*a, **k))
    plain = [IsolationForest(contamination=c, random_state=3).fit(X) for c in ("auto", 0.05, 0.1)]
    assert len(grown) == 3
    grown.clear()
    with reuse_grown_forests():
        reused = [IsolationForest(contamination=c, random_state=3).fit(X) for c in ("auto", 0.05, 0.1)]
        assert len(grown) == 1  # the trees depend on the rows and the seed, not on contamination
        IsolationForest(random_state=4).fit(X)  # another seed
        IsolationForest(random_state=3).fit(X[:500])  # other rows
        IsolationForest(random_state=3, max_features=2).fit(X)  # other features per tree
        IsolationForest(random_state=np.random.RandomState(3)).fit(X)  # not an integer seed: never reused
        assert len(grown) == 5
    for a, b in zip(plain, reused):
        assert np.array_equal(a.score_samples(Y), b.score_samples(Y)) and a.offset_ == b.offset_
        assert np.array_equal(a.center_, b.center_) and np.array_equal(a.scale_, b.scale_)
    IsolationForest(random_state=3).fit(X)  # outside the with: grown again
    assert len(grown) == 6
