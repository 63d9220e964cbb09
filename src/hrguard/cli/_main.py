"""The ``hrguard`` command line: scan, validate, test, detectors, schema, demo, trace, synth (also ``python -m hrguard``).

Exit codes:

- 0 success (findings or not; every test passed);
- 1 ``scan --fail-on SEVERITY`` found a finding at least that severe; ``test``: a ruleset test failed;
- 2 bad usage, an invalid ruleset, or an input/output file that cannot be read or written;
- 3 a rejected input record in ``--strict`` mode;
- 4 a detector raised while scanning (reported on stderr; its rule was disabled for the rest of the
  scan, the other rules ran to the end). 4 wins over 1.

Findings go to stdout (or ``--out``); everything else (rejected records, warnings, the one-line
summary, errors) goes to stderr, so ``--format jsonl`` output can be piped as it is.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Sequence, TextIO

from .. import __version__
from ..analytics import render_trace, trace_customer
from ..demo import run_demo
from ..engine import default_engine, load_ruleset, scan
from ..errors import (
    HrguardError,
    InvalidArgumentError,
    InvalidEventError,
    PipelineError,
    PluginError,
    RulesetError,
    UsageError,
)
from ..events import events_json_schema, from_us, to_duration_us, to_instant_us
from ..findings import Finding, Severity, cell_width, pad, render_table, require_pyarrow, to_csv, to_parquet
from ..ingest import watch_blocks
from ..pipelines import pipeline_json_schema
from ..rules import ruleset_json_schema
from ..synth import SynthConfig, write_dataset
from ._progress import Progress, wanted
from ..testing import run_ruleset_tests

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_REJECTED, EXIT_DETECTOR = 0, 1, 2, 3, 4
EXIT_INTERRUPTED = 130
EXIT_INTERNAL = 70  # sysexits' EX_SOFTWARE: a bug in hrguard or a plugin, never mistaken for "found something"

__all__ = ["EXIT_DETECTOR", "EXIT_FINDINGS", "EXIT_INTERNAL", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_REJECTED", "EXIT_USAGE", "UsageError",
           "build_parser", "detector_params", "main", "render_table", "summary_line"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        """argparse's usage errors (a bad option or value) as a :class:`UsageError`: usage, one line, exit 2."""
        raise UsageError(message, prog=self.prog, usage=self.format_usage())


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def add_argument(self, action: argparse.Action) -> None:
        super().add_argument(action)
        if action.help is not argparse.SUPPRESS and hasattr(action, "_get_subactions"):
            names = [len(a.dest or "") for a in action._get_subactions()]
            # argparse leaves out the sub-commands' extra indent: "detectors" would wrap its help
            self._action_max_length = max(self._action_max_length, max(names, default=0) + self._current_indent + 2)


def _instant(text: str) -> datetime:
    """An instant option (``--as-of``), read by hrguard's one policy (:func:`hrguard.events.to_instant_us`):
    text, so RFC 3339 with an offset."""
    try:
        return from_us(to_instant_us(text), timezone.utc)
    except InvalidArgumentError as exc:  # argparse names the option: "argument --as-of: ..."
        raise argparse.ArgumentTypeError(exc.reason) from None


def _duration(text: str) -> timedelta:
    """A duration option (``--max-disorder``), read by :func:`hrguard.events.to_duration_us`: text, so
    ``1d``, ``30m``, ISO 8601 ``PT30M`` (a unit is needed)."""
    try:
        return timedelta(microseconds=to_duration_us(text))
    except InvalidArgumentError as exc:
        raise argparse.ArgumentTypeError(exc.reason) from None


def _count(what: str) -> Any:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number of {what}, got {text!r}") from None
        if value < 1:
            raise argparse.ArgumentTypeError(f"expected at least 1, got {value}")
        return value

    return parse


def _day(text: str) -> Any:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {text!r}") from None


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a share such as 0.1, got {text!r}") from None
    if not 0 <= value <= 0.5:
        raise argparse.ArgumentTypeError(f"expected a share between 0 and 0.5, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="hrguard", description="Catch workplace misconduct risk in HR event records.",
                epilog="exit codes:\n  0  success (findings or not; every test passed)\n"
                       "  1  scan --fail-on: a finding at least that severe; test: a ruleset test failed\n"
                       "  2  bad usage, an invalid ruleset, a file that cannot be read or written\n"
                       "  3  scan --strict: a rejected input record\n  4  a detector raised (reported; its rule was disabled)",
                formatter_class=_Formatter)
    p.add_argument("--version", action="version", version=f"hrguard {_version()}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")

    s = sub.add_parser("scan", help="scan JSON Lines / JSON files of events and print the findings",
                       description="Scan events (JSON Lines or a JSON array; '-' reads stdin) with a ruleset.")
    s.add_argument("events", nargs="+", metavar="EVENTS",
                   help="event files (.jsonl or a JSON array; .parquet: a Parquet table); '-' reads stdin")
    s.add_argument("--ruleset", "-r", default="sales", help="ruleset path or bundled name (default: sales)")
    s.add_argument("--as-of", type=_instant, metavar="TS",
                   help="evaluate at this RFC 3339 time, e.g. 2026-04-20T18:00:00+08:00 (default: the latest event's ts)")
    s.add_argument("--format", "-f", choices=["table", "jsonl", "json", "csv", "parquet"], default="table",
                   help="table (default, for people), jsonl (one finding per line), json (one document), csv "
                        "(one row per finding, for spreadsheets) or parquet (needs --out and pyarrow)")
    s.add_argument("--out", "--output", "-o", metavar="PATH", help="write findings to PATH instead of stdout")
    s.add_argument("--no-progress", action="store_true",
                   help="no progress bar (one is drawn on stderr only when it is a terminal, for long scans)")
    s.add_argument("--fail-on", choices=[x.value for x in Severity], metavar="SEVERITY",
                   help="exit 1 when a finding is at least this severe (info, low, medium, high, critical)")
    s.add_argument("--strict", action="store_true", help="stop at the first rejected record (exit 3)")
    s.add_argument("--max-disorder", type=_duration, metavar="DURATION",
                   help="scan in bounded memory: events may arrive at most this far (e.g. 1d, 30m, PT6H) behind "
                        "the latest ts read; later ones are rejected as late. Default: hold everything, any order")
    s.add_argument("--show-suppressed", action="store_true",
                   help="also list findings suppressed by a rule's exceptions (table and jsonl)")
    s.add_argument("--pipeline", "-p", metavar="NAME|PATH",
                   help="map source records (Frappe HRMS, Odoo, an XES log...) to events with this mapping "
                        "pipeline: a path or a bundled name (frappe-hrms, odoo, bpic2020); see docs/adapters.md")

    v = sub.add_parser("validate", help="check a ruleset; exit 2 with file:line:col errors",
                       description="Load a ruleset (a path or a bundled name) and report every problem.")
    v.add_argument("ruleset", help="ruleset path or bundled name")

    t = sub.add_parser("test", help="run a ruleset's own tests; exit 1 if one fails",
                       description="Run the tests written in a ruleset (its 'tests:'): each test's events are scanned "
                                   "as a batch and as a stream, which must agree, and the findings checked against "
                                   "what the test expects. Exit 0 when every test passes, 1 when one fails, 2 when "
                                   "the ruleset (or a test in it) is invalid.")
    t.add_argument("ruleset", help="ruleset path or bundled name")
    t.add_argument("--with-extended", action="store_true",
                   help="also run the tests of the rulesets it extends, against this ruleset")
    t.add_argument("-k", dest="names", action="append", metavar="TEXT",
                   help="only the tests whose name contains TEXT (repeatable)")

    d = sub.add_parser("detectors", help="list every detector with its parameters and defaults",
                       description="List every available detector with its parameters and their defaults.")
    d.add_argument("--format", "-f", choices=["text", "json"], default="text")

    dm = sub.add_parser("demo", help="scan the bundled example and write its files",
                        description="Scan the bundled example with the default ruleset: a small sales team over "
                                    "four weeks, one of whom behaves like the case in the seed article. Prints the "
                                    "findings and a per-employee summary and writes events.jsonl, findings.jsonl "
                                    "and report.md.")
    dm.add_argument("--out", "-o", default="hrguard-demo", metavar="DIR",
                    help="folder to write the events, findings and report to (default: hrguard-demo)")
    dm.add_argument("--ruleset", "-r", default="sales", help="ruleset path or bundled name (default: sales)")

    tr = sub.add_parser("trace", help="every operation on one customer, with the findings touching it",
                        description="List every event that names a customer (directly, in a plan item or summary "
                                    "claim, or through its approval requests and orders), by whom, in order, with "
                                    "the findings that cite those events.")
    tr.add_argument("customer", metavar="CUSTOMER_ID")
    tr.add_argument("events", nargs="+", metavar="EVENTS", help="event files (.jsonl or a JSON array); '-' reads stdin")
    tr.add_argument("--ruleset", "-r", default="sales", help="ruleset path or bundled name (default: sales)")
    tr.add_argument("--as-of", type=_instant, metavar="TS",
                    help="evaluate the findings at this RFC 3339 time")
    tr.add_argument("--no-findings", action="store_true", help="only the timeline: do not scan")

    sy = sub.add_parser("synth", help="write a synthetic sales company with ground truth",
                        description="Generate a deterministic (by seed) synthetic sales company in Shanghai: plans, "
                                    "GPS clock-ins, visits, calls, approvals, orders, invoices, payroll, leave and "
                                    "leavers, with misconduct injected into a minority of reps and honest noise. "
                                    "Writes events.jsonl, labels.jsonl and meta.json to DIR (replacing them), one "
                                    "day at a time.")
    sy.add_argument("--employees", "-n", type=_count("employees"), default=20, metavar="N",
                    help="headcount at the start (default: 20)")
    sy.add_argument("--days", "-d", type=_count("days"), default=30, metavar="D",
                    help="calendar days to simulate (default: 30)")
    sy.add_argument("--seed", "-s", type=int, default=1, metavar="S", help="random seed (default: 1)")
    sy.add_argument("--out", "-o", required=True, metavar="DIR", help="folder to write the dataset to")
    sy.add_argument("--start", type=_day, metavar="YYYY-MM-DD", help="first day (default: 2026-03-02, a Monday)")
    sy.add_argument("--misconduct", type=_share, default=0.1, metavar="SHARE",
                    help="share of sales reps given a misconduct scenario, 0 to 0.5 (default: 0.1; "
                         "0 for an honest company)")

    sc = sub.add_parser("schema", help="print the JSON Schema of events, rulesets or pipelines",
                        description="Print a JSON Schema: 'events' (one event record), 'ruleset' (a ruleset file) "
                                    "or 'pipeline' (a mapping pipeline file).")
    sc.add_argument("what", choices=["events", "ruleset", "pipeline"])
    return p


def _version() -> str:
    return __version__


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (never raises ``SystemExit`` itself)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help or --version, already printed
        return EXIT_OK if exc.code is None else exc.code if isinstance(exc.code, int) else EXIT_USAGE
    except UsageError as exc:
        _report_usage_error(exc)
        return EXIT_USAGE
    try:
        return _COMMANDS[args.command](args)
    except RulesetError as exc:
        _report_ruleset_error(exc)
        return EXIT_USAGE
    except InvalidEventError as exc:
        _err(f"rejected {exc.rejection}")
        _err("hrguard: stopped at the first rejected record (--strict); no findings were reported")
        return EXIT_REJECTED
    except UsageError as exc:
        _report_usage_error(exc)
        return EXIT_USAGE
    except PluginError as exc:
        _err(f"hrguard: {exc}")
        return EXIT_USAGE
    except HrguardError as exc:  # e.g. a MissingExtraError naming the extra to install
        _err(f"hrguard: {exc}")
        return EXIT_USAGE
    except BrokenPipeError:  # e.g. `hrguard scan ... | head`: the reader left, nothing to report
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except OSError as exc:
        _err(f"hrguard: {exc.filename or ''}: {exc.strerror or exc}".replace(": : ", ": "))
        return EXIT_USAGE
    except UnicodeDecodeError as exc:
        _err(f"hrguard: input is not UTF-8 text: {exc}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        _err("hrguard: interrupted")
        return EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - a bug: its own exit code, the traceback to report it with
        import traceback

        traceback.print_exc(file=sys.stderr)
        _err(f"hrguard: internal error (a bug in hrguard or a plugin, not a problem with the input): "
             f"{type(exc).__name__}: {exc}; please report it with the traceback above")
        return EXIT_INTERNAL


def _err(text: str) -> None:
    print(text, file=sys.stderr)


def _report_usage_error(exc: UsageError) -> None:
    """argparse's format for its own errors (usage, then ``prog: error: ...``); ``hrguard: ...`` for others."""
    if exc.usage is not None:
        sys.stderr.write(exc.usage)
        _err(f"{exc.prog}: error: {exc}")
    else:
        _err(f"hrguard: {exc}")


def _report_ruleset_error(exc: RulesetError) -> None:
    for prob in exc.problems:
        first, *rest = str(prob).splitlines() or [""]
        _err(first)
        for line in rest:
            _err(f"    {line}")
    n = len(exc.problems)
    what = "pipeline" if isinstance(exc, PipelineError) else "ruleset"
    _err(f"invalid {what}: {n} problem{'' if n == 1 else 's'}; nothing was loaded")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


# -- scan ----------------------------------------------------------------------------------------
def cmd_scan(args: argparse.Namespace) -> int:
    events = _event_files(args.events)
    if args.format == "parquet":
        if not args.out:
            raise UsageError("--format parquet writes a file: give it with --out FILE")
        require_pyarrow()  # before the scan, not after it
    ruleset = load_ruleset(args.ruleset)
    bar = Progress(sys.stderr, args.events).start() if not args.no_progress and wanted(sys.stderr) else None
    try:
        with watch_blocks(bar) if bar is not None else contextlib.nullcontext():
            result = scan(events, ruleset, as_of=args.as_of, strict=args.strict, max_disorder=args.max_disorder,
                          **({"pipeline": args.pipeline} if args.pipeline else {}))
    finally:
        if bar is not None:
            bar.close()
    for rej in result.rejected:
        _err(f"rejected {rej}")
    for err in result.errors:
        _err(f"DETECTOR ERROR: {err} (the rule was disabled for the rest of the scan)")
    for w in result.warnings:
        _err(f"warning: {w}")

    shown = result.findings
    if args.show_suppressed and result.suppressed:
        shown = sorted(result.findings + result.suppressed, key=Finding.sort_key)
    if args.format in ("csv", "parquet"):  # files people open: see hrguard.findings.to_csv / to_parquet
        target = args.out or sys.stdout
        (to_csv if args.format == "csv" else to_parquet)(shown, target)
        if not args.out:
            sys.stdout.flush()
        return _scan_end(args, result)
    out: TextIO = open(args.out, "w", encoding="utf-8") if args.out else sys.stdout
    try:
        if args.format == "jsonl":
            for f in shown:
                out.write(json.dumps(f.to_json_dict(), ensure_ascii=False) + "\n")
        elif args.format == "json":
            doc = {
                "summary": result.summary(),
                "findings": [f.to_json_dict() for f in result.findings],
                "suppressed": [f.to_json_dict() for f in result.suppressed],
                "rejected": [r.to_dict() for r in result.rejected],
                "warnings": list(result.warnings),
                "detector_errors": [str(e) for e in result.errors],
            }
            json.dump(doc, out, ensure_ascii=False, indent=2)
            out.write("\n")
        else:
            tty = out.isatty()
            out.write(render_table(shown, width=shutil.get_terminal_size().columns if tty else None,
                                   color=tty and _color_ok()))
        out.flush()
    finally:
        if args.out:
            out.close()
    return _scan_end(args, result)


def _scan_end(args: argparse.Namespace, result: Any) -> int:
    """The summary line and the exit code of a scan."""
    _err(summary_line(result))
    if result.errors:
        return EXIT_DETECTOR
    if args.fail_on:
        bar = Severity(args.fail_on).rank
        if any(f.severity.rank >= bar for f in result.findings):
            return EXIT_FINDINGS
    return EXIT_OK


def _event_files(paths: list[str]) -> Any:
    """The event files of a command line, checked up front: a missing file is a usage error (exit 2)."""
    for path in paths:  # a FIFO (`<(zcat f.gz)`) and /dev/null are files to read, not a usage error
        if path != "-" and (not Path(path).exists() or Path(path).is_dir()):
            raise UsageError(f"{path}: {'is a directory' if Path(path).is_dir() else 'no such events file'}")
    return paths[0] if len(paths) == 1 else list(paths)


def summary_line(result: Any) -> str:
    """The one line every scan ends with: what was read, found, suppressed, and as of when."""
    s = result.summary()
    sev = ", ".join(f"{s['by_severity'][v.value]} {v.value}" for v in reversed(Severity) if s["by_severity"][v.value])
    line = (f"{_plural(s['records'], 'record')}: {s['valid']} valid, {_plural(s['duplicates'], 'duplicate')}, "
            f"{s['rejected']} rejected; {_plural(s['findings'], 'finding')}{f' ({sev})' if sev else ''}, "
            f"{s['suppressed']} suppressed")
    skipped = getattr(result.stats, "skipped", 0)
    if skipped:
        line += f"; {_plural(skipped, 'source record')} skipped by the pipeline"
    after = getattr(result.stats, "after_as_of", 0)
    if after:
        line += f"; {_plural(after, 'event')} after the as-of time ignored"
    if s["detector_errors"]:
        line += f"; {_plural(s['detector_errors'], 'detector error')}"
    return line + f"; ruleset {s['ruleset']}, as of {s['as_of'] or '-'}"


# -- the table ------------------------------------------------------------------------------------
# -- validate ------------------------------------------------------------------------------------
def cmd_validate(args: argparse.Namespace) -> int:
    rs = load_ruleset(args.ruleset, tests=True)
    where = args.ruleset if Path(args.ruleset).is_file() else f"{args.ruleset} (bundled: {rs.source})"
    own = sum(1 for t in rs.tests or () if not t.inherited)
    tests = f"{_plural(own, 'test')}, " if own else ""
    print(f"{where}: ok — ruleset {rs.name!r}: {_plural(len(rs.rules), 'rule')}, {tests}"
          f"language {rs.language}, timezone {rs.timezone}")
    rows = [("NAME", "DETECTOR", "SEVERITY", "SCOPE", "EXCEPTIONS")]
    for r in rs.rules:
        scope = "; ".join(f"{k}: {', '.join(v)}" for k, v in r.scope.model_dump().items() if v) or "everyone"
        rows.append((r.name, r.use, r.severity.value, scope, str(len(r.exceptions))))
    widths = [max(cell_width(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print("  " + "  ".join(pad(c, w) for c, w in zip(row[:4], widths)) + "  " + row[4])
    return EXIT_OK


# -- test ----------------------------------------------------------------------------------------
def cmd_test(args: argparse.Namespace) -> int:
    rs = load_ruleset(args.ruleset, tests=True)
    results = run_ruleset_tests(rs, with_extended=args.with_extended, names=args.names)
    where = args.ruleset if Path(args.ruleset).is_file() else f"{args.ruleset} (bundled: {rs.source})"
    if not results:
        hint = ""
        inherited = sum(1 for t in rs.tests or () if t.inherited)
        if inherited and not args.with_extended:
            hint = f"; the rulesets it extends have {_plural(inherited, 'test')}: --with-extended runs them"
        selected = " matching -k" if args.names else ""
        print(f"{where}: no tests{selected}{hint}")
        return EXIT_OK
    files = sorted({r.test.file for r in results} - {rs.source})
    print(f"{where}: {_plural(len(results), 'test')}" + (f" (from {', '.join(files)})" if files else ""))
    for r in results:
        label = f"{r.test.ruleset}: {r.test.name}" if r.test.inherited else r.test.name
        print(f"  {'ok  ' if r.passed else 'FAIL'}  {label}")
        for failure in r.failures:
            for line in failure.splitlines():
                print(f"        {line}")
    failed = sum(1 for r in results if not r.passed)
    print(f"{_plural(len(results), 'test')}: {len(results) - failed} passed, {failed} failed; ruleset {rs.name}")
    return EXIT_FINDINGS if failed else EXIT_OK


# -- detectors -----------------------------------------------------------------------------------
def _type_name(schema: dict[str, Any]) -> str:
    if "anyOf" in schema:
        kinds = [_type_name(s) for s in schema["anyOf"]]
        return " or ".join(dict.fromkeys(kinds))
    if schema.get("x-hrguard-type") == "duration":
        return "duration"
    t = schema.get("type")
    if t == "array":
        return f"list of {_plural_type(_type_name(schema.get('items', {})))}"
    if t == "object" and isinstance(schema.get("additionalProperties"), dict):
        return f"map of {_plural_type(_type_name(schema['additionalProperties']))}"
    if "enum" in schema:
        return "|".join(map(str, schema["enum"]))
    return {"number": "number", "integer": "integer", "boolean": "bool", "string": "string", "null": "null",
            "object": "object"}.get(t, "any")


def _plural_type(name: str) -> str:
    return f"{name}s" if name.isalpha() and name != "any" else name


def detector_params(cls: Any) -> list[dict[str, Any]]:
    """Each parameter of a detector: name, type, whether required, default (as written in YAML), help."""
    props = cls.Params.model_json_schema().get("properties", {})
    try:
        defaults = cls.Params.model_validate({}).model_dump(mode="json")
    except Exception:  # some parameter is required: fall back to each field's own default
        defaults = {}
    out = []
    for name, info in cls.Params.model_fields.items():
        required = info.is_required()
        default = None
        if not required:
            default = defaults.get(name, info.get_default(call_default_factory=True))
            if isinstance(default, float) and default.is_integer():
                default = int(default)
        out.append({"name": name, "type": _type_name(props.get(name, {})), "required": required,
                    "default": default, "description": info.description or ""})
    return out


def cmd_detectors(args: argparse.Namespace) -> int:
    engine = default_engine()
    listing = []
    for det_id, reg in sorted(engine.registry.detectors.items()):
        cls = reg.obj
        listing.append({"id": det_id, "title": cls.title, "default_severity": cls.default_severity.value,
                        "plugin": reg.plugin, "distribution": reg.distribution, "version": reg.version,
                        "params": detector_params(cls)})
    if args.format == "json":
        print(json.dumps(listing, indent=2, ensure_ascii=False, default=str))
        return EXIT_OK
    for i, det in enumerate(listing):
        dist = " ".join(x for x in (det["distribution"], det["version"]) if x)
        origin = "built in" if det["plugin"] == "hrguard.plugins.builtins" else \
            f"plugin {det['plugin']}" + (f" ({dist})" if dist else "")
        if i:
            print()
        print(f"{det['id']}  {det['title']}")
        print(f"  default severity {det['default_severity']}; {origin}")
        rows = [("PARAM", "TYPE", "DEFAULT", "")]
        for prm in det["params"]:
            default = "(required)" if prm["required"] else json.dumps(prm["default"], ensure_ascii=False, default=str)
            rows.append((prm["name"], prm["type"], default, prm["description"]))
        if len(rows) == 1:
            print("  (no parameters)")
            continue
        widths = [max(cell_width(r[k]) for r in rows) for k in range(3)]
        for r in rows:
            print(("  " + "  ".join(pad(c, w) for c, w in zip(r[:3], widths)) + "  " + r[3]).rstrip())
    return EXIT_OK


# -- demo / trace --------------------------------------------------------------------------------
def cmd_demo(args: argparse.Namespace) -> int:
    load_ruleset(args.ruleset)  # an invalid ruleset is reported (exit 2) before anything is written
    run_demo(args.out, args.ruleset)
    return EXIT_OK


def cmd_trace(args: argparse.Namespace) -> int:
    events = _event_files(args.events)
    ruleset = None if args.no_findings else load_ruleset(args.ruleset)
    trace = trace_customer(events, args.customer, ruleset, args.as_of)
    width = shutil.get_terminal_size().columns if sys.stdout.isatty() else 10**9
    sys.stdout.write(render_trace(trace, width=width))
    return EXIT_OK


# -- synth ---------------------------------------------------------------------------------------
def cmd_synth(args: argparse.Namespace) -> int:
    cfg = SynthConfig(employees=args.employees, days=args.days, seed=args.seed, misconduct=args.misconduct,
                      **({"start": args.start} if args.start else {}))
    try:
        cfg.check()
    except InvalidArgumentError as exc:
        raise UsageError(str(exc)) from None
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"{args.out}: exists and is not a folder")
    t0 = time.perf_counter()
    res = write_dataset(out, cfg)
    last = cfg.start + timedelta(days=cfg.days - 1)
    hires = res.employees - cfg.employees
    print(f"Wrote a synthetic sales company to {args.out}: {cfg.employees} employees"
          f"{f' (and {hires} hired later)' if hires > 0 else ''} over {cfg.days} days "
          f"({cfg.start.isoformat()} to {last.isoformat()}), seed {cfg.seed}.")
    print(f"  events.jsonl  {res.events:,} events")
    scen = ", ".join(f"{k} {v}" for k, v in res.by_scenario.items() if v)
    print(f"  labels.jsonl  {res.labels:,} labels ({scen or 'none'})")
    print("  meta.json     the configuration, counts and roster")
    if sys.stderr.isatty():
        secs = time.perf_counter() - t0
        _err(f"({secs:.1f} s, {res.events / max(secs, 1e-9):,.0f} events/s)")
    return EXIT_OK


# -- schema --------------------------------------------------------------------------------------
def cmd_schema(args: argparse.Namespace) -> int:
    engine = default_engine()
    if args.what == "events":
        schema = events_json_schema(tuple(engine.kinds.values()))
    elif args.what == "pipeline":
        schema = pipeline_json_schema()
    else:
        schema = ruleset_json_schema(engine)
    print(json.dumps(schema, indent=2, ensure_ascii=False))
    return EXIT_OK


_COMMANDS = {"scan": cmd_scan, "validate": cmd_validate, "test": cmd_test, "detectors": cmd_detectors, "schema": cmd_schema,
             "demo": cmd_demo, "trace": cmd_trace, "synth": cmd_synth}
