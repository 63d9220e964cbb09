"""Isolation Forest scoring on any feature matrix, as a scikit-learn estimator (the ``ml`` extra).

:class:`IsolationForestScorer` follows scikit-learn's estimator contract: keyword parameters are
stored unchanged in ``__init__``, checked in :meth:`~IsolationForestScorer.fit`, ``fit`` returns
``self``, learned attributes end in ``_``, and :meth:`~IsolationForestScorer.score_samples` is
lower for more abnormal rows, with :class:`sklearn.ensemble.IsolationForest`'s parameters, formula
and sign. It grows the forest itself, every tree of it at once, one level at a time in NumPy
(:func:`grow_forest`), where scikit-learn builds the same kind of trees one by one through a cloned
estimator each. Scoring walks every tree at once, one depth at a time, over tables laid out by
depth (:func:`_walk_levels`) in blocks that stay in cache. On the six ODDS sets with 100 trees of
256 rows, fitting was 3-9x and one-thread ``score_samples`` 1.3-3.9x faster than scikit-learn's
(``benchmarks/forest_scoring.py``, figures in ``docs/outlier.md``). The scores are not
scikit-learn's bit for bit (other random draws) but have the same expectation, and the ODDS
reproduction (``tests/test_odds.py``) holds. Its additions:

- :meth:`~IsolationForestScorer.anomaly_score` is the one place the sign flips: the paper's score
  ``s(x, n)`` in ``(0, 1]``, higher is more abnormal (``-score_samples``); the threshold on that
  scale is ``threshold_`` = ``-offset_`` (``0.5`` for ``contamination="auto"``).
- PyOD's names, with PyOD's meaning, on that higher-is-worse scale: ``decision_scores_`` (the
  training rows' anomaly scores), ``threshold_``, ``labels_`` (``1`` for a training outlier, ``0``
  otherwise) and :meth:`~IsolationForestScorer.predict_proba`. ``decision_function`` and ``predict``
  keep scikit-learn's sign (negative, ``-1``: an outlier), because the estimator is scikit-learn's;
  the three agree: ``anomaly_score(X) > threshold_`` iff ``decision_function(X) < 0`` iff
  ``predict(X) == -1``.
- :meth:`~IsolationForestScorer.explain` names the features that set each row apart most, by robust
  z-score against the training population's median and scaled median absolute deviation.
- :meth:`~IsolationForestScorer.save` / :meth:`~IsolationForestScorer.load` write and read the fitted
  trees as plain numeric arrays in an ``.npz`` file with a SHA-256 digest: loading never unpickles
  anything, refuses a file changed after it was saved, and checks every array before use.

Importing this module without scikit-learn raises :class:`hrguard.MissingExtraError` naming the
``ml`` extra.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InvalidArgumentError, MissingExtraError, ModelFileError
from ._isoforest import (  # noqa: F401 - public names this module has always had
    BLOCK_CELLS,
    FORMAT,
    FORMAT_VERSION,
    POPULATION_SAMPLE,
    IsolationForest,
    average_path_length,
    grow_forest,
)

try:
    import sklearn  # noqa: F401
    from sklearn.base import BaseEstimator, OutlierMixin
    from sklearn.utils.validation import check_is_fitted
except ImportError as exc:  # pragma: no cover - exercised by monkeypatching the import in tests
    raise MissingExtraError("scikit-learn", "ml") from exc
from ._isoforest import MAX_MODEL_BYTES  # noqa: E402 - after the extra's check, like the estimator

try:
    from sklearn.utils.validation import validate_data
except ImportError:  # pragma: no cover - scikit-learn < 1.6

    def validate_data(estimator: Any, X: Any, **kw: Any) -> Any:
        return estimator._validate_data(X, **kw)

__all__ = ["MAX_MODEL_BYTES", "IsolationForestScorer", "ModelFileError", "average_path_length"]


class IsolationForestScorer(OutlierMixin, BaseEstimator, IsolationForest):
    """Isolation Forest anomaly scores for the rows of any numeric matrix, as a scikit-learn estimator.

    The forest, its parameters (scikit-learn's :class:`~sklearn.ensemble.IsolationForest` ones) and
    its learned attributes are :class:`hrguard.analytics.IsolationForest`'s, inherited with its
    ``__init__``; this class adds scikit-learn's estimator contract and input checks.
    """

    def fit(self, X: Any, y: Any = None, feature_names: Any = None) -> IsolationForestScorer:
        """Grow the forest on the rows of ``X`` (``y`` is ignored); return ``self``.

        The trees split on the values as ``float32`` (what scoring compares, as scikit-learn's
        trees do). The threshold of a numeric ``contamination`` and the population's medians and
        spreads come from at most :data:`POPULATION_SAMPLE` rows drawn by the seed. Every training
        row is then scored once, for PyOD's ``decision_scores_`` and ``labels_``.

        A DataFrame's columns are its feature names (``feature_names_in_``, checked by scikit-learn
        on every later call); ``feature_names`` names an array's columns for :meth:`explain` and the
        model file without that check (``feature_names_``).
        """
        return self._fit(X, POPULATION_SAMPLE, feature_names,  # type: ignore[return-value]
                         training_scores=True)  # (this module's POPULATION_SAMPLE: tests patch it)

    def predict_proba(self, X: Any, method: str = "linear") -> Any:
        """PyOD's outlier probability: column 0 inlier, column 1 outlier, each row summing to 1.

        ``method="linear"`` (PyOD's default) scales the anomaly score min-max over the training
        rows' scores (``decision_scores_``) and clips it to ``[0, 1]``; ``"unify"`` is Kriegel et
        al.'s ``erf((score - mean) / (std * sqrt(2)))`` over them, clipped at 0. Neither is
        calibrated: column 1 above 0.5 is *not* the threshold (use :meth:`predict` or
        ``threshold_``), as in PyOD. After :meth:`load`, the training scores' minimum, maximum,
        mean and spread come from the file (``score_stats_``).
        """
        check_is_fitted(self, "score_stats_")
        s = self.anomaly_score(X)
        st = self.score_stats_
        if method == "linear":
            span = st["max"] - st["min"]
            p = np.clip((s - st["min"]) / span, 0.0, 1.0) if span > 0 else np.where(s > st["max"], 1.0, 0.0)
        elif method == "unify":
            from scipy.special import erf

            p = np.clip(erf((s - st["mean"]) / (max(st["std"], 1e-12) * np.sqrt(2.0))), 0.0, 1.0)
        else:
            raise InvalidArgumentError("method", f"must be 'linear' or 'unify', got {method!r}")
        return np.column_stack([1.0 - p, p])

    # scikit-learn's input checks and parameters in place of the plain forest's
    def _input(self, X: Any, dtype: Any, reset: bool) -> Any:
        return validate_data(self, X, dtype=dtype, reset=reset)

    def _fitted(self) -> None:
        check_is_fitted(self)

    def _params(self) -> dict[str, Any]:
        return self.get_params()

    @classmethod
    def load(cls, path: Any) -> IsolationForestScorer:
        """Read a model written by :meth:`save`; raise :class:`ModelFileError` for any other file.

        Nothing is unpickled (``allow_pickle=False``); the digest must match, and every array is
        checked (types, shapes, node links, feature indices) before a tree is rebuilt from it.
        """
        return super().load(path)  # type: ignore[return-value]

    def __sklearn_tags__(self):  # noqa: ANN204 - scikit-learn's Tags
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags
