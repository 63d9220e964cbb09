"""Stream push CPU of two hrguard versions in ONE process, event by event: a paired comparison.

    python benchmarks/stream_ab.py --base ../wt-streambase/src/hrguard               # the 100k log
    python benchmarks/stream_ab.py --base ../wt-streambase/src/hrguard --events 1000000 --warm 100000 --n 20000

On a shared machine, runs of ``stream_latency.py`` or ``throughput.py --parts stream`` one after
another differ by +-30% in CPU per push (other processes share the cores and caches), more than
most changes to measure. Here the base version (a copy of ``--base``, imported as
``hrguard_base``) and the installed ``hrguard`` each get their own ``Stream`` and every event is
pushed to both in turn (which goes first alternates), so whatever the machine does hits both alike.
Both read the first ``warm + n`` lines of the generated log in time order (lateness 0s), as
``throughput.py``'s stream part does; the ``n`` pushes after ``warm`` are timed (thread CPU time).
The garbage collector is shared by the two: its pauses land on either; the findings are compared.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def import_base(src: Path):  # noqa: ANN201
    """``src`` (a checkout's ``src/hrguard``) copied and imported as ``hrguard_base``."""
    tmp = Path(tempfile.mkdtemp(prefix="hrguard-ab-"))
    dst = tmp / "hrguard_base"
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__"))
    for py in dst.rglob("*.py"):  # the few absolute module names in strings
        text = py.read_text(encoding="utf-8")
        new = re.sub(r'(import_module\(|DEFAULT_PLUGINS = \()"hrguard\.', r'\1"hrguard_base.', text)
        if new != text:
            py.write_text(new, encoding="utf-8")
    sys.path.insert(0, str(tmp))
    import hrguard_base

    return hrguard_base


def stats(v: list[int]) -> dict[str, float]:
    s = sorted(v)

    def q(p: float) -> float:
        return s[min(len(s) - 1, int(p * len(s)))] / 1e3

    return {"mean_us": round(sum(v) / len(v) / 1e3, 1), "p50_us": q(0.5), "p90_us": q(0.9), "p99_us": q(0.99),
            "p999_us": q(0.999), "max_us": s[-1] / 1e3}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", required=True, help="the base version's package directory (.../src/hrguard)")
    ap.add_argument("--events", type=int, default=100_000, help="size of the generated log")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--warm", type=int, default=40_000, help="pushes before timing")
    ap.add_argument("--n", type=int, default=10_000, help="pushes timed")
    ap.add_argument("--ruleset", default="sales")
    args = ap.parse_args(argv)
    os.environ.setdefault("HRGUARD_DISABLE_PLUGIN_AUTOLOAD", "1")
    import orjson

    import hrguard
    from throughput import ensure_data

    base = import_base(Path(args.base).resolve())
    path = ensure_data(args.events, args.seed)
    with open(path, "rb") as fh:
        events = [orjson.loads(line) for _, line in zip(range(args.warm + args.n), fh)]
    events.sort(key=lambda e: e["ts"])  # one offset in the generated files: string order is time order
    a = base.default_engine().stream(args.ruleset, allowed_lateness="0s")
    b = hrguard.default_engine().stream(args.ruleset, allowed_lateness="0s")
    for e in events[: args.warm]:
        a.push(e)
        b.push(e)
    tc = time.thread_time_ns
    ta: list[int] = []
    tb: list[int] = []
    for i, e in enumerate(events[args.warm :]):
        for s, t in ((a, ta), (b, tb)) if i & 1 else ((b, tb), (a, ta)):
            c = tc()
            s.push(e)
            t.append(tc() - c)
    same = [f.id for f in a.findings] == [f.id for f in b.findings]
    out = {"file": path.name, "warm": args.warm, "timed": len(ta), "base": str(Path(args.base).resolve()),
           "base_cpu": stats(ta), "new_cpu": stats(tb), "same_findings": same, "findings": len(b.findings)}
    import json

    print(json.dumps(out, indent=2))
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
