"""The notebook sweep before and after reading the events once: the same table, and the time ratio.

    python benchmarks/sweep_speed.py                   # 8 radii of geofence.mismatch on ~44k events
    python benchmarks/sweep_speed.py --employees 40 --days 42 --n-jobs 2
    python benchmarks/sweep_speed.py --rule forest     # 8 contaminations of the sales ruleset's forest

"Before" is what ``hrguard.notebook.sweep`` did until it read the events once: one single-rule scan
(``Engine.scan``: read, validate, order, judge) per value, then the evaluation. "After" is today's
``nb.sweep``: read and validate once, judge each single-rule variant on that frame. Both run on the
same JSON Lines file of a synthetic company (``hrguard.synth``, written to a temporary folder; or
its events as a list of dicts with ``--input list``), in
this process, alternating, ``--repeat`` times; the script checks that the two tables agree (every
column but the timings) and prints the medians and the ratio as JSON, also written to
``benchmarks/results/sweep_speed.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import hrguard
from hrguard import notebook as nb
from hrguard import quality
from hrguard.synth import write_dataset

HERE = Path(__file__).resolve().parent


def before(path: str | list, rs: hrguard.Ruleset, rule: str, param: str, values: list, labels: list, roster: set) -> list:
    """The sweep as it was: one full single-rule scan per value."""
    rows = []
    use = rs.rule(rule).use
    for v in values:
        rv = rs.with_params(rule, **{param: v})
        rv = dataclasses.replace(rv, rules=(rv.rule(rule),))
        res = rs.engine.scan(path, rv)
        report = quality.evaluate(res.findings, labels, roster, grace="14d", min_severity="info", rules={rule: use})
        r = next(x for x in report.every_rule if x.rule == rule)
        rows.append({"value": v, "alerts": r.findings, "true_alerts": r.true_findings, "detected": r.detected,
                     "flagged_honest": r.flagged_honest})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--employees", type=int, default=80)
    ap.add_argument("--days", type=int, default=70)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--n-jobs", type=int, default=1)
    ap.add_argument("--input", choices=["file", "list"], default="file",
                    help="the events as the JSON Lines file's path, or as a list of dicts read from it")
    ap.add_argument("--rule", choices=["geofence", "forest"], default="geofence")
    ap.add_argument("--out", default=None, help="default: benchmarks/results/sweep_speed[-forest].json")
    args = ap.parse_args()
    if args.rule == "geofence":
        rule, param, values = "geofence.mismatch", "radius_m", [100, 200, 300, 500, 800, 1200, 2000, 3000]
    else:
        rule, param, values = "outlier.isolation_forest", "contamination", [0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, "auto"]
    out_path = args.out or str(HERE / "results" / ("sweep_speed.json" if args.rule == "geofence" else "sweep_speed-forest.json"))
    with tempfile.TemporaryDirectory() as tmp:
        made = write_dataset(tmp, employees=args.employees, days=args.days, seed=args.seed)
        path = os.path.join(tmp, "events.jsonl")
        if args.input == "list":
            with open(path, encoding="utf-8") as fh:
                path = [json.loads(line) for line in fh]
        labels = nb.load_labels(tmp)
        roster = set(json.loads(Path(tmp, "meta.json").read_text())["roster"])
        rs = hrguard.load_ruleset("sales")
        old_s, new_s = [], []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            old = before(path, rs, rule, param, values, labels, roster)
            old_s.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            new = nb.sweep(path, rs, rule, param, values, tmp, n_jobs=args.n_jobs, progress=False, as_frame=False)
            new_s.append(time.perf_counter() - t0)
        same = [{k: r[k] for k in old[0]} for r in new] == old
        if not same:
            sys.exit(f"the tables differ:\nbefore {old}\nafter  {new}")
    b, a = statistics.median(old_s), statistics.median(new_s)
    out = {"events": made.events, "rule": rule, "param": param, "values": values, "repeat": args.repeat,
           "n_jobs": args.n_jobs, "input": args.input, "before_s": round(b, 2), "after_s": round(a, 2), "ratio": round(b / a, 2),
           "before_runs_s": [round(x, 2) for x in old_s], "after_runs_s": [round(x, 2) for x in new_s],
           "same_table": same, "cpus": os.cpu_count(), "python": sys.version.split()[0]}
    print(json.dumps(out, indent=2))
    Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    Path(out_path).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
