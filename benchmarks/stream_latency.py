"""Per-push latency of a whole ``Stream`` run: the slowest pushes, and which rule made them slow.

    python benchmarks/stream_latency.py                         # the 100k log, sales, in file order
    python benchmarks/stream_latency.py --events 100000 --sorted --lateness 0s --check

``throughput.py``'s ``stream`` part times a window of pushes after a warm-up; this pushes *every*
event of a generated log (``gen_events.py``, cached in ``benchmarks/data/``), so it sees every
period end of the ``outlier.isolation_forest`` rule (where its refits and scoring used to run).
It reports p50/p90/p99/p99.9/max of the wall-clock and the thread's CPU time per push, how many
pushes took over ``--limit-ms`` (20 ms), each rule's mean wall time per push and the longest time
(wall and CPU) one push spent in it (a push's ``process`` call), the slowest pushes with
each rule's share of them (and the cyclic garbage collector's, which any allocating push may
trigger), and how long the final ``advance_to`` took. ``--check`` also scans the file in one batch
and compares the findings (ids and content) with the stream's. ``--out`` writes the JSON to a file.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def _q(values: list[int], p: float) -> float:
    return values[min(len(values) - 1, int(p * len(values)))] / 1e6  # ns -> ms


def run(path: str, ruleset: str, lateness: str, sort: bool, top: int, limit_ms: float, check: bool,
        batch: int = 1, freeze: bool = True) -> dict[str, Any]:
    import orjson

    import hrguard

    with open(path, "rb") as fh:
        events = [orjson.loads(line) for line in fh]
    if sort:
        events.sort(key=lambda e: e["ts"])  # one offset in the generated files: string order is time order
    if freeze:  # the parsed input out of the collector's way: a service reading a socket does not hold it all
        gc.collect()
        gc.freeze()
    engine = hrguard.default_engine()
    stream = engine.stream(ruleset, allowed_lateness=lateness, **({"batch": batch} if batch != 1 else {}))
    pc, tc = time.perf_counter_ns, time.thread_time_ns
    per_rule: dict[str, int] = {}  # this push's time in each rule
    rule_total: dict[str, int] = {}  # the whole run's
    rule_max: dict[str, tuple[int, int]] = {}  # the longest one push spent in each rule: (wall, CPU)

    def timed(det: Any, name: str) -> None:
        orig = det.process

        def process(chunk: Any) -> None:
            t, c = pc(), tc()
            try:
                orig(chunk)
            finally:
                dt, dc = pc() - t, tc() - c
                per_rule[name] = per_rule.get(name, 0) + dt
                rule_total[name] = rule_total.get(name, 0) + dt
                w, u = rule_max.get(name, (0, 0))
                rule_max[name] = (max(w, dt), max(u, dc))

        det.process = process

    gc_ns = [0, 0]  # time in the cyclic garbage collector during the current push; when it started

    def on_gc(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            gc_ns[1] = pc()
        else:
            gc_ns[0] += pc() - gc_ns[1]

    gc.callbacks.append(on_gc)
    wall: list[int] = []
    cpu: list[int] = []
    slow: list[tuple[int, int, str, dict[str, int]]] = []
    n_out = 0
    wrapped = False
    t0, c0 = pc(), tc()
    for i, e in enumerate(events):
        per_rule.clear()
        gc_ns[0] = 0
        t, c = pc(), tc()
        n_out += len(stream.push(e))
        dc, dt = tc() - c, pc() - t
        wall.append(dt)
        cpu.append(dc)
        if not wrapped and stream.runner.instances:  # the rule instances exist after the first push
            for inst in stream.runner.instances.values():
                for rule, det in inst:
                    timed(det, rule.name)
            wrapped = True
        if len(slow) < top or dt > slow[-1][0]:
            rules = {**per_rule, "(garbage collector)": gc_ns[0]} if gc_ns[0] else dict(per_rule)
            slow.append((dt, i, str(e.get("ts")), rules))
            slow.sort(key=lambda s: -s[0])
            del slow[top:]
    total_wall, total_cpu = pc() - t0, tc() - c0
    gc.callbacks.remove(on_gc)
    last = max(e["ts"] for e in events)
    t = pc()
    n_out += len(stream.advance_to(last))
    final_ms = (pc() - t) / 1e6
    out: dict[str, Any] = {
        "file": Path(path).name, "events": len(events), "ruleset": ruleset, "lateness": lateness, "sorted": sort,
        "batch": batch, "frozen_input": freeze,
        "findings": len(stream.findings), "returned": n_out, "final_advance_ms": round(final_ms, 3),
        "mean_us": round(total_wall / len(events) / 1e3, 1), "cpu_mean_us": round(total_cpu / len(events) / 1e3, 1),
    }
    wall_s, cpu_s = sorted(wall), sorted(cpu)
    for name, vals in (("wall", wall_s), ("cpu", cpu_s)):
        for label, p in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p999", 0.999)):
            out[f"{name}_{label}_ms"] = round(_q(vals, p), 3)
        out[f"{name}_max_ms"] = round(vals[-1] / 1e6, 3)
        out[f"{name}_over_limit"] = sum(v > limit_ms * 1e6 for v in vals)
    out["limit_ms"] = limit_ms
    out["rule_mean_us"] = {k: round(v / len(events) / 1e3, 1)
                           for k, v in sorted(rule_total.items(), key=lambda kv: -kv[1])}
    out["rule_max_ms"] = {k: {"wall": round(w / 1e6, 2), "cpu": round(u / 1e6, 2)}
                          for k, (w, u) in sorted(rule_max.items(), key=lambda kv: -kv[1][1])}
    out["slowest"] = [{"ms": round(dt / 1e6, 2), "push": i, "ts": ts,
                       "rules_ms": {k: round(v / 1e6, 2) for k, v in sorted(rules.items(), key=lambda kv: -kv[1])[:3]}}
                      for dt, i, ts, rules in slow]
    if check:
        batch = hrguard.scan(path, ruleset, as_of=stream.result().as_of)
        want = [f.model_dump(mode="json") for f in batch.findings]
        got = [f.model_dump(mode="json") for f in stream.result().findings]
        out["same_as_batch"] = want == got
        out["batch_findings"] = len(want)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=100_000, help="size of the generated log")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--file", help="a JSON Lines file instead of a generated log")
    ap.add_argument("--ruleset", default="sales")
    ap.add_argument("--lateness", default="30m", help="allowed_lateness (the generator moves lines by up to 10 minutes)")
    ap.add_argument("--sorted", action="store_true", help="push in time order (use with --lateness 0s)")
    ap.add_argument("--top", type=int, default=10, help="slowest pushes listed")
    ap.add_argument("--limit-ms", type=float, default=20.0)
    ap.add_argument("--check", action="store_true", help="compare the findings with a batch scan's")
    ap.add_argument("--batch", type=int, default=1, help="Stream(batch=N): judge final events every N accepted ones")
    ap.add_argument("--out", help="write the JSON here too")
    ap.add_argument("--no-freeze", action="store_true",
                    help="leave the parsed input in the garbage collector's generations (by default it is frozen "
                         "out of them, as a host streaming from a socket holds no such list)")
    args = ap.parse_args(argv)
    if args.file:
        path = args.file
    else:
        from throughput import ensure_data

        path = str(ensure_data(args.events, args.seed))
    res = run(path, args.ruleset, args.lateness, args.sorted, args.top, args.limit_ms, args.check, args.batch, not args.no_freeze)
    text = json.dumps(res, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
