"""The ``hrguard`` command line: scan, validate, detectors, schema (also ``python -m hrguard``).

Exit codes: 0 success (findings or not); 1 findings at or above ``--fail-on``; 2 bad usage or an
invalid ruleset; 3 rejected input records in ``--strict`` mode; 4 a detector raised (reported).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from typing import Any, Sequence, TextIO

from .errors import HrguardError, InvalidEventError, PluginError, RulesetError
from .findings import Finding, Severity

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_REJECTED, EXIT_DETECTOR = 0, 1, 2, 3, 4


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse exits 2 already; keep the message short
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="hrguard", description="Catch workplace misconduct risk in HR event records.")
    p.add_argument("--version", action="version", version=f"hrguard {_version()}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    s = sub.add_parser("scan", help="scan JSON Lines / JSON files of events ('-' = stdin)")
    s.add_argument("events", nargs="+", help="event files (.jsonl or a JSON array); '-' reads stdin")
    s.add_argument("--ruleset", "-r", default="sales", help="ruleset path or bundled name (default: sales)")
    s.add_argument("--as-of", help="evaluate at this RFC 3339 time (default: the latest event's ts)")
    s.add_argument("--format", "-f", choices=["table", "jsonl", "json"], default="table")
    s.add_argument("--out", "-o", help="write findings here instead of stdout")
    s.add_argument("--fail-on", choices=[x.value for x in Severity], help="exit 1 when a finding is at least this severe")
    s.add_argument("--strict", action="store_true", help="stop at the first rejected record (exit 3)")
    s.add_argument("--show-suppressed", action="store_true", help="also list findings suppressed by exceptions")

    v = sub.add_parser("validate", help="check a ruleset; exit 2 with located errors")
    v.add_argument("ruleset", help="ruleset path or bundled name")

    sub.add_parser("detectors", help="list every detector (built in and from plugins) with its parameters")

    sc = sub.add_parser("schema", help="print the JSON Schema of events or rulesets")
    sc.add_argument("what", choices=["events", "ruleset"])
    return p


def _version() -> str:
    from . import __version__

    return __version__


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _COMMANDS[args.command](args)
    except RulesetError as exc:
        print(f"invalid ruleset ({len(exc.problems)} problem{'s' if len(exc.problems) != 1 else ''}):", file=sys.stderr)
        for prob in exc.problems:
            print(f"  {prob}", file=sys.stderr)
        return EXIT_USAGE
    except InvalidEventError as exc:
        print(f"rejected record (strict mode): {exc}", file=sys.stderr)
        return EXIT_REJECTED
    except PluginError as exc:
        print(f"plugin error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        print(f"hrguard: {exc.strerror}: {exc.filename}", file=sys.stderr)
        return EXIT_USAGE
    except (ValueError, HrguardError) as exc:
        print(f"hrguard: {exc}", file=sys.stderr)
        return EXIT_USAGE


# -- scan ----------------------------------------------------------------------------------------
def cmd_scan(args: argparse.Namespace) -> int:
    from .engine import scan
    from .ruleset import load_ruleset

    ruleset = load_ruleset(args.ruleset)
    events: Any = args.events[0] if len(args.events) == 1 else args.events
    result = scan(events, ruleset, as_of=args.as_of, strict=args.strict)
    for rej in result.rejected:
        print(f"rejected: {rej}", file=sys.stderr)
    for err in result.errors:
        print(f"DETECTOR ERROR: {err} (the rule was disabled for the rest of the scan)", file=sys.stderr)
    for w in result.warnings:
        print(f"warning: {w}", file=sys.stderr)
    out: TextIO = open(args.out, "w", encoding="utf-8") if args.out else sys.stdout
    try:
        shown = result.findings + (result.suppressed if args.show_suppressed else [])
        if args.format == "jsonl":
            for f in shown:
                out.write(json.dumps(f.to_json_dict(), ensure_ascii=False) + "\n")
        elif args.format == "json":
            json.dump({"summary": result.summary(), "findings": [f.to_json_dict() for f in shown],
                       "rejected": [r.to_dict() for r in result.rejected]}, out, ensure_ascii=False, indent=2)
            out.write("\n")
        else:
            out.write(render_table(shown, width=_width(out)))
    finally:
        if args.out:
            out.close()
    s = result.summary()
    print(
        f"{s['records']} records: {s['valid']} valid, {s['duplicates']} duplicate, {s['rejected']} rejected; "
        f"{s['findings']} findings ({', '.join(f'{v} {k}' for k, v in s['by_severity'].items() if v) or 'none'}), "
        f"{s['suppressed']} suppressed; ruleset {s['ruleset']}, as of {s['as_of']}",
        file=sys.stderr,
    )
    if result.errors:
        return EXIT_DETECTOR
    if args.fail_on:
        bar = Severity(args.fail_on).rank
        if any(f.severity.rank >= bar for f in result.findings):
            return EXIT_FINDINGS
    return EXIT_OK


def _width(out: TextIO) -> int:
    return shutil.get_terminal_size((120, 24)).columns if out.isatty() else 160


def render_table(findings: list[Finding], width: int = 120) -> str:
    """Findings as an aligned text table for a terminal (the message is cut to fit ``width``)."""
    if not findings:
        return "No findings.\n"
    rows = [("TIME", "SEVERITY", "RULE", "EMPLOYEE", "CUSTOMER", "MESSAGE")]
    for f in findings:
        rows.append((f.ts.strftime("%Y-%m-%d %H:%M"), f.severity.value + ("*" if f.suppressed_by else ""),
                     f.name, f.employee_id or "-", f.customer_id or "-", f.message))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    fixed = sum(widths) + 2 * 5
    lines = []
    for r in rows:
        msg = r[5]
        room = max(20, width - fixed)
        if len(msg) > room:
            msg = msg[: room - 1] + "…"
        lines.append("  ".join(c.ljust(w) for c, w in zip(r[:5], widths)) + "  " + msg)
    lines.insert(1, "  ".join("-" * w for w in widths) + "  " + "-" * min(40, max(len(r[5]) for r in rows)))
    return "\n".join(lines) + "\n"


# -- validate / detectors / schema --------------------------------------------------------------------
def cmd_validate(args: argparse.Namespace) -> int:
    from .ruleset import load_ruleset

    rs = load_ruleset(args.ruleset)
    print(f"{rs.source}: ok — ruleset {rs.name!r}, {len(rs.rules)} rule(s), language {rs.language}, timezone {rs.timezone}")
    for r in rs.rules:
        print(f"  {r.name:<28} {r.use:<28} {r.severity.value}")
    return EXIT_OK


def cmd_detectors(args: argparse.Namespace) -> int:
    from .engine import default_engine
    from .timeutil import format_duration

    engine = default_engine()
    for det_id, reg in sorted(engine.registry.detectors.items()):
        cls = reg.obj
        origin = reg.plugin + (f" {reg.version}" if reg.version else "")
        print(f"{det_id}  [{cls.default_severity.value}]  {cls.title}  (from {origin})")
        for name, info in cls.Params.model_fields.items():
            if info.is_required():
                default = "required"
            else:
                d = info.get_default(call_default_factory=True)
                try:
                    d = cls.Params.model_validate({}).model_dump(mode="json").get(name, d)
                except Exception:
                    pass
                default = f"default {json.dumps(d, ensure_ascii=False, default=str)}"
            desc = f" — {info.description}" if info.description else ""
            print(f"    {name}: {default}{desc}")
    _ = format_duration
    return EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    from .engine import default_engine
    from .events import events_json_schema
    from .ruleset import ruleset_json_schema

    engine = default_engine()
    if args.what == "events":
        schema = events_json_schema(tuple(engine.kinds.values()))
    else:
        schema = ruleset_json_schema(engine)
    print(json.dumps(schema, indent=2, ensure_ascii=False))
    return EXIT_OK


_COMMANDS = {"scan": cmd_scan, "validate": cmd_validate, "detectors": cmd_detectors, "schema": cmd_schema}
