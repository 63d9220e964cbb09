"""Where the ``outlier.isolation_forest`` rule's CPU goes in a batch scan: feature building, fits, scoring.

    python benchmarks/forest_cost.py                       # the 100k log, the sales ruleset's forest rule
    python benchmarks/forest_cost.py --events 1000000 --repeat 3

Scans a generated log (``gen_events.py``, cached in ``benchmarks/data/``) with only the forest rule
of ``--ruleset`` (its parameters unchanged), timing in CPU seconds (``time.process_time``) what the
rule spends in :class:`hrguard.features.FeatureBuilder` (``add``: folding each chunk into the open
periods; ``close``: handing out the ended periods' vectors), in fitting the scorer, and in judging
(``score_samples`` and ``explain``). Prints medians of ``--repeat`` runs, each in a fresh process, as
JSON (and the minimum of each, the figure least disturbed by other work on a shared machine);
``--profile`` also prints a cProfile of the feature building (one run).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
RULE = "outlier.isolation_forest"


def _forest_ruleset(ruleset: str) -> dict[str, Any]:
    import yaml

    import hrguard

    path = Path(ruleset)
    if not path.is_file():
        path = Path(hrguard.__file__).parent / "rulesets" / f"{ruleset}.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc["rules"] = [r for r in doc["rules"] if r.get("use") == RULE]
    return doc


def work(path: str, ruleset: str, profile: bool) -> dict[str, Any]:
    import hrguard
    from hrguard import features, ml

    cpu = time.process_time
    spent: dict[str, float] = {}
    calls: dict[str, int] = {}

    def timed(owner: Any, attr: str, label: str) -> None:
        orig = getattr(owner, attr)

        def wrapper(*args: Any, **kw: Any) -> Any:
            t = cpu()
            try:
                return orig(*args, **kw)
            finally:
                spent[label] = spent.get(label, 0.0) + cpu() - t
                calls[label] = calls.get(label, 0) + 1

        setattr(owner, attr, wrapper)

    timed(features.FeatureBuilder, "add", "features_add")
    timed(features.FeatureBuilder, "close", "features_close")
    timed(ml.IsolationForestScorer, "fit", "fit")
    timed(ml.IsolationForestScorer, "score_samples", "score")
    timed(ml.IsolationForestScorer, "explain", "explain")
    rs = hrguard.load_ruleset(_forest_ruleset(ruleset))
    prof = None
    if profile:
        import cProfile

        prof = cProfile.Profile()
        orig_add, orig_close = features.FeatureBuilder.add, features.FeatureBuilder.close

        def add(self: Any, chunk: Any) -> None:
            prof.enable()
            try:
                orig_add(self, chunk)
            finally:
                prof.disable()

        def close(self: Any, upto: int) -> Any:
            prof.enable()
            try:
                return orig_close(self, upto)
            finally:
                prof.disable()

        features.FeatureBuilder.add, features.FeatureBuilder.close = add, close
    t = cpu()
    res = hrguard.scan(path, rs)
    total = cpu() - t
    out = {"scan_cpu_s": total, "findings": len(res.findings), **{f"{k}_cpu_s": v for k, v in spent.items()},
           "calls": calls}
    out["features_cpu_s"] = spent.get("features_add", 0.0) + spent.get("features_close", 0.0)
    if prof is not None:
        import io
        import pstats

        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(25)
        out["profile"] = buf.getvalue()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--file", help="a JSON Lines file instead of a generated log")
    ap.add_argument("--ruleset", default="sales")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--profile", action="store_true", help="print a cProfile of the feature building (one run)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(work(*json.loads(args.worker))))
        return 0
    if args.file:
        path = args.file
    else:
        from throughput import ensure_data

        path = str(ensure_data(args.events, args.seed))

    def one(profile: bool) -> dict[str, Any]:
        cmd = [sys.executable, __file__, "--worker", json.dumps([path, args.ruleset, profile])]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, PYTHONHASHSEED="0"))
        if proc.returncode:
            raise RuntimeError(proc.stderr)
        return json.loads(proc.stdout.strip().splitlines()[-1])

    if args.profile:
        print(one(True).pop("profile"))
    runs = [one(False) for _ in range(args.repeat)]
    keys = [k for k in runs[0] if k.endswith("_cpu_s")]
    summary = {"file": Path(path).name, "runs": args.repeat, "findings": runs[0]["findings"], "calls": runs[0]["calls"],
               **{k: round(statistics.median(r[k] for r in runs), 3) for k in keys},
               "min": {k: round(min(r[k] for r in runs), 3) for k in keys}}
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
