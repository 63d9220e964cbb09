"""The fuzz suite's scanning process: one JSON request a line on stdin, one JSON answer a line on stdout.

It runs apart from pytest so that a crash (a segfault, an abort) or a hang kills or stalls only this
process; the test (``fuzzlib.Worker``) sees it, names the case and starts another. A request::

    {"path": "...", "container": "jsonl" | "array" | "python", "ruleset": "sales", "as_of": "..."}

``python``: the file holds one record a line, read here as a Python caller would hand it over (NaN as
``float('nan')``, a 5000-digit number as an ``int``, a lone surrogate escape as a lone surrogate; a
line that is no JSON at all as the string itself). The answer: the counts, every rejection's place, the
findings (as dicts), or ``error`` (a traceback: the bug this suite looks for) or ``hrguard_error`` (a
clear :class:`~hrguard.HrguardError`, which is allowed).
"""

from __future__ import annotations

import json
import sys
import traceback
from typing import Any


def python_records(path: str) -> list[Any]:
    out: list[Any] = []
    sys.set_int_max_str_digits(0)
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(20_000)
    try:
        with open(path, encoding="utf-8", errors="surrogatepass") as fh:
            for line in fh:
                line = line.rstrip("\n")
                try:
                    out.append(json.loads(line))
                except (ValueError, RecursionError):
                    out.append(line)
    finally:
        sys.setrecursionlimit(old)
        sys.set_int_max_str_digits(4300)
    return out


def answer(req: dict[str, Any], engine: Any) -> dict[str, Any]:
    from hrguard import HrguardError

    events: Any = req["path"] if req["container"] != "python" else python_records(req["path"])
    try:
        res = engine.scan(events, req.get("ruleset", "sales"), as_of=req.get("as_of"))
    except HrguardError as exc:
        return {"hrguard_error": f"{type(exc).__name__}: {exc}"}
    s = res.stats
    out = {
        "received": s.received, "valid": s.valid, "duplicates": s.duplicates, "rejected": s.rejected,
        "after_as_of": s.after_as_of,
        "rejections": [[r.line, r.item, r.id, r.field, r.message] for r in res.rejected],
        "findings": sorted(json.dumps(f.model_dump(mode="json"), sort_keys=True) for f in res.findings),
        "warnings": [str(w) for w in res.warnings],
    }
    json.dumps(out, ensure_ascii=False).encode("utf-8")  # every rejection and finding can be written as UTF-8 JSON
    return out


def main() -> None:
    import hrguard

    engine = hrguard.Engine(entrypoints=False)
    for line in sys.stdin:
        req = json.loads(line)
        try:
            out = answer(req, engine)
        except BaseException:  # noqa: BLE001 - the point: report anything that escapes
            out = {"error": traceback.format_exc()}
        try:
            text = json.dumps(out)
        except (TypeError, ValueError):
            text = json.dumps({"error": "the answer cannot be written as JSON:\n" + traceback.format_exc()})
        sys.stdout.write(text + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
