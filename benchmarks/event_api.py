"""Overhead of the per-event detector API (``hrguard.EventDetector``) per delivered event (issue 13).

    python benchmarks/event_api.py                      # 200,000 events, best of 3
    python benchmarks/event_api.py --events 1000000 --repeat 5

Three one-rule rulesets scan the same generated log (``gen_events.py``, cached in ``benchmarks/data/``),
each rule reading the same two kinds (punches and follow-ups, ~70% of the events):

- ``floor``: a columnar :class:`hrguard.Detector` whose ``process`` only asks the chunk for the kinds' rows —
  what any rule costs the engine;
- ``per-event, empty``: an :class:`hrguard.EventDetector` whose ``on_event`` does nothing — the API's own
  cost (building each :class:`~hrguard.EventView`, the order, the timer check);
- ``per-event, reads 3 fields``: ``on_event`` reads ``ev.employee_id``, ``ev.ts`` and one field of the kind
  — what a typical rule adds by decoding values.

The scans are timed in CPU seconds after one warm-up (best of ``--repeat``); the overhead per delivered event
is ``(rule - floor) / events delivered``, the target is at most 5 µs. JSON goes to ``--out`` (default
``benchmarks/results/event-api-N.json``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

KINDS = frozenset({"attendance.punched", "followup.logged"})


def _rules():
    import hrguard

    class Floor(hrguard.Detector):
        id = "bench.floor"
        title = "the engine's cost of a rule"
        kinds = KINDS
        messages = {"en": {"default": "x"}, "zh": {"default": "x"}}

        def next_due(self):
            return None

        def process(self, chunk):
            for k in KINDS:
                chunk.rows(k)

    class Empty(hrguard.EventDetector):
        id = "bench.per_event_empty"
        title = "the per-event API's cost"
        kinds = KINDS
        messages = {"en": "x", "zh": "x"}

        def on_event(self, ev):
            pass

    class Reads(hrguard.EventDetector):
        id = "bench.per_event_reads"
        title = "the per-event API, reading three values"
        kinds = KINDS
        messages = {"en": "x", "zh": "x"}

        def on_event(self, ev):
            ev.employee_id
            ev.ts
            ev.get("customer_id")

    return Floor, Empty, Reads


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)

    import gen_events

    import hrguard

    path = HERE / "data" / f"events-{args.events}.jsonl"
    if not path.exists():
        gen_events.write(path, args.events, args.seed)
    rules = _rules()

    class Plugin:
        @hrguard.hookimpl
        def hrguard_register_detectors(self, register):
            for r in rules:
                register(r)

    engine = hrguard.Engine([Plugin()], entrypoints=False)
    frame_events = [json.loads(line) for line in path.open("rb")]
    delivered = sum(e["kind"] in KINDS for e in frame_events)
    results = {}
    for rule in rules:
        rs = engine.load_ruleset({"timezone": "Asia/Shanghai", "rules": [{"use": rule.id}]})
        engine.scan(frame_events, rs)  # warm-up: imports, caches
        best = None
        for _ in range(args.repeat):
            t = time.process_time()
            res = engine.scan(frame_events, rs)
            cpu = time.process_time() - t
            best = cpu if best is None else min(best, cpu)
        assert res.stats.valid == len(frame_events), res.stats
        results[rule.id] = best
        print(f"{rule.id:<24} {best:7.3f} CPU s", flush=True)
    floor = results["bench.floor"]
    per = {k: (v - floor) / delivered * 1e6 for k, v in results.items() if k != "bench.floor"}
    for k, v in per.items():
        print(f"{k:<24} {v:5.2f} µs per delivered event over the floor (target <= 5)")
    out = Path(args.out) if args.out else HERE / "results" / f"event-api-{args.events}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"benchmark": "event_api", "events": len(frame_events), "delivered": delivered,
                               "repeat": args.repeat, "cpu_s": results,
                               "overhead_us_per_delivered_event": {k: round(v, 3) for k, v in per.items()},
                               "python": sys.version.split()[0], "hrguard": hrguard.__version__}, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
