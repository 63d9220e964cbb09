"""What hrguard's Isolation Forest scorer costs over calling scikit-learn directly.

    python benchmarks/outlier_overhead.py [--rows 100000] [--repeat 5] [--json results.json]

Fits and scores ``--rows`` vectors of 17 features (the size of hrguard's feature set; from the
synthetic benchmark log when ``benchmarks/data`` has one, else random) with
``sklearn.ensemble.IsolationForest`` and with ``hrguard.ml.IsolationForestScorer`` (same
parameters: 100 trees, subsample 256, seed 0), and prints the medians per 100k vectors and the
ratios (scorer / scikit-learn). The scorer grows all trees at once in NumPy and also computes the
population's median and spread (for explanations) from a bounded sample; it scores by walking all
trees at once over flat node arrays, optionally split over threads (``n_jobs``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from sklearn.ensemble import IsolationForest  # noqa: E402

from hrguard.ml import IsolationForestScorer  # noqa: E402


def vectors(rows: int) -> tuple[np.ndarray, str]:
    data = sorted((Path(__file__).parent / "data").glob("events-100000-*.jsonl"))
    if data:
        from hrguard.features import build_features

        X = build_features(str(data[0]), timezone="Asia/Shanghai").X
        reps = -(-rows // X.shape[0])
        rng = np.random.default_rng(0)  # tile the real vectors, with a little noise so rows differ
        X = np.tile(X, (reps, 1))[:rows] * rng.uniform(0.95, 1.05, size=(rows, X.shape[1]))
        return X, f"{data[0].name} feature vectors, tiled to {rows} rows"
    return np.random.default_rng(0).normal(size=(rows, 17)), f"random normal, {rows} x 17"


def median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", metavar="PATH", help="also write the figures to this JSON file")
    args = ap.parse_args()
    X, what = vectors(args.rows)
    per = 100_000 / args.rows
    sk = IsolationForest(n_estimators=100, max_samples=256, random_state=0).fit(X)
    ours = IsolationForestScorer(n_estimators=100, max_samples=256, random_state=0).fit(X)
    ours2 = IsolationForestScorer(n_estimators=100, max_samples=256, random_state=0, n_jobs=2).fit(X)
    # the same algorithm, other random draws: the scores agree closely, not bit for bit
    assert np.corrcoef(sk.score_samples(X), ours.score_samples(X))[0, 1] > 0.9, "the scores must track scikit-learn's"
    res = {
        "fit_sklearn_s": median_time(lambda: IsolationForest(n_estimators=100, max_samples=256, random_state=0).fit(X), args.repeat),
        "fit_hrguard_s": median_time(lambda: IsolationForestScorer(n_estimators=100, max_samples=256, random_state=0).fit(X), args.repeat),
        "score_sklearn_s": median_time(lambda: sk.score_samples(X), args.repeat),
        "score_hrguard_s": median_time(lambda: ours.score_samples(X), args.repeat),
        "score_hrguard_2_threads_s": median_time(lambda: ours2.score_samples(X), args.repeat),
    }
    res = {k: v * per for k, v in res.items()}
    print(f"data: {what}; medians of {args.repeat} runs, seconds per 100k vectors")
    print(f"{'':24}{'scikit-learn':>14}{'hrguard':>10}{'ratio':>8}")
    print(f"{'fit':24}{res['fit_sklearn_s']:14.3f}{res['fit_hrguard_s']:10.3f}{res['fit_hrguard_s'] / res['fit_sklearn_s']:8.2f}")
    print(f"{'score_samples':24}{res['score_sklearn_s']:14.3f}{res['score_hrguard_s']:10.3f}"
          f"{res['score_hrguard_s'] / res['score_sklearn_s']:8.2f}")
    print(f"{'score_samples, n_jobs=2':24}{res['score_sklearn_s']:14.3f}{res['score_hrguard_2_threads_s']:10.3f}"
          f"{res['score_hrguard_2_threads_s'] / res['score_sklearn_s']:8.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": args.rows, "data": what, "repeat": args.repeat, **res}, indent=2) + "\n")


if __name__ == "__main__":
    main()
