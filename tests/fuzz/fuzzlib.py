"""The fuzz suite's parts: records generated from the published JSON Schema of events, mutations that
make them hostile, the containers they are written in, and :class:`Worker`, which scans each case in
a subprocess under a time limit.

``hypothesis-jsonschema`` does not work with the hypothesis the project pins (it fails inside
hypothesis), so :func:`from_schema` reads the schema (``hrguard schema events``) itself: ``$ref``,
``anyOf``, ``enum``/``const``, strings (``date-time``, ``date``, ``time`` formats, ``minLength``, the money
pattern), numbers with bounds, booleans, arrays of objects and objects with required and optional
properties; enough for every built-in kind.
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

HERE = Path(__file__).resolve().parent
CASE_SECONDS = float(os.environ.get("HRGUARD_FUZZ_CASE_SECONDS", "20"))
"""The time limit of one case (a scan of a few hundred records takes well under a second)."""

COUNTS: dict[str, int] = {}
"""What the suite ran, by what: added up over the test processes in the terminal summary (tests/conftest.py)."""
SECONDS = [0.0]
"""Seconds spent in fuzz tests (set by the tests' timing fixture)."""


def count(what: str, n: int = 1) -> None:
    COUNTS[what] = COUNTS.get(what, 0) + n


# -- records from the schema -------------------------------------------------------------------------------
_NAMES = st.sampled_from(["E1", "E2", "C1", "C-B", "S1", "R1", "O1", "x", "Ä", "客户", ""])
_TS = st.builds(
    lambda d, h, m, s, tz: f"2026-03-{d:02d}T{h:02d}:{m:02d}:{s:02d}{tz}",
    st.integers(1, 28), st.integers(0, 23), st.integers(0, 59), st.integers(0, 59),
    st.sampled_from(["+08:00", "Z", "-05:00", "+0800"]))


def from_schema(node: dict[str, Any], defs: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values valid for one node of the schema (the event models may still refuse a few: a punch's lat
    without lon, which a schema cannot say)."""
    if "$ref" in node:
        return st.deferred(lambda: from_schema(defs[node["$ref"].split("/")[-1]], defs))
    if "const" in node:
        return st.just(node["const"])
    if "enum" in node:
        return st.sampled_from(node["enum"])
    if "anyOf" in node:
        return st.one_of([from_schema(n, defs) for n in node["anyOf"]])
    t = node.get("type")
    if t == "null":
        return st.none()
    if t == "boolean":
        return st.booleans()
    if t == "string":
        fmt = node.get("format")
        if fmt == "date-time":
            return _TS
        if fmt == "date":
            return st.builds(lambda d: f"2026-03-{d:02d}", st.integers(1, 28))
        if fmt == "time":
            return st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.integers(0, 59))
        if "pattern" in node:  # money as text
            return st.builds(lambda a, b: f"{a}.{b:02d}", st.integers(0, 10**9), st.integers(0, 99))
        return _NAMES.filter(lambda s: len(s) >= node.get("minLength", 0))
    if t in ("number", "integer"):
        lo = node.get("minimum", node.get("exclusiveMinimum", -1e6))
        hi = node.get("maximum", min(node.get("exclusiveMaximum", 1e9), 1e9))
        ints = st.integers(int(lo) + (1 if "exclusiveMinimum" in node else 0), int(hi) - 1)
        return ints if t == "integer" else st.one_of(ints, st.floats(lo, hi, exclude_max=True, allow_nan=False))
    if t == "array":
        return st.lists(from_schema(node.get("items", {}), defs), max_size=3)
    if t == "object" and "properties" in node:
        required = node.get("required", [])
        optional = [k for k in node["properties"] if k not in required and k != "attrs"]
        return st.builds(
            lambda req, opt: {**req, **opt},
            st.fixed_dictionaries({k: from_schema(node["properties"][k], defs) for k in required}),
            st.fixed_dictionaries({}, optional={k: from_schema(node["properties"][k], defs) for k in optional}))
    if t == "object":
        return st.dictionaries(st.sampled_from(["a", "b", "note"]), st.integers() | st.text(max_size=5), max_size=2)
    return st.none()


def event_records() -> st.SearchStrategy[dict[str, Any]]:
    """Records of every built-in kind, from the schema ``hrguard schema events`` prints."""
    from hrguard.events import events_json_schema

    schema = events_json_schema()
    defs = schema["$defs"]
    kinds = [defs[r["$ref"].split("/")[-1]] for r in schema["oneOf"]]
    return st.one_of([from_schema(k, defs) for k in kinds])


# -- mutations ---------------------------------------------------------------------------------------------
class Raw(str):
    """A field value written into the JSON text as it is (``NaN``, ``1e999``, ``9999...``)."""


_HOSTILE_VALUES = st.one_of(
    st.sampled_from([Raw("NaN"), Raw("Infinity"), Raw("-Infinity"), Raw("1e999"), Raw("9" * 5000), Raw("9" * 400),
                     Raw("-0"), Raw('"\\ud800"'), Raw('"x\\udfff"'), Raw('"\\u0000"'), -1, -1e-300, 3.5e38, 1e15,
                     10**20, "", "   ", True, None, [], {}, [1, [2]], {"a": None}, "0001-01-01T00:00:00+14:00",
                     "9999-12-31T23:59:59-12:00", "2026-02-30T00:00:00Z", "2026-03-01T00:00:00", "24:00",
                     "1e5", "0x10", "NaN", "Infinity", "١٢٣"]),
    st.integers(1, 3000).map(lambda d: Raw("[" * d + "]" * d)),
    st.integers(1, 300).map(lambda d: Raw('{"a":' * d + "1" + "}" * d)),
    st.text(max_size=8),
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(),
)

MUTATIONS = ("hostile_value", "hostile_unknown_field", "hostile_attrs", "hostile_id", "drop_field", "truncate",
             "not_an_object", "unknown_kind")


def mutation(record: dict[str, Any], n: int) -> st.SearchStrategy[tuple[str, str]]:
    """``(what, the mutated record as one line of JSON text)``; its id is ``fz{n}`` (or derived from it)."""
    record = {**record, "id": f"fz{n}"}
    keys = sorted(record)

    def write(rec: dict[str, Any]) -> str:
        parts = []
        for k, v in rec.items():
            parts.append(f"{json.dumps(k)}: {v if isinstance(v, Raw) else json.dumps(v)}")
        return "{" + ", ".join(parts) + "}"

    return st.sampled_from(MUTATIONS).flatmap(lambda what: {
        "drop_field": st.sampled_from(keys).map(lambda k: write({a: b for a, b in record.items() if a != k})),
        "hostile_value": st.tuples(st.sampled_from([k for k in keys if k != "id"]), _HOSTILE_VALUES).map(
            lambda kv: write({**record, kv[0]: kv[1]})),
        "hostile_unknown_field": _HOSTILE_VALUES.map(lambda v: write({**record, "extra": v})),
        "hostile_attrs": _HOSTILE_VALUES.map(lambda v: write({**record, "attrs": Raw('{"k": %s}' % (
            v if isinstance(v, Raw) else json.dumps(v)))})),
        "hostile_id": st.sampled_from([Raw(f'"fz{n}\\ud800"'), Raw(f'"fz{n}\\u0000"'), f"fz{n}\x00", Raw("NaN"),
                                       Raw("9" * 5000), 7, None, "", [f"fz{n}"]]).map(
            lambda v: write({**record, "id": v})),
        "truncate": st.floats(0.05, 0.95).map(lambda f: write(record)[: max(1, int(len(write(record)) * f))]),
        "not_an_object": st.sampled_from(["[]", "null", "1", '"text"', "[{}]", "NaN", "{", "}", "\x00", "\ufeff{}"]),
        "unknown_kind": st.just(write({**record, "kind": "no.such.kind"})),
    }[what].map(lambda text: (what, text)))


# -- containers --------------------------------------------------------------------------------------------
def write_case(path: Path, lines: list[str], container: str, prefix: str = "") -> list[tuple[int, int | None]]:
    """Write ``lines`` (one record each) in ``container``; the place ``(line, item)`` of each record as a
    rejection would name it (``python``: its 1-based position)."""
    if container == "array":
        body = "[\n" + ",\n".join(lines) + "\n]\n"
        first = prefix.count("\n") + 2
        places = [(first + k, k + 1) for k in range(len(lines))]
    else:
        body = "\n".join(lines) + "\n"
        first = prefix.count("\n") + 1
        places = [(first + k, None) for k in range(len(lines))] if container == "jsonl" else [
            (k + 1, None) for k in range(len(lines))]
        if container == "python":
            prefix = ""  # one record a line, read by the worker as Python objects
    path.write_bytes((prefix + body).encode("utf-8", "surrogatepass"))
    return places


# -- the subprocess ----------------------------------------------------------------------------------------
class CaseFailed(AssertionError):
    pass


class Worker:
    """A long-lived ``_worker.py`` process: :meth:`scan` sends one case and waits at most
    :data:`CASE_SECONDS`; a crash or a hang fails that case (naming it) and the next case gets a new process."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None

    def _start(self) -> subprocess.Popen[bytes]:
        if self.proc is None or self.proc.poll() is not None:
            env = {**os.environ, "PYTHONFAULTHANDLER": "1"}
            self.proc = subprocess.Popen([sys.executable, str(HERE / "_worker.py")], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        return self.proc

    def scan(self, path: Path, container: str, as_of: str | None, ruleset: str = "sales",
             describe: str = "") -> dict[str, Any]:
        proc = self._start()
        assert proc.stdin is not None and proc.stdout is not None
        req = {"path": str(path), "container": container, "ruleset": ruleset, "as_of": as_of}
        proc.stdin.write((json.dumps(req) + "\n").encode())
        proc.stdin.flush()
        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ)
        limit = CASE_SECONDS + (30 if count_started(self) else 0)  # the first case also imports hrguard
        start = time.monotonic()
        ready = sel.select(timeout=limit)
        sel.close()
        if not ready:
            self.close()
            raise CaseFailed(f"hang: no answer within {limit:.0f}s for {describe} ({container}, {path})")
        line = proc.stdout.readline()
        if not line:
            code = proc.wait()
            err = proc.stderr.read().decode(errors="replace")[-3000:] if proc.stderr else ""
            self.proc = None
            raise CaseFailed(f"crash: the scanning process died (exit {code}) on {describe} ({container}, "
                             f"{path}):\n{err}")
        COUNTS["slowest_case_ms"] = max(COUNTS.get("slowest_case_ms", 0), int((time.monotonic() - start) * 1000))
        out = json.loads(line)
        if "error" in out:
            raise CaseFailed(f"traceback on {describe} ({container}, {path}):\n{out['error']}")
        return out

    def close(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()  # our own child, by its handle
            self.proc.wait()
            if self.proc.stdin:
                self.proc.stdin.close()
            for f in (self.proc.stdout, self.proc.stderr):
                if f:
                    f.close()
            self.proc = None


_STARTED: set[int] = set()


def count_started(worker: Worker) -> bool:
    """Whether this worker process answers its first request (it still has hrguard to import)."""
    assert worker.proc is not None
    first = worker.proc.pid not in _STARTED
    _STARTED.add(worker.proc.pid)
    return first


def check_counts(out: dict[str, Any], describe: str) -> None:
    """Every record in is valid, a duplicate or rejected, and every rejection is listed."""
    if "hrguard_error" in out:
        return
    assert out["received"] == out["valid"] + out["duplicates"] + out["rejected"], (describe, out)
    assert len(out["rejections"]) == out["rejected"], (describe, out)
