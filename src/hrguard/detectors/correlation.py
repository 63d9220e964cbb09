"""``correlation``: a pattern over other rules' findings and over events, written in the ruleset (Sigma's
correlation rules are the model).

No single signal says "private orders"; a stalled customer, an approval for someone else's customer
and clock-ins away from plan, by one employee within a month, do. A correlation names its inputs —
rules of the same ruleset (their findings) or event kinds — groups them by fields (``employee_id``,
``customer_id``, or any field of an event or of a finding's ``details``), and fires when, within
``timespan``:

- ``event_count``: at least ``gte`` inputs of a group came;
- ``value_count``: at least ``gte`` distinct values of ``field`` came;
- ``temporal``: every input listed came (an item may be a list: any of those);
- ``temporal_ordered``: every input listed came, in that order.

The engine runs a correlation after the chunk's other rules, giving it their new findings (in scope,
not suppressed) and the chunk's events, merged in one order: ``(ts, events before findings, id)``.
Every finding's time lies in its chunk's span, so that order — and so the correlation's findings —
does not depend on chunking: batch = stream. Once it fires, a group starts afresh after the input that
completed it. State: each group's inputs within ``timespan`` (plain data, checkpointed; older ones are
forgotten as time passes).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from ..columns import Chunk
from ..findings import Finding, Severity
from ..events import from_us, to_us
from ..sdk import Detector, DetectorParams, Duration, EventView, RuleContext

_EVENT, _FINDING = 0, 1  # at one instant, events come before findings


class CorrelationParams(DetectorParams):
    type: Literal["event_count", "value_count", "temporal", "temporal_ordered"] = Field(
        description="event_count (at least gte inputs), value_count (at least gte distinct values of field), "
                    "temporal (every input listed, any order), temporal_ordered (every input listed, in order)")
    rules: list[str | list[str]] = Field(
        min_length=1, description="the inputs: names of rules of this ruleset (their findings) or event kinds; for "
                                  "temporal, an item may be a list (any of them)")
    group_by: list[str] = Field(
        default_factory=lambda: ["employee_id"],
        description="fields whose values form a group: employee_id, customer_id, tenant, or a field of the events "
                    "or of the findings' details; an input without a value for one of them is not counted")
    timespan: Duration = Field(description="the window every input of one match lies in")
    gte: int | None = Field(default=None, ge=1, le=1_000_000,
                            description="event_count and value_count: the least count that fires")
    field: str | None = Field(default=None, description="value_count: the field whose distinct values are counted")
    message: dict[Literal["en", "zh"], str] | None = Field(
        default=None, description="message templates per language; fields: who (the group as text), the group's "
                                  "values by name (employee_id...), count, within, rules, field")

    @model_validator(mode="after")
    def _fits_type(self) -> CorrelationParams:
        counted = self.type in ("event_count", "value_count")
        if counted and self.gte is None:
            raise ValueError(f"type {self.type} needs gte (the least count that fires)")
        if not counted and self.gte is not None:
            raise ValueError(f"gte is for type event_count or value_count, not type {self.type}")
        if (self.type == "value_count") != (self.field is not None):
            raise ValueError(f"field is required by type value_count, and only by it (type is {self.type})")
        if self.type in ("event_count", "value_count") and any(isinstance(r, list) for r in self.rules):
            raise ValueError("rules: a list of alternatives is for temporal types; list the inputs flat")
        if self.type.startswith("temporal") and len(self.rules) < 2:
            raise ValueError(f"rules: type {self.type} needs at least two inputs")
        if not self.group_by:
            raise ValueError("group_by needs at least one field")
        return self

    def inputs(self) -> set[str]:
        return {n for item in self.rules for n in ([item] if isinstance(item, str) else item)}


_DEFAULT_MESSAGES = {
    "en": {"event_count": "{who}: {count} of {rules} within {within}",
           "value_count": "{who}: {count} distinct {field} in {rules} within {within}",
           "temporal": "{who}: {rules} all within {within}",
           "temporal_ordered": "{who}: {rules} in that order within {within}"},
    "zh": {"event_count": "{who}：{within}内出现 {count} 次 {rules}",
           "value_count": "{who}：{within}内 {rules} 出现 {count} 个不同的 {field}",
           "temporal": "{who}：{within}内先后出现 {rules}",
           "temporal_ordered": "{who}：{within}内依次出现 {rules}"},
}


class Correlation(Detector):
    id = "correlation"
    title = "A pattern over other rules' findings and events, by group, within a time span"
    Params = CorrelationParams
    default_severity = Severity.high
    kinds = frozenset()  # set per instance: the event kinds among its inputs
    messages = {"en": {"default": "{who}: correlated findings"}, "zh": {"default": "{who}：关联发现"}}
    reads_findings: ClassVar[bool] = True
    not_state = frozenset({"messages", "kinds", "_names", "_slot"})

    def __init__(self, params: CorrelationParams, ctx: RuleContext):
        super().__init__(params, ctx)
        known_kinds = ctx.kinds if ctx.kinds is not None else frozenset()
        self.kinds = frozenset(n for n in params.inputs() if n in known_kinds)
        self._names = params.inputs()
        # which slot of ``rules`` each input name fills (temporal: a list item is one slot)
        self._slot = {n: i for i, item in enumerate(params.rules) for n in ([item] if isinstance(item, str) else item)}
        templates = params.message or {}
        self.messages = {lang: {"default": templates.get(lang) or _DEFAULT_MESSAGES[lang][params.type]}
                         for lang in ("en", "zh")}
        self.windows: dict[tuple[Any, ...], list[list[Any]]] = {}  # group -> [[ts, name, id, value, evidence]]

    def next_due(self) -> int | None:
        return None

    def process(self, chunk: Chunk) -> None:
        self.process_with(chunk, [])

    def process_with(self, chunk: Chunk, findings: list[Finding]) -> None:
        """Judge the chunk's events of ``kinds`` and the chunk's new findings of other rules, in one order."""
        items: list[tuple[int, int, str, Any]] = []
        if self.kinds:
            f = chunk.frame
            for kind in self.kinds:
                for row in chunk.rows(kind).tolist():
                    items.append((int(f.ts[row]), _EVENT, f.ids[row], row))
        for fd in findings:
            if fd.name in self._names:
                items.append((to_us(fd.ts), _FINDING, fd.id, fd))
        items.sort(key=lambda x: x[:3])
        for ts, what, ident, obj in items:
            if what == _EVENT:
                ev = EventView(self, chunk.frame, obj, chunk.frame.tables[int(chunk.frame.kind[obj])],
                               int(chunk.frame.kind_index[obj]))
                self._take(ts, ev.kind, ident, lambda name, ev=ev: _event_value(ev, name), [(ts, ident)])
            else:
                self._take(ts, obj.name, ident, lambda name, fd=obj: _finding_value(fd, name),
                           [(ts, e) for e in obj.evidence])

    # -- one input ---------------------------------------------------------------------------------------
    def _take(self, ts: int, name: str, ident: str, get: Any, evidence: list[tuple[int, str]]) -> None:
        p = self.params
        group = tuple(get(g) for g in p.group_by)
        if any(v is None for v in group):
            return
        value = get(p.field) if p.field is not None else None
        if p.type == "value_count" and value is None:
            return
        window = self.windows.setdefault(group, [])
        window.append([ts, name, ident, value, evidence])
        cut = ts - p.timespan
        while window and window[0][0] < cut:
            window.pop(0)
        match = self._match(window)
        if match is not None:
            self._fire(ts, group, match)
            self.windows[group] = []  # start afresh after the input that completed the match

    def _match(self, window: list[list[Any]]) -> list[list[Any]] | None:
        p = self.params
        if p.type == "event_count":
            return window if len(window) >= p.gte else None  # type: ignore[operator]
        if p.type == "value_count":
            return window if len({w[3] for w in window}) >= p.gte else None  # type: ignore[operator]
        slots = len(p.rules)
        if p.type == "temporal":
            seen: dict[int, list[Any]] = {}
            for w in window:
                seen.setdefault(self._slot[w[1]], w)
            return [seen[i] for i in range(slots)] if len(seen) == slots else None
        chosen, want = [], 0  # temporal_ordered: the earliest input of each slot after the previous one's
        for w in window:
            if self._slot[w[1]] == want:
                chosen.append(w)
                want += 1
                if want == slots:
                    return chosen
        return None

    def _fire(self, ts: int, group: tuple[Any, ...], match: list[list[Any]]) -> None:
        p = self.params
        named = dict(zip(p.group_by, group))
        counts: dict[str, int] = {}
        for w in match:
            counts[w[1]] = counts.get(w[1], 0) + 1
        distinct = sorted({str(w[3]) for w in match}) if p.type == "value_count" else None
        details: dict[str, Any] = {
            "type": p.type, "group": named, "count": len(distinct) if distinct is not None else len(match),
            "inputs": counts, "matched": [w[2] for w in match],
            "first": from_us(match[0][0], self.ctx.clock.zone).isoformat(),
        }
        if distinct is not None:
            details["values"] = distinct
        rules_text = ", ".join(_item_text(item) for item in p.rules)
        group_text = ", ".join(f"{k} {v}" for k, v in named.items())
        extra = {**{k: v for k, v in named.items() if k not in details}, "employee_id": named.get("employee_id"),
                 "customer_id": named.get("customer_id")}
        message = self.render("default", details, who=group_text, rules=rules_text, within=_span(p.timespan),
                              field=p.field or "", **extra)
        first_seen: dict[str, int] = {}  # an event cited by several inputs: once, at its earliest time
        for w in match:
            for t, e in w[4]:
                if t < first_seen.get(e, t + 1):
                    first_seen[e] = t
        self.emit(ts=ts, subject=(*group, match[-1][2]), employee_id=_text(named.get("employee_id")),
                  customer_id=_text(named.get("customer_id")), evidence=[(t, e) for e, t in first_seen.items()],
                  details=details, message=message)

    def expire(self, watermark: int) -> None:
        """Inputs more than ``timespan`` before the watermark can join no later match."""
        cut = watermark - self.params.timespan
        for group in list(self.windows):
            kept = [w for w in self.windows[group] if w[0] >= cut]
            if kept:
                self.windows[group] = kept
            else:
                del self.windows[group]


def _text(v: Any) -> str | None:
    return None if v is None else str(v)


def _item_text(item: str | list[str]) -> str:
    return item if isinstance(item, str) else "(" + " or ".join(item) + ")"


def _span(us: int) -> str:
    from ..events import format_duration

    return format_duration(us)


def _event_value(ev: EventView, name: str) -> Any:
    if name == "employee_id":
        return ev.employee_id
    if name == "tenant":
        return ev.tenant
    v = ev.get(name)
    return v if v is None or isinstance(v, (str, int, float, bool)) else str(v)


def _finding_value(fd: Finding, name: str) -> Any:
    if name in ("employee_id", "customer_id", "tenant"):
        return getattr(fd, name)
    v = fd.details.get(name)
    return v if v is None or isinstance(v, (str, int, float, bool)) else str(v)


DETECTORS = (Correlation,)
