"""Detection quality of a ruleset on a synthetic company with ground truth.

    python benchmarks/quality.py                                   # --employees 300 --days 90 --seed 1, ruleset sales
    python benchmarks/quality.py --employees 20 --days 30 --seed 7 --ruleset my-rules.yaml
    python benchmarks/quality.py --data DIR                        # a dataset `hrguard synth` already wrote
    python benchmarks/quality.py --json results/quality.json      # also write the figures as JSON

Generates the dataset with ``hrguard.synth`` (into ``--data`` when given, else a temporary folder),
scans it with the ruleset, and prints, per scenario, employee-level recall and the median time to
detect; the false-alarm rate (honest employees with a finding of severity medium or above); how often
each kind of honest noise raised such a finding; and each rule's precision. The figures are defined
in ``hrguard.quality`` (``evaluate``), which notebooks can call on any scan result and labels.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import hrguard
from hrguard.quality import evaluate, load_labels, load_roster
from hrguard.synth import SynthConfig, write_dataset


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--employees", type=int, default=300)
    p.add_argument("--days", type=int, default=90)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--ruleset", default="sales", help="ruleset path or bundled name (default: sales)")
    p.add_argument("--data", metavar="DIR",
                   help="dataset folder: used as it is when it holds events.jsonl, else generated into it")
    p.add_argument("--grace", default="14d", help="how long after a label's end a finding still counts (default 14d)")
    p.add_argument("--min-severity", default="medium", help="severity that makes a false alarm (default medium)")
    p.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    args = p.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(args.data) if args.data else Path(tmp)
        if not (data / "events.jsonl").is_file():
            cfg = SynthConfig(employees=args.employees, days=args.days, seed=args.seed)
            res = write_dataset(data, cfg)
            what = f"hrguard synth --employees {cfg.employees} --days {cfg.days} --seed {cfg.seed}"
            print(f"Generated {what}: {res.events:,} events, {res.labels} labels ({res.seconds:.1f} s)")
        else:
            meta_file = data / "meta.json"
            meta = json.loads(meta_file.read_text(encoding="utf-8")) if meta_file.is_file() else {}
            c = meta.get("config", {})
            what = f"{data} (employees {c.get('employees', '?')}, days {c.get('days', '?')}, seed {c.get('seed', '?')})"
            print(f"Dataset {what}")
        t1 = time.perf_counter()
        result = hrguard.scan(data / "events.jsonl", args.ruleset)
        t2 = time.perf_counter()
        roster = load_roster(data) if (data / "meta.json").is_file() else None
        report = evaluate(result, load_labels(data), roster, grace=args.grace, min_severity=args.min_severity)
        s = result.summary()
        print(f"Scanned with ruleset {result.ruleset}: {s['valid']:,} valid events, {s['rejected']} rejected, "
              f"{s['findings']:,} findings ({t2 - t1:.1f} s)\n")
        sys.stdout.write(report.render())
        auc = employee_auc(data / "events.jsonl", args.ruleset, load_labels(data), roster)
        if auc is not None:
            print(f"\nEmployee-level ROC AUC of {auc['rule']} (each sales rep's highest anomaly score minus the threshold "
                  f"judging it, over every judgement of a stream):\n  {auc['auc']:.3f} for {auc['positives']} misbehaving "
                  f"reps against {auc['negatives']} honest ones ({auc['auc_all']:.3f} counting unsettled_termination, "
                  f"where the company is at fault)")
        if args.json:
            doc = {"dataset": what, "ruleset": result.ruleset, "events": s["valid"], "rejected": s["rejected"],
                   **report.to_dict(), "employee_auc": auc}
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    return 0 if s["rejected"] == 0 else 1


def _auc(pos: list[float], neg: list[float]) -> float:
    """ROC AUC: the chance a positive outscores a negative (ties count half)."""
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def employee_auc(events: Path, ruleset: str, labels: list, roster: dict | None) -> dict | None:
    """Employee-level ROC AUC of the ruleset's ``outlier.isolation_forest`` rule: every sales rep's highest
    margin (anomaly score minus threshold) over the rule's judgements, read from the detector after a
    stream over the events (a stream's findings are a scan's). Reps never judged rank lowest."""
    rs = hrguard.load_ruleset(ruleset)
    rule = next((r for r in rs.rules if r.use == "outlier.isolation_forest"), None)
    if rule is None or roster is None:
        return None
    stream = hrguard.Stream(rs, batch=50_000)
    with open(events, encoding="utf-8") as f:
        stream.push_many(json.loads(line) for line in f)
    stream.advance_to(stream.clock)
    peaks: dict[str, float] = {}
    for entries in stream.runner.instances.values():
        for r, det in entries:
            if r.name == rule.name:
                peaks.update(det.peaks)
    low = min(peaks.values(), default=0.0) - 1
    bad: dict[str, set[str]] = {}
    for lab in labels:
        if lab.kind == "misconduct":
            bad.setdefault(lab.employee_id, set()).add(lab.scenario)
    reps = [e for e, role in roster.items() if role == "sales"]
    neg = [peaks.get(e, low) for e in reps if e not in bad]
    pos = [peaks.get(e, low) for e in reps if bad.get(e, set()) - {"unsettled_termination"}]
    pos_all = [peaks.get(e, low) for e in reps if e in bad]
    return {"rule": rule.name, "auc": round(_auc(pos, neg), 4), "auc_all": round(_auc(pos_all, neg), 4),
            "positives": len(pos), "negatives": len(neg)}


if __name__ == "__main__":
    sys.exit(main())
