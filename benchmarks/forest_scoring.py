"""Isolation Forest scoring and fitting speed: hrguard's scorer against scikit-learn's, on the six ODDS sets.

    python benchmarks/forest_scoring.py [--repeat 7] [--sets shuttle,pima] [--modes 1,default,2]
                                        [--odds DIR] [--out benchmarks/results/forest_scoring.json]

For each ODDS set (``../shared/extdata/odds``, see its README) both libraries fit a forest of the
same size (``--n-estimators`` 100 trees, ``--max-samples`` 256 rows each: the paper's settings, seed
0) on the whole set, then ``score_samples`` scores the whole set. Scoring is timed in three modes:

- ``1``: one thread each (``threadpoolctl`` limits native pools to 1; hrguard ``n_jobs=1``;
  scikit-learn's default, which scores its trees one after the other);
- ``default``: both as constructed without ``n_jobs``, outside any thread limit (what a user gets);
- ``2``: two threads each (hrguard ``n_jobs=2``; scikit-learn in ``joblib.parallel_backend("threading",
  n_jobs=2)``, the way its ``score_samples`` docstring says to parallelise).

The two libraries alternate within every repeat (which goes first alternates too), so load from
other processes on a shared machine hits both alike; the figures are medians of ``--repeat`` wall
times after one warm-up call each. The ratio is hrguard's speed over scikit-learn's (above 1:
hrguard is faster). Peak memory is the most ``tracemalloc`` saw allocated at once during one
untimed call (NumPy's buffers included), beyond the input. The CPU ratio is the same ratio of
median process CPU times: on a machine shared with other jobs it moves less than wall time, but
it counts both threads' work in mode ``2``. Fit times are medians of
``--fit-repeat`` fits. AUCs show both forests find the same outliers (the data's ``y``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import tracemalloc
from contextlib import nullcontext
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import sklearn  # noqa: E402
from joblib import parallel_backend  # noqa: E402
from sklearn.ensemble import IsolationForest  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from hrguard.ml import IsolationForestScorer  # noqa: E402

HERE = Path(__file__).resolve().parent
ODDS = HERE.parent.parent / "shared" / "extdata" / "odds"
SETS = ["shuttle", "annthyroid", "pima", "breastw", "arrhythmia", "ionosphere"]
MODES = {  # mode: (hrguard n_jobs, a context for scikit-learn's call, a context for both)
    "1": (1, nullcontext, lambda: threadpool_limits(1)),
    "default": (None, nullcontext, nullcontext),
    "2": (2, lambda: parallel_backend("threading", n_jobs=2), nullcontext),
}


def alternate(ours, theirs, repeat: int) -> tuple[tuple[float, float], tuple[float, float]]:
    """Median (wall, CPU) seconds of ``ours()`` and of ``theirs()``, run in turn (one warm-up call each)."""
    ours(), theirs()
    a, b = [], []
    for r in range(repeat):
        for fn, times in ((ours, a), (theirs, b)) if r % 2 == 0 else ((theirs, b), (ours, a)):
            t, c = time.perf_counter(), time.process_time()
            fn()
            times.append((time.perf_counter() - t, time.process_time() - c))
    return tuple(tuple(statistics.median(x) for x in zip(*times)) for times in (a, b))  # type: ignore[return-value]


def peak_mb(fn) -> float:
    """The most memory allocated at once while ``fn()`` runs, in MB (``tracemalloc``)."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


def bench_set(name: str, args: argparse.Namespace) -> dict:
    with np.load(Path(args.odds) / f"{name}.npz", allow_pickle=False) as d:
        X, y = d["X"], d["y"].ravel()
    size = {"n_estimators": args.n_estimators, "max_samples": args.max_samples, "random_state": 0}
    (fit_ours, _), (fit_theirs, _) = alternate(lambda: IsolationForestScorer(**size).fit(X),
                                               lambda: IsolationForest(**size).fit(X), args.fit_repeat)
    ours, theirs = IsolationForestScorer(**size).fit(X), IsolationForest(**size).fit(X)
    out = {"set": name, "rows": int(X.shape[0]), "columns": int(X.shape[1]),
           "auc": {"hrguard": float(roc_auc_score(y, -ours.score_samples(X))),
                   "sklearn": float(roc_auc_score(y, -theirs.score_samples(X)))},
           "fit_s": {"hrguard": fit_ours, "sklearn": fit_theirs, "ratio": fit_theirs / fit_ours},
           "score": {}}
    for mode in args.modes:
        jobs, sk_context, both_context = MODES[mode]
        ours.set_params(n_jobs=jobs)

        def score_ours() -> None:
            ours.score_samples(X)

        def score_theirs() -> None:
            with sk_context():
                theirs.score_samples(X)

        with both_context():
            (a, a_cpu), (b, b_cpu) = alternate(score_ours, score_theirs, args.repeat)
            mem = {"hrguard": peak_mb(score_ours), "sklearn": peak_mb(score_theirs)}
        n = X.shape[0]
        out["score"][mode] = {"hrguard_rows_per_s": n / a, "sklearn_rows_per_s": n / b, "ratio": b / a,
                              "cpu_ratio": b_cpu / a_cpu, "hrguard_s": a, "sklearn_s": b, "hrguard_cpu_s": a_cpu,
                              "sklearn_cpu_s": b_cpu, "peak_mb": mem}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", default=",".join(SETS), help="comma-separated ODDS set names")
    ap.add_argument("--modes", default=",".join(MODES), help="comma-separated scoring modes: 1, default, 2")
    ap.add_argument("--repeat", type=int, default=7, help="timed scoring calls per library and mode")
    ap.add_argument("--fit-repeat", type=int, default=5, help="timed fits per library")
    ap.add_argument("--n-estimators", type=int, default=100)
    ap.add_argument("--max-samples", type=int, default=256)
    ap.add_argument("--odds", default=str(ODDS), help="folder of the ODDS .npz files")
    ap.add_argument("--out", default=str(HERE / "results" / "forest_scoring.json"), help="JSON output ('' for none)")
    args = ap.parse_args()
    args.modes = args.modes.split(",")
    if unknown := set(args.modes) - set(MODES):
        ap.error(f"unknown modes {sorted(unknown)}; known: {list(MODES)}")
    if not Path(args.odds).is_dir():
        sys.exit(f"no ODDS data in {args.odds}: see ../shared/extdata/README.md")
    env = {"python": platform.python_version(), "numpy": np.__version__, "sklearn": sklearn.__version__,
           "cpus": os.cpu_count(), "machine": platform.machine(), "load_before": os.getloadavg()[0]}
    print(f"{args.n_estimators} trees, max_samples {args.max_samples}; medians of {args.repeat} alternating calls; "
          f"Python {env['python']}, NumPy {env['numpy']}, scikit-learn {env['sklearn']}, {env['cpus']} CPUs, "
          f"load {env['load_before']:.1f}")
    header = (f"{'set':11} {'rows x cols':>12} {'threads':>8} {'hrguard rows/s':>15} {'sklearn rows/s':>15} "
              f"{'ratio':>6} {'CPU ratio':>9} {'peak MB hr/sk':>14}")
    print(header)
    results = []
    for name in args.sets.split(","):
        r = bench_set(name, args)
        results.append(r)
        for mode, s in r["score"].items():
            print(f"{name:11} {r['rows']:>6} x {r['columns']:<4} {mode:>8} {s['hrguard_rows_per_s']:15,.0f} "
                  f"{s['sklearn_rows_per_s']:15,.0f} {s['ratio']:6.2f} {s['cpu_ratio']:9.2f} {s['peak_mb']['hrguard']:6.1f} / "
                  f"{s['peak_mb']['sklearn']:.1f}", flush=True)
    print(f"\n{'set':11} {'hrguard fit s':>14} {'sklearn fit s':>14} {'ratio':>6} {'AUC hr':>7} {'AUC sk':>7}")
    for r in results:
        f = r["fit_s"]
        print(f"{r['set']:11} {f['hrguard']:14.4f} {f['sklearn']:14.4f} {f['ratio']:6.1f} "
              f"{r['auc']['hrguard']:7.3f} {r['auc']['sklearn']:7.3f}")
    env["load_after"] = os.getloadavg()[0]
    worst = {m: min(r["score"][m]["ratio"] for r in results) for m in args.modes}
    print("\nslowest ratio per mode (hrguard speed / scikit-learn speed): "
          + ", ".join(f"{m}: {v:.2f}" for m, v in worst.items()))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps({"config": {k: v for k, v in vars(args).items() if k != "odds"},
                                              "environment": env, "sets": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
