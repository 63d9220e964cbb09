"""``expr``: a condition written in the ruleset itself, in CEL (never Python), judged per event.

Each expression is compiled once when the ruleset loads (a syntax error is a located ruleset
error). Only the event fields the expression names are converted and passed to CEL — most of the
cost of a CEL call is converting its context — and CEL is never given a list of events.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import numpy as np
from pydantic import Field, field_validator

from ..columns import BOOL, CODE, DATE, FLOAT, INSTANT, NESTED, NULL_INT, OBJECT, TIME, Chunk, entry_rows
from ..events import days_to_date, from_us
from ..findings import Severity
from ..sdk import Detector, DetectorParams, RuleContext

_FIELD = re.compile(r"\bevent\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)")
_EVENT_WHOLE = re.compile(r"\bevent\b(?!\s*\.)")
_TEMPLATE = re.compile(r"\{\s*(?:event\.)?([A-Za-z_][A-Za-z0-9_]*)(?:\.([A-Za-z_][A-Za-z0-9_]*))?\s*\}")
_ENVELOPE = ("id", "kind", "ts", "employee_id", "tenant", "attrs")


MAX_CEL_CHARS = 2_000
"""The longest condition (characters): rules' conditions are a line or two."""
MAX_CEL_TOKENS = 400
"""The most tokens (names, literals, operators) a condition may have: 14,000 chained ``+`` crashed the CEL
library (a stack overflow in native code, which no ``try`` can catch)."""
MAX_CEL_DEPTH = 24
"""The deepest nesting of parentheses, brackets and braces."""
MAX_CEL_MACROS = 2
"""The most comprehension macros (``all``, ``exists``, ``exists_one``, ``map``, ``filter``): each multiplies
an evaluation's work by the size of a list, so at most two keep it polynomial in the event's own lists
(seven nested over small lists made a scan hang)."""

_TOKEN = re.compile(r"""\s*(?:("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|([A-Za-z_][A-Za-z0-9_]*)|(\d[\d.eExXa-fA-FuU+-]*)|(\|\||&&|==|!=|<=|>=|[-+*/%!<>?:.,()\[\]{}]))""")
_MACRO = re.compile(r"\.\s*(?:all|exists|exists_one|map|filter)\s*\(")


def cel_limits(condition: str) -> str | None:
    """Why ``condition`` is over hrguard's limits for CEL (checked before the CEL library sees it), or None."""
    if len(condition) > MAX_CEL_CHARS:
        return f"the condition has {len(condition):,} characters (the limit is {MAX_CEL_CHARS:,})"
    tokens = depth = deepest = 0
    for m in _TOKEN.finditer(condition):
        tokens += 1
        op = m.group(4)
        if op in ("(", "[", "{"):
            depth += 1
            deepest = max(deepest, depth)
        elif op in (")", "]", "}"):
            depth -= 1
        if tokens > MAX_CEL_TOKENS:
            return f"the condition has more than {MAX_CEL_TOKENS} tokens (names, literals, operators)"
    if deepest > MAX_CEL_DEPTH:
        return f"the condition nests parentheses and brackets {deepest} deep (the limit is {MAX_CEL_DEPTH})"
    macros = len(_MACRO.findall(condition))
    if macros > MAX_CEL_MACROS:
        return (f"the condition uses {macros} comprehensions (all, exists, exists_one, map, filter; the limit is "
                f"{MAX_CEL_MACROS})")
    return None


def _compile(condition: str) -> Any:
    import cel

    return cel.compile(condition)


class ExprParams(DetectorParams):
    on: list[str] = Field(min_length=1, description="event kind(s) the condition judges")
    condition: str = Field(min_length=1, description="a CEL boolean expression over `event`, e.g. event.amount > 100000")
    message: str | None = Field(default=None, description="message template; {field} or {event.field} are replaced by the event's values")

    @field_validator("on", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        if isinstance(v, str):
            return [v]
        if isinstance(v, list) and all(isinstance(k, str) for k in v):
            return list(dict.fromkeys(v))  # a kind named twice is judged once (else: duplicate findings)
        return v

    @field_validator("condition")
    @classmethod
    def _cel_syntax(cls, v: str) -> str:
        over = cel_limits(v)
        if over is not None:
            raise ValueError(f"refused: {over}")
        try:
            _compile(v)
        except Exception as exc:  # the CEL library raises ValueError with a located message
            raise ValueError(f"CEL syntax error: {exc}") from None
        return v


class ExprRule(Detector):
    id = "expr"
    title = "A condition written in the ruleset itself (CEL)"
    Params = ExprParams
    default_severity = Severity.medium
    messages = {"en": {"default": "{name}: condition met on {kind} {event_id}"},
                "zh": {"default": "{name}：{kind} {event_id} 满足条件"}}
    #: the compiled condition is made from the params anew by a fresh instance, never saved
    not_state = frozenset({"program"})

    @classmethod
    def check(cls, params: ExprParams, kinds: set[str]) -> list[tuple[tuple[Any, ...], str]]:
        """Cross-checks needing the engine: every kind in ``on`` must exist."""
        return [(("on", i), f"unknown event kind {k!r} in 'on' (known kinds: {', '.join(sorted(kinds))})")
                for i, k in enumerate(params.on) if k not in kinds]

    def __init__(self, params: ExprParams, ctx: RuleContext):
        super().__init__(params, ctx)
        self.program = _compile(params.condition)
        cond = params.condition
        self.named: list[str] = sorted(set(_FIELD.findall(cond)))
        self.whole = bool(_EVENT_WHOLE.search(cond))  # `event` used as a value: pass every field
        self.eval_errors = 0
        self.first_errors: list[str] = []

    def _context(self, chunk: Chunk, kind: str, rows: np.ndarray) -> list[dict[str, Any]]:
        f = chunk.frame
        table = f.tables[f.strings.find(kind)]
        wanted = list(self.named)
        if self.whole:  # every field of the kind, and the named ones it lacks (as null)
            wanted = list(dict.fromkeys([n for n, _ in table.layout.fields] + list(_ENVELOPE) + wanted))
        types = dict(table.layout.fields)
        k = f.kind_index[rows]
        cols: dict[str, list[Any]] = {}
        strings = f.strings
        for name in wanted:
            if name == "id":
                cols[name] = f.ids[rows].tolist()
            elif name == "kind":
                cols[name] = [kind] * rows.size
            elif name == "ts":
                cols[name] = [from_us(t) for t in f.ts[rows].tolist()]
            elif name in ("employee_id", "tenant"):
                cols[name] = strings.texts((f.employee if name == "employee_id" else f.tenant)[rows])
            elif name == "attrs":
                cols[name] = [a or {} for a in table.cols["attrs"][k]]
            elif types.get(name) == NESTED:
                cols[name] = _entries(table, name, k, strings)
            elif name in types:
                cols[name] = _values(types[name], table.cols[name][k], strings)
            else:
                cols[name] = [None] * rows.size  # a field this kind lacks is null
        names = list(cols)
        if not names:  # the condition reads no field (`true`): still one context per event
            return [{} for _ in range(rows.size)]
        return [dict(zip(names, vals)) for vals in zip(*(cols[n] for n in names))]

    def process(self, chunk: Chunk) -> None:
        p = self.params
        f = chunk.frame
        for kind in p.on:
            rows = chunk.rows(kind)
            if rows.size == 0:
                continue
            contexts = self._context(chunk, kind, rows)
            execute = self.program.execute
            for row, ctx in zip(rows.tolist(), contexts):
                try:
                    hit = execute({"event": ctx})
                except Exception as exc:  # a type error or missing key on one event: counted, reported
                    self._error(f.ids[row], str(exc))
                    continue
                if hit is True:
                    self._fire(chunk, kind, row, ctx)
                elif hit is not False:  # "fires when true": anything but a boolean is an error, not a no
                    self._error(f.ids[row], f"the condition gave {hit!r}, not a boolean")

    def _error(self, event_id: str, problem: str) -> None:
        self.eval_errors += 1
        if len(self.first_errors) < 5:
            self.first_errors.append(f"event {event_id}: {problem}")

    def _fire(self, chunk: Chunk, kind: str, row: int, ctx: dict[str, Any]) -> None:
        f = chunk.frame
        full = chunk.event(row)
        details = {"condition": self.params.condition,
                   "values": {k: _jsonable(v) for k, v in ctx.items() if k not in ("id", "kind")}}
        customer = full.get("customer_id") if isinstance(full.get("customer_id"), str) else None
        if self.params.message:
            message = _TEMPLATE.sub(lambda m: _lookup(full, m.group(1), m.group(2)), self.params.message)
        else:
            message = self.render("default", {}, name=self.ctx.name, kind=kind, event_id=f.ids[row])
        self.emit(ts=int(f.ts[row]), subject=(f.ids[row],), employee_id=full.get("employee_id"),
                  customer_id=customer, evidence=[(int(f.ts[row]), f.ids[row])], details=details, message=message)

    def warnings(self) -> list[str]:
        if not self.eval_errors:
            return []
        return [f"rule {self.ctx.name!r}: the condition could not be evaluated on {self.eval_errors} event(s), "
                f"which did not fire; first: {'; '.join(self.first_errors)}"]


def _values(ctype: str, arr: np.ndarray, strings: Any) -> list[Any]:
    if ctype == CODE:
        return strings.texts(arr)
    if ctype == FLOAT:
        return [None if v != v else v for v in arr.tolist()]
    if ctype == INSTANT:
        return [None if v == NULL_INT else from_us(v) for v in arr.tolist()]
    if ctype == DATE:
        return [None if v == NULL_INT else days_to_date(v).isoformat() for v in arr.tolist()]
    if ctype == TIME:
        return [None if v == NULL_INT else v for v in arr.tolist()]
    if ctype == BOOL:
        return [None if v < 0 else bool(v) for v in arr.tolist()]
    if ctype == OBJECT:
        return [_plain(v) for v in arr.tolist()]
    return arr.tolist()


def _entries(table: Any, name: str, k: np.ndarray, strings: Any) -> list[list[dict[str, Any]]]:
    """A list field of the rows ``k`` of a kind table as lists of maps, values as JSON writes them."""
    nested = table.nested[name]
    fields = table.layout.entry_fields(name)
    counts = table.cols[name][k].astype(np.int64)
    sel = entry_rows(nested.starts[k], counts)
    cols = {f: _values(t, nested.cols[f][sel], strings) for f, t in fields}
    for f, t in fields:
        if t == TIME:  # a time of day as HH:MM:SS
            cols[f] = [None if v is None else f"{v // 3600:02d}:{v // 60 % 60:02d}:{v % 60:02d}" for v in cols[f]]
        elif t == INSTANT:
            cols[f] = [None if v is None else v.isoformat() for v in cols[f]]
    out, at = [], 0
    for n in counts.tolist():
        out.append([{f: cols[f][at + i] for f, _ in fields} for i in range(n)])
        at += n
    return out


def _plain(v: Any) -> Any:
    if hasattr(v, "model_dump"):
        return v.model_dump(mode="json")
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


def _jsonable(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.isoformat()
    return v


def _lookup(event: dict[str, Any], name: str, sub: str | None) -> str:
    v = event.get(name)
    if sub is not None:
        v = v.get(sub) if isinstance(v, dict) else None
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return "" if v is None else str(_jsonable(v))


DETECTORS = (ExprRule,)
