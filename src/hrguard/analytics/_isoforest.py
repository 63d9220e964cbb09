"""The Isolation Forest itself, in NumPy: growing every tree at once, scoring, explaining, saving.

:class:`IsolationForest` is what ``outlier.isolation_forest`` fits and scores; the public estimator
:class:`hrguard.ml.IsolationForestScorer` is the same class with scikit-learn's estimator contract
and input checks (the ``ml`` extra). Keeping scikit-learn out of this module keeps it out of a scan:
importing it costs about 1.4 CPU seconds and 100 MB. See :mod:`hrguard.analytics.forest` for the
method and its figures.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import os
import zipfile
from collections import OrderedDict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from typing import Any

import numpy as np

from ..errors import InvalidArgumentError, ModelFileError

FORMAT = "hrguard.isolation_forest"
FORMAT_VERSION = 1
_ARRAYS = {  # name -> (dtype, number of dimensions)
    "left": ("<i8", 1), "right": ("<i8", 1), "feature": ("<i8", 1), "threshold": ("<f8", 1),
    "n_node_samples": ("<i8", 1), "missing_go_to_left": ("|u1", 1), "node_offsets": ("<i8", 1),
    "center": ("<f8", 1), "scale": ("<f8", 1),
}
_MAD_TO_SD = 1.482602218505602  # 1 / Phi^-1(3/4): the MAD of a normal sample times this is its sd
_MEAN_AD_TO_SD = 1.2533141373155001  # sqrt(pi / 2): the same for the mean absolute deviation


def average_path_length(n: np.ndarray) -> np.ndarray:
    """``c(n)``: the average path length of an unsuccessful search in a binary tree of ``n`` points.

    The same formula and floating-point steps as scikit-learn's (0 for ``n <= 1``, 1 for ``n == 2``).
    """
    n = np.asarray(n, dtype=np.float64)
    out = np.zeros(n.shape)
    out[n == 2] = 1.0
    big = n > 2
    out[big] = 2.0 * (np.log(n[big] - 1.0) + np.euler_gamma) - 2.0 * (n[big] - 1.0) / n[big]
    return out


def _node_depths(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Depth of every node of one tree, the root being 1 (scikit-learn's ``compute_node_depths``)."""
    depth = np.zeros(left.size, dtype=np.int64)
    frontier, d = np.zeros(1, dtype=np.int64), 1
    depth[0] = 1
    while frontier.size:
        kids = np.concatenate([left[frontier], right[frontier]])
        frontier = kids[kids >= 0]
        d += 1
        depth[frontier] = d
    return depth


_GROWN: ContextVar[OrderedDict[tuple[Any, ...], tuple[dict[str, np.ndarray], dict[str, Any]]] | None] = ContextVar(
    "hrguard_grown_forests", default=None)


@contextlib.contextmanager
def reuse_grown_forests(max_forests: int = 64) -> Iterator[None]:
    """While the ``with`` lasts (in this thread or task), a fit that would grow exactly the forest an
    earlier fit grew takes that forest instead: the same training rows (by their SHA-256), the same
    ``n_estimators``, rows and features per tree, and the same integer ``random_state``. The random
    generator is left where growing would have left it, so the rest of the fit (the population
    sample, the threshold) and every score are the same as without it. What a sweep over a parameter
    that does not change the trees needs (``contamination``: the fits of every value grow the same
    forests). At most ``max_forests`` are kept, the least recently used dropped first."""
    token = _GROWN.set(OrderedDict())
    try:
        yield
    finally:
        _GROWN.reset(token)


def _grown(X: np.ndarray, n_trees: int, rows: int, feats: int, seed: Any, rng: np.random.Generator,
           max_forests: int = 64) -> dict[str, np.ndarray]:
    """:func:`grow_forest`, or the forest an earlier fit grew with the same inputs (:func:`reuse_grown_forests`)."""
    cache = _GROWN.get()
    usable = cache is not None and isinstance(seed, (int, np.integer)) and not isinstance(seed, bool)
    if not usable:
        return grow_forest(X, n_trees, rows, rng, feats)
    key = (hashlib.sha256(np.ascontiguousarray(X).tobytes()).hexdigest(), X.shape, n_trees, rows, feats, int(seed))
    hit = cache.get(key)  # type: ignore[union-attr]
    if hit is not None:
        cache.move_to_end(key)  # type: ignore[union-attr]
        nodes, state = hit
        rng.bit_generator.state = copy.deepcopy(state)
        return nodes
    nodes = grow_forest(X, n_trees, rows, rng, feats)
    cache[key] = (nodes, copy.deepcopy(rng.bit_generator.state))  # type: ignore[index]
    while len(cache) > max_forests:  # type: ignore[arg-type]
        cache.popitem(last=False)  # type: ignore[union-attr]
    return nodes


POPULATION_SAMPLE = 4096
"""Most training rows the population statistics are taken from: the ``contamination`` threshold (a
quantile of their scores) and the medians and spreads :meth:`IsolationForest.explain` uses.
A larger training set is represented by this many rows drawn without replacement by the seed, so a
fit costs the same on 10,000 rows as on a million; 4,096 rows put about 20 below the threshold of
``contamination=0.005``, and a median of integer counts is almost always the population's own."""


BLOCK_CELLS = 1 << 15
"""Rows x trees walked at once when scoring. The walk's scratch arrays take about 37 bytes a cell
(1.2 MB), so a block stays in one core's cache whatever the number of rows; larger blocks were
slower on a 2-core Xeon with 2 MB of L2 per core, smaller ones pay NumPy's per-call cost more often."""

_THREAD_MIN_ROWS = 1024
"""Rows each scoring thread gets at least: fewer rows than twice this are scored on one thread."""


def _floor32(x: np.ndarray) -> np.ndarray:
    """The largest ``float32`` at or below each value: for a ``float32`` ``v``, ``v > _floor32(t)`` iff ``v > t``."""
    with np.errstate(over="ignore"):  # beyond float32's range: inf, then rounded down to the largest float32
        x32 = x.astype(np.float32)
    up = x32.astype(np.float64) > x
    x32[up] = np.nextafter(x32[up], np.float32(-np.inf))
    return x32


def _walk_levels(nodes: dict[str, np.ndarray], path_lengths: np.ndarray,
                 depth: np.ndarray) -> tuple[list[tuple[np.ndarray, np.ndarray, np.ndarray]], np.ndarray]:
    """The forest as one table per depth, for a walk in which every row takes the same steps.

    Level ``k`` holds every node of every tree at depth ``k + 1``, trees in order, each node's
    children next to each other in level ``k + 1``; a leaf above the deepest level continues as a
    pass-through node on every level below it (feature 0, threshold ``+inf``: every finite value
    goes left, to the next pass-through). Returns, per level but the last, the nodes' ``feature``,
    ``threshold`` (rounded down to ``float32``, which decides every ``float32`` value as the
    ``float64`` threshold does) and the level-``k + 1`` index of the left child (the right one is
    next to it); and the path length of the leaf each node of the last level stands for. Level 0
    is the roots, one per tree, so a row's node in tree ``t`` after the walk is in column ``t``.
    """
    off = nodes["node_offsets"]
    start = np.repeat(off[:-1], np.diff(off))
    inner = nodes["left"] >= 0
    left, right = nodes["left"] + start, nodes["right"] + start  # numbered across the forest
    threshold32 = _floor32(nodes["threshold"])
    stands_for = off[:-1].copy()  # per node of the level: the node itself, or the leaf it passes through for
    levels = []
    for _ in range(int(depth.max()) - 1):
        split = inner[stands_for]
        width = np.where(split, 2, 1)
        first = np.cumsum(width) - width  # index of the (left) child on the next level
        below = np.repeat(stands_for, width)
        below[first[split]] = left[stands_for[split]]
        below[first[split] + 1] = right[stands_for[split]]
        levels.append((np.where(split, nodes["feature"][stands_for], 0),
                       np.where(split, threshold32[stands_for], np.float32(np.inf)), first))
        stands_for = below
    return levels, path_lengths[stands_for]


def _max_depth(n_samples: int) -> int:
    """Splits on the longest path of a tree grown on ``n_samples`` rows: ``ceil(log2(n_samples))``, at least 1."""
    return int(np.ceil(np.log2(max(n_samples, 2))))


def grow_forest(X: np.ndarray, n_trees: int, n_samples: int, rng: np.random.Generator,
                n_features: int | None = None) -> dict[str, np.ndarray]:
    """Grow ``n_trees`` isolation trees on ``n_samples`` rows of ``X`` each (drawn without replacement).

    ``n_features`` (below ``X``'s columns): each tree draws that many features without replacement,
    after its rows, and splits on those only (scikit-learn's ``max_features``); split features keep
    their column index in ``X``.

    Each tree is grown as in Liu, Ting and Zhou's paper and scikit-learn: a node with at least two
    rows and depth below ``ceil(log2(n_samples))`` splits on a feature drawn at random among those
    not constant on its rows, at a threshold drawn uniformly between their smallest value
    (included) and largest (excluded); rows at or below it go left. Every node of every tree at
    one depth is split by the same few NumPy operations, so a forest costs about as much as a
    dozen array passes over its ``n_trees * n_samples`` rows.

    Returns the nodes of all trees, each tree's contiguous and in breadth-first order (its root
    first, a child after its parent, children indices local to the tree, ``-1`` for none):
    ``left``, ``right``, ``feature`` and ``threshold`` (``-2`` at leaves, as scikit-learn),
    ``n_node_samples``, ``depth`` (the root's is 1) and ``node_offsets`` (tree ``t``'s nodes are
    ``node_offsets[t]:node_offsets[t + 1]``).
    """
    n, d = X.shape
    max_depth = _max_depth(n_samples)
    if n_samples < n:
        rows = np.concatenate([rng.choice(n, n_samples, replace=False) for _ in range(n_trees)])
    else:
        rows = np.tile(np.arange(n), n_trees)
    allowed = None  # (n_trees, d): the features each tree may split on; None: all
    if n_features is not None and n_features < d:
        allowed = np.zeros((n_trees, d), dtype=bool)
        pick = np.argsort(rng.random((n_trees, d)), axis=1)[:, :n_features]
        np.put_along_axis(allowed, pick, True, axis=1)
    flat = np.ascontiguousarray(X, dtype=np.float64).ravel()
    # one depth at a time: its nodes (level-local index k), and each row's node, rows grouped by node
    tree = np.arange(n_trees)
    count = np.full(n_trees, n_samples, dtype=np.int64)
    node_of = np.repeat(np.arange(n_trees), n_samples)
    first = 0  # global id of the depth's first node: ids follow depth, then tree, then position
    levels = []
    depth = 1
    while tree.size:
        k = tree.size
        feature = np.full(k, -2, dtype=np.int64)
        threshold = np.full(k, -2.0)
        if depth <= max_depth:
            _choose_splits(flat, d, rows, count, feature, threshold, rng, None if allowed is None else allowed[tree])
        split = feature >= 0
        ns = int(split.sum())
        left = np.full(k, -1, dtype=np.int64)
        right = np.full(k, -1, dtype=np.int64)
        left[split] = first + k + 2 * np.arange(ns)
        right[split] = left[split] + 1
        levels.append((tree, count, feature, threshold, left, right, np.full(k, depth, dtype=np.int64)))
        keep = split[node_of]  # rows of leaves are done
        rows, node_of = rows[keep], node_of[keep]
        child = 2 * (np.cumsum(split) - 1)[node_of] + (flat[rows * d + feature[node_of]] > threshold[node_of])
        order = np.argsort(child, kind="stable")
        rows, node_of = rows[order], child[order]
        count = np.bincount(node_of, minlength=2 * ns)
        tree = np.repeat(tree[split], 2)
        first += k
        depth += 1
    t, nns, feature, threshold, left, right, depth_ = (np.concatenate(c) for c in zip(*levels))
    order = np.argsort(t, kind="stable")  # by tree; within a tree by global id, which is breadth-first
    offsets = np.r_[0, np.cumsum(np.bincount(t, minlength=n_trees))]
    local = np.empty(t.size, dtype=np.int64)
    local[order] = np.arange(t.size) - offsets[t[order]]
    left, right = left[order], right[order]
    return {"left": np.where(left >= 0, local[left], -1), "right": np.where(right >= 0, local[right], -1),
            "feature": feature[order], "threshold": threshold[order], "n_node_samples": nns[order],
            "depth": depth_[order], "node_offsets": offsets}


def _choose_splits(flat: np.ndarray, d: int, rows: np.ndarray, count: np.ndarray, feature: np.ndarray,
                   threshold: np.ndarray, rng: np.random.Generator, allowed: np.ndarray | None = None) -> None:
    """Set ``feature`` and ``threshold`` of every node with two rows or more that some feature splits.

    ``rows`` are grouped by node, ``count[k]`` rows for node ``k``. Features are drawn without
    replacement per node until one is not constant on the node's rows; a node whose features are
    all constant keeps ``-2`` (a leaf). ``allowed`` (per node, per feature): the features its tree
    may split on (all when None).
    """
    starts = np.r_[0, np.cumsum(count)[:-1]]
    todo = np.flatnonzero(count >= 2)
    tried = np.zeros((todo.size, d), dtype=bool) if allowed is None else ~allowed[todo]
    open_ = np.arange(todo.size)
    while open_.size:
        avail = ~tried[open_]
        n_avail = avail.sum(axis=1)
        live = n_avail > 0
        open_, avail, n_avail = open_[live], avail[live], n_avail[live]
        if not open_.size:
            break
        pick = (rng.random(open_.size) * n_avail).astype(np.int64)  # the pick-th feature not tried yet
        f = (np.cumsum(avail, axis=1) > pick[:, None]).argmax(axis=1)
        nodes = todo[open_]
        cnt = count[nodes]
        offs = np.r_[0, np.cumsum(cnt)[:-1]]
        pos = np.repeat(starts[nodes] - offs, cnt) + np.arange(int(cnt.sum()))
        values = flat[rows[pos] * d + np.repeat(f, cnt)]
        lo, hi = np.minimum.reduceat(values, offs), np.maximum.reduceat(values, offs)
        ok = lo < hi
        t = lo[ok] + rng.random(int(ok.sum())) * (hi[ok] - lo[ok])
        feature[nodes[ok]] = f[ok]
        threshold[nodes[ok]] = np.where(t >= hi[ok], lo[ok], t)  # rounding up to the largest: the smallest
        tried[open_[~ok], f[~ok]] = True
        open_ = open_[~ok]


class IsolationForest:
    """Isolation Forest anomaly scores for the rows of any numeric matrix (NumPy only).

    The forest itself: :class:`hrguard.ml.IsolationForestScorer` is this class with scikit-learn's
    estimator contract and input checks around it (the ``ml`` extra); ``outlier.isolation_forest``
    fits and scores this one, so a scan does not import scikit-learn (1.4 CPU s, 100 MB).

    Parameters are scikit-learn's :class:`~sklearn.ensemble.IsolationForest` ones:

    - ``n_estimators``: number of trees (100).
    - ``max_samples``: rows drawn (without replacement) to grow each tree: ``"auto"`` (the
      default: ``min(256, n)``), an ``int`` (capped at the number of rows ``n``) or a ``float`` in
      ``(0, 1]`` (that share of ``n``, at least 1 row).
    - ``contamination``: ``"auto"`` (the paper's threshold, anomaly score 0.5) or the expected
      share of outliers in the training data, in ``(0, 0.5]``, which sets the threshold at that
      quantile of the training scores (of at most :data:`POPULATION_SAMPLE` training rows).
    - ``max_features``: features each tree may split on, drawn per tree without replacement: an
      ``int`` (at most the number of features) or a ``float`` in ``(0, 1]`` (that share, at least 1;
      ``1.0``, the default: every feature).
    - ``random_state``: ``None`` (different trees every fit), an ``int`` (NumPy's ``default_rng``
      seed: the same seed, the same trees) or a :class:`numpy.random.RandomState` /
      :class:`numpy.random.Generator`, from which each fit draws its seed (so successive fits
      differ, and the sequence is reproducible), as scikit-learn does.
    - ``n_jobs``: threads that score ranges of at least 1,024 rows (``None``: 1). Scores do not depend on it.

    Learned attributes: ``offset_`` (``decision_function = score_samples - offset_``),
    ``max_samples_``, ``max_features_`` (features per tree), ``n_features_in_`` (and
    ``feature_names_in_`` when fitted on a DataFrame), ``feature_names_`` (the names explanations
    and the model file use: ``feature_names_in_``, else the ``feature_names`` given to ``fit``, else
    ``x0``, ``x1``...),
    ``nodes_`` (every tree's node arrays, as :func:`grow_forest` returns them and :meth:`save` writes
    them), ``path_lengths_`` (per node: depth plus ``c(n_node_samples)`` minus one), ``center_`` and
    ``scale_`` (the population's median and robust spread per feature, for :meth:`explain`).
    """

    def __init__(self, n_estimators: int = 100, max_samples: int | float | str = "auto",
                 contamination: str | float = "auto", max_features: int | float = 1.0, random_state: Any = None,
                 n_jobs: int | None = None):
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.contamination = contamination
        self.max_features = max_features
        self.random_state = random_state
        self.n_jobs = n_jobs

    # -- input checks (the scikit-learn estimator replaces them with its own) ---------------------------
    def _input(self, X: Any, dtype: Any, reset: bool) -> np.ndarray:
        """``X`` as a 2-d array of ``dtype``, finite; ``reset``: it sets ``n_features_in_`` (a fit),
        else it must have that many columns."""
        X = np.asarray(X, dtype=dtype)
        if X.ndim != 2 or X.shape[0] < 1 or X.shape[1] < 1:
            raise InvalidArgumentError("X", f"must be a non-empty 2-d array, got shape {X.shape}")
        if not np.isfinite(X).all():
            raise InvalidArgumentError("X", "contains NaN or infinity")
        if reset:
            self.n_features_in_ = X.shape[1]
        elif X.shape[1] != self.n_features_in_:
            raise InvalidArgumentError("X", f"has {X.shape[1]} features, but the forest was fitted on {self.n_features_in_}")
        return X

    def _fitted(self) -> None:
        if not hasattr(self, "nodes_"):
            raise InvalidArgumentError("forest", "not fitted yet: call fit first")

    def _params(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in ("contamination", "max_features", "max_samples", "n_estimators",
                                                       "n_jobs", "random_state")}

    # -- the estimator contract ------------------------------------------------------------------
    def _check_params(self) -> None:
        def is_int(v: Any) -> bool:
            return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))

        if not is_int(self.n_estimators) or self.n_estimators < 1:
            raise InvalidArgumentError("n_estimators", f"must be an integer >= 1, got {self.n_estimators!r}")
        def is_share(v: Any) -> bool:
            return isinstance(v, (float, np.floating)) and 0.0 < v <= 1.0

        m = self.max_samples
        if not ((isinstance(m, str) and m == "auto") or (is_int(m) and m >= 1) or is_share(m)):
            raise InvalidArgumentError("max_samples", f"must be 'auto', an integer >= 1 or a float in (0, 1], got {m!r}")
        f = self.max_features
        if not ((is_int(f) and f >= 1) or is_share(f)):
            raise InvalidArgumentError("max_features", f"must be an integer >= 1 or a float in (0, 1], got {f!r}")
        c = self.contamination
        if not (c == "auto" if isinstance(c, str) else (
                isinstance(c, (int, float, np.floating)) and not isinstance(c, bool) and 0 < c <= 0.5)):
            raise InvalidArgumentError("contamination", f"must be 'auto' or a number in (0, 0.5], got {c!r}")
        r = self.random_state
        if r is not None and not (is_int(r) and r >= 0) and not isinstance(r, (np.random.RandomState, np.random.Generator)):
            raise InvalidArgumentError("random_state", f"must be None, an integer >= 0, a numpy RandomState or "
                                                       f"Generator, got {r!r}")
        if self.n_jobs is not None and (not is_int(self.n_jobs) or self.n_jobs < 1):
            raise InvalidArgumentError("n_jobs", f"must be an integer >= 1 or None, got {self.n_jobs!r}")

    def fit(self, X: Any, y: Any = None, feature_names: Any = None) -> IsolationForest:
        """Grow the forest on the rows of ``X`` (``y`` is ignored); return ``self`` (see :meth:`_fit`).

        ``feature_names`` names the columns of an array (for :meth:`explain` and the model file);
        a DataFrame's columns name themselves."""
        return self._fit(X, POPULATION_SAMPLE, feature_names)

    def _resolve(self, n: int, d: int) -> tuple[int, int, np.random.Generator]:
        """Rows per tree, features per tree and the random generator of a fit on ``n`` rows of ``d`` features."""
        m = self.max_samples
        if isinstance(m, str):  # "auto"
            rows = min(256, n)
        elif isinstance(m, (float, np.floating)):
            rows = max(1, int(m * n))
        else:
            rows = min(int(m), n)
        f = self.max_features
        if isinstance(f, (float, np.floating)):
            feats = max(1, int(f * d))
        else:
            if f > d:
                raise InvalidArgumentError("max_features", f"is {f}, but X has only {d} feature(s)")
            feats = int(f)
        r = self.random_state
        if isinstance(r, np.random.RandomState):  # scikit-learn's way: the fit draws its seed from it
            r = int(r.randint(np.iinfo(np.int32).max))
        elif isinstance(r, np.random.Generator):
            r = int(r.integers(np.iinfo(np.int32).max))
        return rows, feats, np.random.default_rng(r)

    def _fit(self, X: Any, population_sample: int, feature_names: Any = None,
             training_scores: bool = False) -> IsolationForest:
        """Grow the forest on the rows of ``X`` (``y`` is ignored); return ``self``.

        The trees split on the values as ``float32`` (what scoring compares, as scikit-learn's
        trees do). The threshold of a numeric ``contamination`` and the population's medians and
        spreads come from at most :data:`POPULATION_SAMPLE` rows drawn by the seed. With
        ``training_scores``, every training row is scored too: ``decision_scores_`` (PyOD's name:
        the anomaly score, higher is more abnormal) and ``labels_`` (1 for an outlier, else 0).
        """
        self._check_params()
        X64 = self._input(X, np.float64, reset=True)
        X32 = np.ascontiguousarray(X64, dtype=np.float32)
        X = X32.astype(np.float64)
        n, d = X.shape
        self.feature_names_ = self._names(d, feature_names)
        m, f, rng = self._resolve(n, d)
        nodes = _grown(X, int(self.n_estimators), m, f, self.random_state, rng)
        self._set_nodes({k: v for k, v in nodes.items() if k != "depth"}, nodes["depth"])
        self.max_samples_ = m
        self.max_features_ = f
        if n <= population_sample:
            population, pop32 = X64, X32
        else:
            pick = np.sort(rng.choice(n, population_sample, replace=False))
            population, pop32 = X64[pick], X32[pick]
        # scored without checking the input again: it is the training data (no feature-names warning)
        self.offset_ = -0.5 if isinstance(self.contamination, str) else float(
            np.percentile(self._score(pop32), 100.0 * self.contamination))
        self.center_, self.scale_ = _robust_center_scale(population)
        if training_scores:
            self.decision_scores_ = -self._score(X32)
            self.labels_ = (self.decision_scores_ > -self.offset_).astype(np.int64)
            s = self.decision_scores_
            self.score_stats_ = {"min": float(s.min()), "max": float(s.max()), "mean": float(s.mean()),
                                 "std": float(s.std())}
        return self

    def _names(self, d: int, given: Any) -> list[str]:
        """The names of the ``d`` columns: the DataFrame's (``feature_names_in_``), else ``given``, else ``x0``..."""
        names_in = getattr(self, "feature_names_in_", None)
        if names_in is not None:
            if given is not None and [str(n) for n in given] != [str(n) for n in names_in]:
                raise InvalidArgumentError("feature_names", "differ from the DataFrame's columns: give one or the other")
            return [str(n) for n in names_in]
        if given is None:
            return [f"x{i}" for i in range(d)]
        names = [str(n) for n in given]
        if len(names) != d or len(set(names)) != d:
            raise InvalidArgumentError("feature_names", f"must be {d} distinct names (one per column), got {len(names)}")
        return names

    def _set_nodes(self, nodes: dict[str, np.ndarray], depth: np.ndarray) -> None:
        """Keep the trees (``nodes_``, as :func:`grow_forest` returns them) and the tables that scoring walks.

        ``path_lengths_`` is per node; the walk uses the same values laid out by depth
        (:func:`_walk_levels`), so every row walks every tree in the same ``depth.max() - 1``
        steps of a few array operations each, without checking where it stopped.
        """
        self.nodes_ = nodes
        self.path_lengths_ = (depth + average_path_length(nodes["n_node_samples"])) - 1.0
        self._levels, self._leaf_paths = _walk_levels(nodes, self.path_lengths_, depth)

    def _walk(self, X: np.ndarray, out: np.ndarray) -> None:
        """Set ``out`` to the sum over the trees of each row's path length (``X``: C-contiguous ``float32``).

        Rows go through in blocks of :data:`BLOCK_CELLS` rows x trees with scratch arrays made once.
        Each step of the walk is seven array operations over the block: the feature and threshold
        of every cell's node, the cell's value of that feature, the comparison, and the child. The
        path lengths of a row are added up over a (rows x trees) array, as scikit-learn's and the
        earlier walks did, so the sums do not depend on the block size.
        """
        n, d = X.shape
        levels, leaf_paths = self._levels, self._leaf_paths
        n_trees = self.nodes_["node_offsets"].size - 1
        rows = max(1, min(n, BLOCK_CELLS // n_trees))
        node, idx = np.empty((rows, n_trees), np.int64), np.empty((rows, n_trees), np.int64)
        value, threshold = np.empty((rows, n_trees), np.float32), np.empty((rows, n_trees), np.float32)
        right, paths = np.empty((rows, n_trees), bool), np.empty((rows, n_trees))
        row_start = (np.arange(rows, dtype=np.int64) * d)[:, None]  # where each row's values start in the block
        for lo in range(0, n, rows):
            block = X[lo:lo + rows]
            b = block.shape[0]
            if b < rows:
                node, idx, value, threshold, right, paths, row_start = (
                    a[:b] for a in (node, idx, value, threshold, right, paths, row_start))
            if levels:  # the roots: one feature per tree, so a column gather
                feature, thr, first = levels[0]
                np.take(block, feature, axis=1, out=value, mode="wrap")
                np.greater(value, thr, out=right)
                np.add(first, right, out=node)
            else:  # every tree is a single leaf
                node[...] = np.arange(n_trees)
            flat = block.ravel()
            for feature, thr, first in levels[1:]:  # mode="wrap": indices are in range, and it is the fastest
                np.take(feature, node, out=idx, mode="wrap")
                idx += row_start
                np.take(flat, idx, out=value, mode="wrap")
                np.take(thr, node, out=threshold, mode="wrap")
                np.greater(value, threshold, out=right)  # right when the value is above the threshold
                np.take(first, node, out=idx, mode="wrap")
                np.add(idx, right, out=node)
            np.take(leaf_paths, node, out=paths, mode="wrap")
            paths.sum(axis=1, out=out[lo:lo + b])

    def score_samples(self, X: Any) -> np.ndarray:
        """The opposite of the paper's anomaly score: lower is more abnormal (scikit-learn's sign).

        With ``n_jobs`` above 1, contiguous ranges of at least 1,024 rows are walked on up to that
        many threads (NumPy releases the GIL in each step); the scores do not depend on it.
        """
        self._fitted()
        return self._score(self._input(X, np.float32, reset=False))

    def _score(self, X: np.ndarray) -> np.ndarray:
        """:meth:`score_samples` of rows already checked."""
        X = np.ascontiguousarray(X, dtype=np.float32)  # compared with float32 thresholds, as the trees were grown
        n = X.shape[0]
        depths = np.empty(n)
        jobs = min(self.n_jobs or 1, n // _THREAD_MIN_ROWS)
        if jobs > 1:
            bounds = np.linspace(0, n, jobs + 1).astype(int)
            with ThreadPoolExecutor(jobs) as pool:
                list(pool.map(lambda lo, hi: self._walk(X[lo:hi], depths[lo:hi]), bounds[:-1], bounds[1:]))
        else:
            self._walk(X, depths)
        denominator = (self.nodes_["node_offsets"].size - 1) * average_path_length(np.array([self.max_samples_]))
        scores = 2 ** (-np.divide(depths, denominator, out=np.ones_like(depths), where=denominator != 0))
        return -scores

    def decision_function(self, X: Any) -> np.ndarray:
        """``score_samples(X) - offset_``: negative for outliers."""
        return self.score_samples(X) - self.offset_

    def predict(self, X: Any) -> np.ndarray:
        """``-1`` for outliers (``decision_function < 0``), ``1`` for inliers."""
        return np.where(self.decision_function(X) < 0, -1, 1)

    # -- higher is worse: the one place the sign flips -------------------------------------------
    def anomaly_score(self, X: Any) -> np.ndarray:
        """The paper's anomaly score ``s(x, n)`` in ``(0, 1]``: higher is more abnormal (``-score_samples``)."""
        return -self.score_samples(X)

    @property
    def threshold_(self) -> float:
        """The anomaly score above which a row is an outlier (``-offset_``; 0.5 for ``contamination="auto"``)."""
        self._fitted()
        return -self.offset_

    # -- explanations ----------------------------------------------------------------------------
    def feature_names(self) -> list[str]:
        """``feature_names_``: the DataFrame's columns, else the names given to ``fit``, else ``x0``, ``x1``, ..."""
        self._fitted()
        names = getattr(self, "feature_names_", None)
        return list(names) if names is not None else [f"x{i}" for i in range(self.n_features_in_)]

    def zscores(self, X: Any) -> np.ndarray:
        """Robust z-scores ``(x - center_) / scale_`` of every cell."""
        self._fitted()
        X = self._input(X, np.float64, reset=False)
        return (X - self.center_) / self.scale_

    def explain(self, X: Any, top: int = 3, names: list[str] | None = None) -> list[list[dict[str, Any]]]:
        """For each row, the ``top`` features farthest from the training population, most distant first.

        Each is ``{"name", "value", "typical", "z"}``: the row's value, the population's median, and
        the robust z-score (distance from the median in units of the scaled median absolute
        deviation; see ``scale_``). Features at the median are left out; ties go to the earlier feature.
        """
        self._fitted()
        values = self._input(X, np.float64, reset=False)
        z = (values - self.center_) / self.scale_
        names = names or self.feature_names()
        out = []
        for i in range(z.shape[0]):
            order = np.argsort(-np.abs(z[i]), kind="stable")[:top]
            out.append([{"name": names[j], "value": float(values[i, j]), "typical": float(self.center_[j]),
                         "z": float(z[i, j])} for j in order if z[i, j] != 0])
        return out

    # -- save / load -----------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str], extra: dict[str, Any] | None = None) -> None:
        """Write the fitted model to ``path`` (``.npz``): numeric arrays and JSON, never a pickle.

        ``extra`` is any JSON-able metadata kept with the model (the detector stores its feature
        settings there); :meth:`load` gives it back as ``extra_``. The file carries a SHA-256 digest
        of everything in it.
        """
        self._fitted()
        nodes = self.nodes_
        arrays = {
            **{k: nodes[k] for k in ("left", "right", "feature", "threshold", "n_node_samples", "node_offsets")},
            "missing_go_to_left": np.zeros(nodes["left"].size, dtype=np.uint8),  # no missing values: always 0
            "center": self.center_,
            "scale": self.scale_,
        }
        arrays = {k: np.ascontiguousarray(v, dtype=_ARRAYS[k][0]) for k, v in arrays.items()}
        names = getattr(self, "feature_names_in_", None)
        params = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in self._params().items()}
        if isinstance(params.get("random_state"), (np.random.RandomState, np.random.Generator)):
            params["random_state"] = None  # a generator's state is not kept: the trees are
        meta = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "params": params,
            "n_features_in": int(self.n_features_in_),
            "feature_names": None if names is None else [str(n) for n in names],
            "column_names": self.feature_names(),
            "score_stats": getattr(self, "score_stats_", None),
            "max_samples": self.max_samples_,
            "offset": self.offset_,
            "sklearn_version": _sklearn_version(),
            "extra": extra or {},
        }
        meta["sha256"] = _digest(meta, arrays)
        with open(path, "wb") as fh:
            np.savez_compressed(fh, meta=np.array(json.dumps(meta, sort_keys=True)), **arrays)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> IsolationForest:
        """Read a model written by :meth:`save`; raise :class:`ModelFileError` for any other file.

        Nothing is unpickled (``allow_pickle=False``); the digest must match, and every array is
        checked (types, shapes, node links, feature indices) before a tree is rebuilt from it.
        """
        meta, arrays = _read(path)
        try:
            scorer = cls(**meta["params"])
            scorer._check_params()
        except (TypeError, ValueError) as exc:
            raise ModelFileError(path, f"invalid model parameters: {exc}") from None
        d = meta["n_features_in"]
        scorer._set_nodes(*_checked_nodes(path, arrays, d, scorer.n_estimators, meta["max_samples"]))
        scorer.max_samples_ = meta["max_samples"]
        scorer.offset_ = meta["offset"]
        scorer.n_features_in_ = d
        if meta["feature_names"] is not None:
            scorer.feature_names_in_ = np.asarray(meta["feature_names"], dtype=object)
        scorer.feature_names_ = scorer._names(d, meta.get("column_names"))
        f = scorer.max_features
        scorer.max_features_ = max(1, int(f * d)) if isinstance(f, float) else min(int(f), d)
        if meta.get("score_stats") is not None:
            scorer.score_stats_ = meta["score_stats"]
        scorer.center_ = arrays["center"].astype(np.float64)
        scorer.scale_ = arrays["scale"].astype(np.float64)
        scorer.extra_ = meta["extra"]
        return scorer


def _sklearn_version() -> str | None:
    """scikit-learn's version, written into a saved model, without importing scikit-learn."""
    import sys

    mod = sys.modules.get("sklearn")
    if mod is not None:
        return str(mod.__version__)
    from importlib import metadata

    try:
        return metadata.version("scikit-learn")
    except metadata.PackageNotFoundError:
        return None


def _robust_center_scale(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Median and robust spread per column: 1.4826 x MAD, else 1.2533 x mean absolute deviation, else 1."""
    if X.shape[0] == 0:
        return np.zeros(X.shape[1]), np.ones(X.shape[1])
    cols = np.ascontiguousarray(X.T)  # one contiguous row per feature: medians 3-4x faster
    center = np.array([np.median(c) for c in cols])
    dev = np.abs(cols - center[:, None])
    mad = np.array([np.median(c) for c in dev]) * _MAD_TO_SD
    mean_ad = dev.mean(axis=1) * _MEAN_AD_TO_SD
    scale = np.where(mad > 0, mad, np.where(mean_ad > 0, mean_ad, 1.0))
    return center, scale


def _digest(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    body = {k: v for k, v in meta.items() if k != "sha256"}
    h.update(json.dumps(body, sort_keys=True).encode())
    for name in sorted(arrays):
        a = arrays[name]
        h.update(f"\n{name}:{a.dtype.str}:{a.shape}\n".encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


MAX_MODEL_BYTES = 1 << 30
"""Largest model a file may hold once decompressed (1 GiB; 100 trees of 256 rows take about 0.5 MB):
a larger (or zip-bomb) file is refused before anything is decompressed."""

_MAX_META_BYTES = 1 << 20


def _check_sizes(path: str | os.PathLike[str]) -> None:
    """Refuse a file whose members would decompress to more than :data:`MAX_MODEL_BYTES` (or a 'meta' over 1 MB)."""
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except FileNotFoundError:
        raise ModelFileError(path, "no such model file") from None
    except (OSError, zipfile.BadZipFile, ValueError) as exc:
        raise ModelFileError(path, f"not an hrguard model file (expected an .npz written by save): {exc}") from None
    total = sum(i.file_size for i in infos)
    if total > MAX_MODEL_BYTES:
        raise ModelFileError(path, f"refused: the file would decompress to {total:,} bytes, more than the "
                                   f"{MAX_MODEL_BYTES:,} a model may hold (hrguard.analytics._isoforest.MAX_MODEL_BYTES)")
    meta = [i for i in infos if i.filename == "meta.npy"]
    if meta and meta[0].file_size > _MAX_META_BYTES:
        raise ModelFileError(path, f"refused: its 'meta' text is {meta[0].file_size:,} bytes (at most {_MAX_META_BYTES:,})")


def _read(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    _check_sizes(path)
    try:
        npz = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise ModelFileError(path, "no such model file") from None
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise ModelFileError(path, f"not an hrguard model file (expected an .npz written by save): {exc}") from None
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise ModelFileError(path, "not an hrguard model file (expected an .npz written by save)")
    with npz:
        names = set(npz.files)
        want = set(_ARRAYS) | {"meta"}
        if names != want:
            raise ModelFileError(path, f"not an hrguard model file: arrays {sorted(names)}, expected {sorted(want)}")
        try:
            raw = {name: npz[name] for name in sorted(names)}
        except ValueError as exc:  # object arrays need pickle, which is never allowed here
            raise ModelFileError(path, f"refused: the file holds pickled Python objects, which hrguard never "
                                       f"loads ({exc})") from None
        except (OSError, zipfile.BadZipFile, EOFError) as exc:
            raise ModelFileError(path, f"cannot read the model file: {exc}") from None
    meta_arr = raw.pop("meta")
    if meta_arr.dtype.kind != "U" or meta_arr.shape != ():
        raise ModelFileError(path, "not an hrguard model file: 'meta' is not a JSON text")
    try:
        meta = json.loads(str(meta_arr))
    except ValueError as exc:
        raise ModelFileError(path, f"not an hrguard model file: 'meta' is not valid JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(path, f"not an hrguard model file (format {meta.get('format') if isinstance(meta, dict) else None!r})")
    if meta.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(path, f"model format version {meta.get('format_version')!r} is not supported "
                                   f"(this hrguard reads version {FORMAT_VERSION})")
    for name, a in raw.items():
        dtype, ndim = _ARRAYS[name]
        if a.dtype.str != dtype or a.ndim != ndim:
            raise ModelFileError(path, f"array {name!r} has dtype {a.dtype.str} and {a.ndim} dimension(s), "
                                       f"expected {dtype} and {ndim}")
    if meta.get("sha256") != _digest(meta, raw):
        raise ModelFileError(path, "refused: integrity check failed (SHA-256 mismatch): the model was changed "
                                   "after it was saved. Save it again from a fitted model.")
    expect = {"params": dict, "n_features_in": int, "max_samples": int, "offset": float, "extra": dict}
    for key, typ in expect.items():
        value = meta.get(key)
        if not isinstance(value, typ) or isinstance(value, bool) or (typ is float and not np.isfinite(value)):
            raise ModelFileError(path, f"malformed model: {key!r} is {value!r}")
    if meta["n_features_in"] < 1 or not 1 <= meta["max_samples"] < 2**63:
        raise ModelFileError(path, "malformed model: n_features_in must be >= 1 and max_samples in 1..2**63-1")
    names_ = meta.get("feature_names")
    if names_ is not None and (not isinstance(names_, list) or len(names_) != meta["n_features_in"]
                               or not all(isinstance(n, str) for n in names_)):
        raise ModelFileError(path, "malformed model: feature_names does not match n_features_in")
    cols = meta.get("column_names")
    if cols is not None and (not isinstance(cols, list) or len(cols) != meta["n_features_in"]
                             or not all(isinstance(n, str) for n in cols) or len(set(cols)) != len(cols)):
        raise ModelFileError(path, "malformed model: column_names does not match n_features_in")
    if names_ is not None and cols is not None and cols != names_:
        raise ModelFileError(path, "malformed model: column_names differ from feature_names")
    stats = meta.get("score_stats")
    if stats is not None and (not isinstance(stats, dict) or set(stats) != {"min", "max", "mean", "std"} or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) for v in stats.values())):
        raise ModelFileError(path, "malformed model: score_stats must be finite min, max, mean and std")
    return meta, raw


def _checked_nodes(path: Any, a: dict[str, np.ndarray], n_features: int, n_trees: int,
                   max_samples: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The saved trees' node arrays, each checked, and every node's depth (``IsolationForestScorer._set_nodes``).

    No tree may be deeper than :func:`grow_forest` grows one on ``max_samples`` rows: the walk's
    tables hold a pass-through node per level below each leaf, so depth bounds their size.
    """

    def bad(msg: str) -> ModelFileError:
        return ModelFileError(path, f"malformed model: {msg}")

    n_nodes = a["left"].size
    off = a["node_offsets"]
    if any(a[k].size != n_nodes for k in ("right", "feature", "threshold", "n_node_samples", "missing_go_to_left")):
        raise bad("node arrays differ in length")
    if off.size != n_trees + 1 or off[0] != 0 or off[-1] != n_nodes or np.any(np.diff(off) < 1):
        raise bad(f"node_offsets do not describe {n_trees} non-empty trees")
    if a["center"].shape != (n_features,) or a["scale"].shape != (n_features,):
        raise bad("center/scale do not have one value per feature")
    if not (np.all(np.isfinite(a["center"])) and np.all(np.isfinite(a["scale"])) and np.all(a["scale"] > 0)):
        raise bad("center/scale must be finite and scale positive")
    depths = []
    max_depth = _max_depth(max_samples)
    for t in range(n_trees):
        lo, hi = int(off[t]), int(off[t + 1])
        n = hi - lo
        left, right = a["left"][lo:hi], a["right"][lo:hi]
        feat, thr = a["feature"][lo:hi], a["threshold"][lo:hi]
        nns, mgl = a["n_node_samples"][lo:hi], a["missing_go_to_left"][lo:hi]
        idx = np.arange(n)
        leaf = left == -1
        if np.any(leaf != (right == -1)):
            raise bad(f"tree {t}: a node has one child")
        inner = ~leaf
        # children come after their parent (so a walk always ends) and inside the tree; one parent each
        if np.any((left[inner] <= idx[inner]) | (left[inner] >= n) | (right[inner] <= idx[inner]) | (right[inner] >= n)):
            raise bad(f"tree {t}: a child index is out of range")
        kids = np.concatenate([left[inner], right[inner]])
        if np.unique(kids).size != kids.size or (n > 1 and np.any(np.sort(kids) != idx[1:])):
            raise bad(f"tree {t}: nodes are not linked as one tree")
        if np.any((feat[inner] < 0) | (feat[inner] >= n_features)) or not np.all(np.isfinite(thr[inner])):
            raise bad(f"tree {t}: a split names a feature outside 0..{n_features - 1} or a non-finite threshold")
        if np.any(nns < 1) or np.any(mgl > 1):
            raise bad(f"tree {t}: invalid node sample counts or missing-value flags")
        depth = _node_depths(left, right)
        if depth.max() - 1 > max_depth:
            raise bad(f"tree {t} is {int(depth.max())} levels deep; a tree grown on {max_samples} rows has at most "
                      f"{max_depth + 1}")
        depths.append(depth)
    nodes = {k: a[k] for k in ("left", "right", "feature", "threshold", "n_node_samples", "node_offsets")}
    return nodes, np.concatenate(depths)
