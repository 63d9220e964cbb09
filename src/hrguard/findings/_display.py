"""Findings shown to people: an aligned terminal table, an HTML table, a pandas DataFrame.

The command line prints :func:`render_table`; a :class:`~hrguard.ScanResult` shows :func:`to_html` in
Jupyter and gives :func:`to_pandas` (both also in :mod:`hrguard.notebook`).
"""

from __future__ import annotations

import html
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import MissingExtraError
from ._model import Finding, Severity

__all__ = ["BASE_COLUMNS", "cell_width", "findings_of", "pad", "render_table", "require_pandas", "to_html",
           "to_pandas"]

BASE_COLUMNS = ("id", "rule", "name", "severity", "ts", "employee_id", "customer_id", "message", "evidence",
                "details", "tenant", "suppressed_by")
"""The columns of :func:`to_pandas` before the flattened ``details.*`` ones."""


# -- the terminal table ------------------------------------------------------------------------------
_COLORS = {"critical": "1;31", "high": "31", "medium": "33", "low": "36", "info": "2"}


def cell_width(text: str) -> int:
    """Terminal columns ``text`` takes: East Asian wide and full-width characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 0 if unicodedata.combining(ch) else 1 for ch in text)


def pad(text: str, width: int) -> str:
    """``text`` padded with spaces to ``width`` terminal columns."""
    return text + " " * max(0, width - cell_width(text))


def _cut(text: str, width: int) -> str:
    if cell_width(text) <= width:
        return text
    out, used = [], 0
    for ch in text:
        w = cell_width(ch)
        if used + w > width - 1:
            break
        out.append(ch)
        used += w
    return "".join(out) + "…"


def render_table(findings: list[Finding], width: int | None = None, color: bool = False) -> str:
    """Findings as an aligned table: time (local to the ruleset), severity, rule, who, message.

    ``width`` is the terminal's width: messages are cut to fit it (never below 24 columns); ``None``
    keeps them whole (files and pipes). A suppressed finding's message starts with the reason.
    """
    if not findings:
        return "No findings.\n"
    head = ("TIME", "SEVERITY", "RULE", "EMPLOYEE", "CUSTOMER", "MESSAGE")
    rows = []
    for f in findings:
        msg = f"[suppressed: {f.suppressed_by}] {f.message}" if f.suppressed_by else f.message
        msg = " ".join(msg.split())  # one line per finding, whatever the template did
        rows.append((f.ts.strftime("%Y-%m-%d %H:%M"), f.severity.value, f.name, f.employee_id or "-",
                     f.customer_id or "-", msg))
    widths = [max(cell_width(r[i]) for r in [head, *rows]) for i in range(5)]
    room = None if width is None else max(24, width - sum(widths) - 2 * 5 - 1)
    if room is not None:
        rows = [(*r[:5], _cut(r[5], room)) for r in rows]
    msg_w = max(cell_width(r[5]) for r in [head, *rows])

    def line(cells: Sequence[str], sev: str | None = None) -> str:
        parts = [pad(c, w) for c, w in zip(cells[:5], widths)]
        if sev is not None and color:  # colour the word, not its padding
            parts[1] = f"\x1b[{_COLORS[sev]}m{cells[1]}\x1b[0m" + parts[1][len(cells[1]):]
        return "  ".join(parts) + "  " + cells[5]

    lines = [line(head), "  ".join("-" * w for w in [*widths, msg_w])]
    lines += [line(r, r[1]) for r in rows]
    return "\n".join(lines) + "\n"


# -- pandas and HTML ----------------------------------------------------------------------------------
def require_pandas() -> Any:
    """The pandas module; :class:`~hrguard.MissingExtraError` naming the ``pandas`` extra without it."""
    try:
        import pandas as pd
    except ImportError as exc:
        raise MissingExtraError("pandas", "pandas") from exc
    return pd


def findings_of(result: Any, suppressed: bool = False) -> list[Finding]:
    """The findings of a :class:`~hrguard.ScanResult` (with its suppressed ones, in order, if asked), or
    of a list of findings."""
    if hasattr(result, "findings"):
        out = list(result.findings)
        if suppressed:
            out = sorted(out + list(getattr(result, "suppressed", [])), key=Finding.sort_key)
        return out
    return list(result)


def flat_details(details: Mapping[str, Any]) -> dict[str, Any]:
    """The scalar values of ``details``, one level of nested mappings included (``expected.customer_id``)."""
    out: dict[str, Any] = {}
    for k, v in details.items():
        if isinstance(v, Mapping):
            for k2, v2 in v.items():
                if v2 is None or isinstance(v2, (str, int, float, bool)):
                    out[f"details.{k}.{k2}"] = v2
        elif v is None or isinstance(v, (str, int, float, bool)):
            out[f"details.{k}"] = v
    return out


def to_pandas(result: Any, *, suppressed: bool = False) -> Any:
    """The findings of ``result`` (a :class:`~hrguard.ScanResult` or a list of findings) as a DataFrame.

    One row per finding, in ``(ts, id)`` order: ``id``, ``rule`` (detector id), ``name`` (rule name),
    ``severity`` (an ordered categorical, ``info < ... < critical``), ``ts`` (timezone-aware),
    ``employee_id``, ``customer_id``, ``message``, ``evidence`` (a list of event ids), ``details``
    (the dict), ``tenant``, ``suppressed_by``, then every scalar of ``details`` as a ``details.<key>``
    column (one level of nested mappings as ``details.<key>.<key>``; missing where a rule has no
    such key). ``suppressed=True`` adds the findings suppressed by exceptions (their
    ``suppressed_by`` says why). Raises :class:`~hrguard.MissingExtraError` without pandas.
    """
    pd = require_pandas()
    findings = findings_of(result, suppressed)
    rows, extra = [], {}
    for f in findings:
        row = {"id": f.id, "rule": f.rule, "name": f.name, "severity": f.severity.value, "ts": f.ts,
               "employee_id": f.employee_id, "customer_id": f.customer_id, "message": f.message,
               "evidence": list(f.evidence), "details": dict(f.details), "tenant": f.tenant,
               "suppressed_by": f.suppressed_by}
        flat = flat_details(f.details)
        extra.update(dict.fromkeys(flat))
        rows.append({**row, **flat})
    df = pd.DataFrame(rows, columns=[*BASE_COLUMNS, *extra])
    df["severity"] = pd.Categorical(df["severity"], categories=[s.value for s in Severity], ordered=True)
    if findings:
        zone = findings[0].ts.tzinfo
        ts = pd.to_datetime([f.ts.isoformat() for f in findings], utc=True)
        df["ts"] = ts.tz_convert(zone) if all(f.ts.tzinfo == zone for f in findings) else ts
    else:
        df["ts"] = pd.to_datetime(pd.Series([], dtype="object"), utc=True)
    return df


def _caption(result: Any) -> str:
    s = result.summary()
    sev = ", ".join(f"{n} {k}" for k, n in reversed(list(s["by_severity"].items())) if n)
    as_of = f", as of {s['as_of']}" if s["as_of"] else ""
    return (f"{s['records']} records: {s['valid']} valid, {s['duplicates']} duplicates, {s['rejected']} rejected; "
            f"{s['findings']} findings{f' ({sev})' if sev else ''}, {s['suppressed']} suppressed; "
            f"ruleset {s['ruleset']}{as_of}")


def to_html(result: Any, max_rows: int = 50) -> str:
    """An HTML table of the findings (what a :class:`~hrguard.ScanResult` shows in Jupyter); no extra needed.

    The first ``max_rows`` findings, and the scan's summary line as the caption.
    """
    findings = findings_of(result)
    esc = html.escape
    caption = _caption(result) if hasattr(result, "summary") else f"{len(findings)} findings"
    head = ("time", "severity", "rule", "employee", "customer", "message", "evidence")
    out = ['<table class="hrguard-findings">', f"<caption style=\"text-align:left\">{esc(caption)}</caption>",
           "<thead><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr></thead>", "<tbody>"]
    for f in findings[:max_rows]:
        cells = (f.ts.strftime("%Y-%m-%d %H:%M"), f.severity.value, f.name, f.employee_id or "", f.customer_id or "",
                 f.message, ", ".join(f.evidence[:3]) + (f" (+{len(f.evidence) - 3})" if len(f.evidence) > 3 else ""))
        out.append("<tr>" + "".join(f'<td style="text-align:left">{esc(str(c))}</td>' for c in cells) + "</tr>")
    if len(findings) > max_rows:
        out.append(f'<tr><td colspan="{len(head)}" style="text-align:left">… {len(findings) - max_rows} more '
                   f"(<code>result.to_pandas()</code> has them all)</td></tr>")
    out += ["</tbody>", "</table>"]
    return "\n".join(out)


