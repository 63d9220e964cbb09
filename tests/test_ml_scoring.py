"""The scorer's walk gives, bit for bit, the scores of walking each tree row by row over ``nodes_``.

The walk is laid out for speed (one table per depth, float32 thresholds, row blocks, threads); this
holds it to the plain definition: follow each row from the root, right when its value (as float32)
is above the node's float64 threshold, and add up the trees' path lengths as a (rows x trees) sum.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import hrguard.analytics._isoforest as ml  # the forest itself: its private helpers
from hrguard.ml import IsolationForestScorer, ModelFileError, average_path_length
from hrguard.analytics._isoforest import _digest  # the forest itself (scikit-learn-free) lives there


def plain_scores(s: IsolationForestScorer, X: np.ndarray) -> np.ndarray:
    """``score_samples`` by the definition: one row, one tree, one node at a time, in Python."""
    X = np.asarray(X, dtype=np.float32).astype(np.float64).tolist()
    nodes, off = s.nodes_, s.nodes_["node_offsets"]
    paths = np.empty((len(X), off.size - 1))
    for t in range(off.size - 1):
        lo, hi = int(off[t]), int(off[t + 1])
        left, right, feature, threshold = (nodes[k][lo:hi].tolist() for k in ("left", "right", "feature", "threshold"))
        for r, row in enumerate(X):
            i = 0
            while left[i] >= 0:
                i = right[i] if row[feature[i]] > threshold[i] else left[i]
            paths[r, t] = s.path_lengths_[lo + i]
    denominator = (off.size - 1) * average_path_length(np.array([s.max_samples_]))
    depths = paths.sum(axis=1)
    return -(2 ** (-np.divide(depths, denominator, out=np.ones_like(depths), where=denominator != 0)))


def on_the_thresholds(s: IsolationForestScorer, n: int, seed: int = 0) -> np.ndarray:
    """Rows whose values sit on the trees' thresholds: the float32 nearest each, and one step either side."""
    rng = np.random.default_rng(seed)
    nodes = s.nodes_
    inner = nodes["left"] >= 0
    near = nodes["threshold"][inner].astype(np.float32)
    values = np.concatenate([near, np.nextafter(near, np.float32(np.inf)), np.nextafter(near, np.float32(-np.inf))])
    features = np.tile(nodes["feature"][inner], 3)
    Y = np.empty((n, s.n_features_in_))
    for j in range(s.n_features_in_):
        pool = values[features == j]
        Y[:, j] = rng.choice(pool, n) if pool.size else 0.0
    return Y


def forest(case: str) -> tuple[IsolationForestScorer, np.ndarray]:
    rng = np.random.default_rng(len(case))
    if case == "default":
        X = rng.normal(size=(600, 5))
        X[:6, 2] += 7
        s = IsolationForestScorer(n_estimators=20, random_state=0)
    elif case == "ties":  # few distinct values: many nodes whose rows are all equal stop early
        X = np.round(rng.normal(size=(500, 3)) * 2)
        s = IsolationForestScorer(n_estimators=15, max_samples=300, contamination=0.1, random_state=1)
    elif case == "constant":  # every tree a single leaf: no step at all
        X = np.ones((40, 2))
        s = IsolationForestScorer(n_estimators=4, random_state=2)
    elif case == "two_rows":
        X = rng.normal(size=(200, 4))
        s = IsolationForestScorer(n_estimators=9, max_samples=2, random_state=3)
    elif case == "wide":  # many features, large and tiny magnitudes (float32 rounding of the thresholds)
        X = rng.normal(size=(300, 60)) * np.logspace(-30, 30, 60)
        s = IsolationForestScorer(n_estimators=12, max_samples=64, random_state=4)
    else:
        raise ValueError(case)
    return s.fit(X), X


CASES = ["default", "ties", "constant", "two_rows", "wide"]


@pytest.mark.parametrize("case", CASES)
def test_the_walk_is_the_plain_walk_bit_for_bit(case):
    s, X = forest(case)
    Y = np.vstack([X, np.random.default_rng(9).normal(size=(50, X.shape[1])) * X.std(axis=0) * 3,
                   on_the_thresholds(s, 200)])
    assert np.array_equal(s.score_samples(Y), plain_scores(s, Y))


@pytest.mark.parametrize("case", ["default", "ties", "constant"])
def test_block_size_and_threads_do_not_change_a_bit(case, monkeypatch):
    s, X = forest(case)
    X = np.vstack([X] * (3 * ml._THREAD_MIN_ROWS // len(X) + 1))  # enough rows for three threads
    want = s.score_samples(X)
    for cells in (1, 37, 4096):
        monkeypatch.setattr(ml, "BLOCK_CELLS", cells)
        for jobs in (1, 2, 3):
            assert np.array_equal(s.set_params(n_jobs=jobs).score_samples(X), want), (cells, jobs)


def test_float32_thresholds_round_down():
    t = np.array([0.1, -0.1, 1.0, 3.4028235677973366e38, -3.5e38, 1e-46, -1e-46, 0.0])
    t32 = ml._floor32(t)
    assert t32.dtype == np.float32 and np.all(t32.astype(np.float64) <= t)
    with np.errstate(over="ignore"):
        above = np.nextafter(t32, np.float32(np.inf)).astype(np.float64)
    assert np.all(above > t)  # the largest float32 at or below


def test_a_tree_deeper_than_max_samples_allows_is_refused(tmp_path):
    path = tmp_path / "m.npz"
    IsolationForestScorer(n_estimators=3, random_state=0).fit(np.random.default_rng(0).normal(size=(300, 3))).save(path)
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays["meta"]))
    meta["max_samples"] = 4  # trees of 256 rows, which are up to 9 levels deep; 4 rows make at most 3
    meta["sha256"] = _digest(meta, {k: v for k, v in arrays.items() if k != "meta"})
    arrays["meta"] = np.array(json.dumps(meta, sort_keys=True))
    np.savez(path, **arrays)
    with pytest.raises(ModelFileError, match=r"malformed model: tree 0 is \d+ levels deep; a tree grown on 4 rows has at most 3"):
        IsolationForestScorer.load(path)
