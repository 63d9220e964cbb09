"""Findings as files people open: CSV for spreadsheets, Parquet for data teams.

**CSV** (:func:`to_csv`, ``hrguard scan --format csv``): one row per finding, in ``(ts, id)`` order, with
the columns of :data:`CSV_COLUMNS` and then one ``details.<key>`` column per scalar of the findings'
``details`` (one level of nested mappings as ``details.<key>.<key>``, as :func:`to_pandas` names them;
in order of first appearance, empty where a rule has no such key). ``details`` itself is there too, as
JSON text, so nothing is lost (lists, deeper values). ``evidence`` is the event ids joined with ``"; "``
and ``evidence_count`` their number; ``ts`` is RFC 3339 with the ruleset's offset; empty cells are
null; ``true``/``false`` as in JSON.

The file is UTF-8 with a byte order mark, ``\\r\\n`` line ends: Excel reads UTF-8 (a Chinese message,
an accented name) only when the file starts with the mark; Python's ``csv`` module reads it with
``encoding="utf-8-sig"``, pandas' ``read_csv`` skips it by itself. Written to a stream (stdout) there is
no mark unless asked for. A text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return is written with a ``'`` in front, so a spreadsheet shows it as text instead of running it as a
formula (CSV injection: a customer's name or a summary is typed by people); numbers are never changed.

**Parquet** (:func:`to_parquet`, ``--format parquet --out FILE``, needs pyarrow: the ``tables`` extra):
the same findings with types: ``ts`` a timestamp with the ruleset's time zone, ``evidence`` a list of
strings, ``details`` JSON text (a rule's details have their own keys and types, so one typed column per
key would not hold every rule's), ``severity`` text, the rest text or null.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable
from datetime import timezone
from typing import IO, Any

from ..errors import MissingExtraError
from ._display import findings_of, flat_details
from ._model import Finding

__all__ = ["CSV_COLUMNS", "csv_rows", "findings_table", "require_pyarrow", "to_csv", "to_parquet"]

CSV_COLUMNS = ("id", "rule", "name", "severity", "ts", "employee_id", "customer_id", "tenant", "message",
               "evidence", "evidence_count", "details", "suppressed_by")
"""The columns of :func:`to_csv` before the flattened ``details.*`` ones."""

EVIDENCE_SEP = "; "
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return "'" + value if value.startswith(_FORMULA) else value
    if isinstance(value, (int, float)):
        return value
    return _cell(str(value))


def csv_rows(findings: Iterable[Finding]) -> tuple[list[str], list[list[Any]]]:
    """The header and the rows of :func:`to_csv` (cells as written, before quoting)."""
    base, flat, extra = [], [], {}
    for f in findings:
        base.append([f.id, f.rule, f.name, f.severity.value, f.ts.isoformat(), f.employee_id, f.customer_id, f.tenant,
                     f.message, EVIDENCE_SEP.join(f.evidence), len(f.evidence),
                     json.dumps(f.details, ensure_ascii=False, sort_keys=True, default=str) if f.details else "",
                     f.suppressed_by])
        d = flat_details(f.details)
        extra.update(dict.fromkeys(d))
        flat.append(d)
    keys = list(extra)
    rows = [[_cell(v) for v in b] + [_cell(d.get(k)) for k in keys] for b, d in zip(base, flat)]
    return [*CSV_COLUMNS, *keys], rows


def to_csv(result: Any, target: str | os.PathLike[str] | IO[str], *, suppressed: bool = False,
           bom: bool | None = None) -> int:
    """Write the findings of ``result`` (a :class:`~hrguard.ScanResult` or a list of findings) as CSV to
    ``target`` (a path, or a text stream such as ``sys.stdout``); the number of findings written.

    ``suppressed=True`` adds the findings suppressed by exceptions (``suppressed_by`` says why).
    ``bom``: start with a UTF-8 byte order mark (default: for a path, yes, so Excel reads the text as
    UTF-8; for a stream, no).
    """
    header, rows = csv_rows(findings_of(result, suppressed))
    if isinstance(target, (str, os.PathLike)):
        with open(target, "w", encoding="utf-8-sig" if bom is not False else "utf-8", newline="") as fh:
            _write(fh, header, rows)
    else:
        if bom:
            target.write("\ufeff")
        _write(target, header, rows)
    return len(rows)


def _write(fh: IO[str], header: list[str], rows: list[list[Any]]) -> None:
    w = csv.writer(fh, lineterminator="\r\n")
    w.writerow(header)
    w.writerows(rows)


def require_pyarrow() -> Any:
    """The pyarrow module (with ``pyarrow.parquet``); :class:`~hrguard.MissingExtraError` naming the
    ``tables`` extra without it."""
    try:
        import pyarrow
        import pyarrow.parquet  # noqa: F401
    except ImportError as exc:
        raise MissingExtraError("pyarrow (for Parquet)", "tables") from exc
    return pyarrow


def findings_table(findings: Iterable[Finding], *, zone: str | None = None) -> Any:
    """The findings as a pyarrow Table with the columns of :func:`to_parquet` (one row per finding, in the
    order given); ``ts`` in time zone ``zone`` (default: the findings' own zone when they share one, else
    UTC). The schema is the same whatever the findings, none included. Needs pyarrow (the ``tables`` extra)."""
    pa = require_pyarrow()
    findings = list(findings)
    if zone is None:
        zones = {getattr(f.ts.tzinfo, "key", None) for f in findings}
        zone = zones.pop() if len(zones) == 1 and None not in zones else "UTC"
    text = pa.string()
    schema = pa.schema([
        ("id", text), ("rule", text), ("name", text), ("severity", text), ("ts", pa.timestamp("us", tz=zone)),
        ("employee_id", text), ("customer_id", text), ("tenant", text), ("message", text),
        ("evidence", pa.list_(text)), ("details", text), ("suppressed_by", text)])
    cols = {
        "id": [f.id for f in findings], "rule": [f.rule for f in findings], "name": [f.name for f in findings],
        "severity": [f.severity.value for f in findings],
        "ts": [f.ts.astimezone(timezone.utc) for f in findings],
        "employee_id": [f.employee_id for f in findings], "customer_id": [f.customer_id for f in findings],
        "tenant": [f.tenant for f in findings], "message": [f.message for f in findings],
        "evidence": [list(f.evidence) for f in findings],
        "details": [json.dumps(f.details, ensure_ascii=False, sort_keys=True, default=str) for f in findings],
        "suppressed_by": [f.suppressed_by for f in findings],
    }
    return pa.table({k: pa.array(v, type=schema.field(k).type) for k, v in cols.items()}, schema=schema)


def to_parquet(result: Any, path: str | os.PathLike[str] | IO[bytes], *, suppressed: bool = False) -> int:
    """Write the findings of ``result`` to a Parquet file at ``path`` (see the module's docstring for the
    columns); the number of findings written. Raises :class:`~hrguard.MissingExtraError` without pyarrow."""
    pa = require_pyarrow()
    table = findings_table(findings_of(result, suppressed))
    sink = path if not isinstance(path, (str, os.PathLike)) else os.fspath(path)
    pa.parquet.write_table(table, sink)
    return table.num_rows
