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
  scale is ``-offset_`` (``0.5`` for ``contamination="auto"``).
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

from ..errors import MissingExtraError, ModelFileError
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

try:
    from sklearn.utils.validation import validate_data
except ImportError:  # pragma: no cover - scikit-learn < 1.6

    def validate_data(estimator: Any, X: Any, **kw: Any) -> Any:
        return estimator._validate_data(X, **kw)

__all__ = ["IsolationForestScorer", "ModelFileError", "average_path_length"]


class IsolationForestScorer(OutlierMixin, BaseEstimator, IsolationForest):
    """Isolation Forest anomaly scores for the rows of any numeric matrix, as a scikit-learn estimator.

    The forest, its parameters (scikit-learn's :class:`~sklearn.ensemble.IsolationForest` ones) and
    its learned attributes are :class:`hrguard.analytics.IsolationForest`'s, inherited with its
    ``__init__``; this class adds scikit-learn's estimator contract and input checks.
    """

    def fit(self, X: Any, y: Any = None) -> IsolationForestScorer:
        """Grow the forest on the rows of ``X`` (``y`` is ignored); return ``self``.

        The trees split on the values as ``float32`` (what scoring compares, as scikit-learn's
        trees do). The threshold of a numeric ``contamination`` and the population's medians and
        spreads come from at most :data:`POPULATION_SAMPLE` rows drawn by the seed.
        """
        return self._fit(X, POPULATION_SAMPLE)  # type: ignore[return-value]  # (this module's: tests patch it)

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
