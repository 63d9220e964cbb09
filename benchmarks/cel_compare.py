"""Expression evaluators for the ``expr`` detector, on one condition over 100k generated punches.

    python benchmarks/cel_compare.py [--events 100000] [--budget 5]

The contexts are built by an ``expr`` rule instance itself (``_context``) from a real Frame (the
generator's events, validated and moved into columns): the "whole event" dict is what the detector
passes when a condition uses ``event`` as a value, the "referenced fields" dict what it passes for a
condition that only names ``event.field``s.

Evaluators (each skipped with a note when its package is missing):

- ``cel``: common-expression-language (hrguard's dependency), with the whole event dict, with only
  the referenced fields under ``event``, and with those fields as top-level variables;
- ``celpy``: cel-python (``pip install cel-python``), its contexts converted by ``celpy.json_to_cel``;
- ``simpleeval`` (pre-parsed) and ``rule-engine``, which are not CEL (shown for scale);
- Python's own ``eval`` of compiled code: NOT safe for rulesets, only a ceiling for a per-event call;
- a numpy mask over the columns: what a vectorised condition costs.

Each evaluator runs over all events or until ``--budget`` seconds pass (the slow ones), reports
evaluations/second (CPU time), and the match count is checked against the numpy mask on the same
events. Prints a table and writes ``benchmarks/results/cel_compare.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

CEL_COND = 'event.source == "manual" || event.accuracy_m > 50.0'
KIND = "attendance.punched"
REFERENCED = ("source", "accuracy_m")


def build_contexts(n: int, seed: int) -> tuple[list[dict], list[dict], dict[str, np.ndarray], float, float]:
    """``n`` punch contexts (whole, referenced) via ExprRule._context; also the columns and build times."""
    import hrguard
    from hrguard.columns import Chunk

    import gen_events

    engine = hrguard.default_engine()
    intake = engine.intake()
    strings = intake.strings
    punches = 0
    picked = []
    for ev in gen_events.generate(n * 3, seed):
        if ev["kind"] == KIND:
            punches += 1
        if ev["kind"] in (KIND, "customer.registered", "employee.hired"):
            picked.append(ev)
        if punches >= n:
            break
    frame = intake.frame(picked)
    chunk = Chunk(frame, np.arange(len(frame)), int(frame.ts[-1]))
    rows = chunk.rows(KIND)[:n]
    # the detector decides its context from the condition: naming `event` as a value passes every field
    ref_det = _expr_detector(engine, strings, CEL_COND)
    whole_det = _expr_detector(engine, strings, f"size(event) > 0 && ({CEL_COND})")
    t = time.process_time()
    whole = whole_det._context(chunk, KIND, rows)
    t_whole = time.process_time() - t
    t = time.process_time()
    ref = ref_det._context(chunk, KIND, rows)
    t_ref = time.process_time() - t
    assert set(ref[0]) == set(REFERENCED) and len(whole[0]) > len(REFERENCED), (ref[0], whole[0])
    table = frame.tables[strings.find(KIND)]
    k = frame.kind_index[rows]
    cols = {"source": table.cols["source"][k], "accuracy_m": table.cols["accuracy_m"][k],
            "manual_code": np.int32(strings.find("manual"))}
    return whole, ref, cols, t_whole, t_ref


def _expr_detector(engine: Any, strings: Any, condition: str) -> Any:
    """An ``expr`` rule instance as the engine makes it (RuleContext as in ``Runner``)."""
    from hrguard.sdk import RuleContext
    from hrguard.timeutil import LocalClock

    rs = engine.load_ruleset({"ruleset": "bench", "timezone": "Asia/Shanghai",
                              "rules": [{"use": "expr", "name": "r", "params": {"on": KIND, "condition": condition}}]})
    rule = rs.rules[0]
    ctx = RuleContext(rule.name, rule.severity, rs.language, LocalClock(rs.timezone), strings, None)
    return rule.detector(rule.params, ctx)


def run(fn: Callable[[Any], Any], items: list[Any], budget: float) -> tuple[int, int, float]:
    """(evaluated, matches, cpu seconds) over ``items`` or until ``budget`` CPU seconds."""
    hits = 0
    n = 0
    cpu = time.process_time
    t0 = cpu()
    deadline = t0 + budget
    for i, item in enumerate(items):
        if fn(item) is True:
            hits += 1
        n = i + 1
        if (n & 1023) == 0 and cpu() > deadline:
            break
    return n, hits, cpu() - t0


def evaluators(whole: list[dict], ref: list[dict]) -> list[tuple[str, str, Callable[[Any], Any] | None, list[Any]]]:
    """(name, context, fn or None, items); a ``None`` fn carries an explanation in ``context``."""
    out: list[tuple[str, str, Callable[[Any], Any] | None, list[Any]]] = []
    try:
        import cel

        prog = cel.compile(CEL_COND)
        flat = cel.compile('source == "manual" || accuracy_m > 50.0')
        out.append(("cel (common-expression-language)", "whole event dict", lambda c: prog.execute({"event": c}), whole))
        out.append(("cel (common-expression-language)", "referenced fields", lambda c: prog.execute({"event": c}), ref))
        out.append(("cel (common-expression-language)", "referenced, top-level vars", flat.execute, ref))
    except ImportError as exc:
        out.append(("cel (common-expression-language)", f"not installed: {exc}", None, []))
    try:
        import celpy

        env = celpy.Environment()
        cprog = env.program(env.compile(CEL_COND))
        to_cel = celpy.json_to_cel
        out.append(("celpy (cel-python)", "referenced fields",
                    lambda c: bool(cprog.evaluate({"event": to_cel(c)})), ref))
    except ImportError as exc:
        out.append(("celpy (cel-python)", f"not installed ({exc.name})", None, []))
    try:
        import simpleeval

        s = simpleeval.SimpleEval()
        src = 'event.source == "manual" or event.accuracy_m > 50.0'
        parsed = s.parse(src)

        def simple(c: dict) -> Any:
            s.names = {"event": c}
            return s.eval(src, previously_parsed=parsed)

        out.append(("simpleeval (pre-parsed; not CEL)", "whole event dict", simple, whole))
        out.append(("simpleeval (pre-parsed; not CEL)", "referenced fields", simple, ref))
    except ImportError as exc:
        out.append(("simpleeval", f"not installed ({exc.name})", None, []))
    try:
        import rule_engine

        rule = rule_engine.Rule('source == "manual" or accuracy_m > 50.0')
        out.append(("rule-engine (not CEL)", "referenced fields", rule.matches, ref))
    except ImportError as exc:
        out.append(("rule-engine", f"not installed ({exc.name})", None, []))
    code = compile('event["source"] == "manual" or event["accuracy_m"] > 50.0', "<cond>", "eval")
    out.append(("python eval (UNSAFE, ceiling only)", "referenced fields",
                lambda c: eval(code, {"__builtins__": {}}, {"event": c}), ref))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--budget", type=float, default=5.0, help="CPU seconds at most per evaluator")
    ap.add_argument("--out", default=str(HERE / "results" / "cel_compare.json"))
    args = ap.parse_args(argv)

    whole, ref, cols, t_whole, t_ref = build_contexts(args.events, args.seed)
    n = len(ref)
    manual = cols["source"] == cols["manual_code"]
    acc = cols["accuracy_m"]
    expected_mask = manual | (acc > 50.0)  # nan compares False: a null accuracy never exceeds
    print(f"condition: {CEL_COND}\n{n:,} {KIND} events; {int(expected_mask.sum()):,} match\n"
          f"building contexts with the detector's _context: whole {t_whole / n * 1e6:.2f} µs/event, "
          f"referenced fields {t_ref / n * 1e6:.2f} µs/event\n")

    rows: list[dict[str, Any]] = []
    for name, ctx, fn, items in evaluators(whole, ref):
        if fn is None:
            rows.append({"evaluator": name, "context": ctx, "skipped": True})
            continue
        evaluated, hits, secs = run(fn, items, args.budget)
        expect = int(expected_mask[:evaluated].sum())
        rows.append({"evaluator": name, "context": ctx, "evaluated": evaluated, "matches": hits,
                     "agrees": hits == expect, "cpu_seconds": secs, "evals_per_s": evaluated / secs,
                     "us_per_eval": secs / evaluated * 1e6})
    t = time.process_time()
    reps = 50
    for _ in range(reps):
        mask = (cols["source"] == cols["manual_code"]) | (cols["accuracy_m"] > 50.0)
    secs = (time.process_time() - t) / reps
    rows.append({"evaluator": "numpy mask over columns", "context": "columns", "evaluated": n,
                 "matches": int(mask.sum()), "agrees": True, "cpu_seconds": secs, "evals_per_s": n / max(secs, 1e-9),
                 "us_per_eval": secs / n * 1e6})

    hdr = f"{'evaluator':<36} {'context':<28} {'evals/s':>13} {'µs/eval':>9} {'evaluated':>10} {'agrees':>7}"
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        if r.get("skipped"):
            print(f"{r['evaluator']:<36} {r['context']}")
            continue
        print(f"{r['evaluator']:<36} {r['context']:<28} {r['evals_per_s']:>13,.0f} {r['us_per_eval']:>9.3f} "
              f"{r['evaluated']:>10,} {'yes' if r['agrees'] else 'NO':>7}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"condition": CEL_COND, "kind": KIND, "events": n,
                               "context_build_us": {"whole": t_whole / n * 1e6, "referenced": t_ref / n * 1e6},
                               "results": rows}, indent=2) + "\n")
    print(f"\nwrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
