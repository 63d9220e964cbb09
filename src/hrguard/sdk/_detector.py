"""The detector interface: a class with an id, a params model, a default severity, and ``process``.

A detector is written once. The engine gives it time-ordered :class:`~hrguard.columns.Chunk`\\ s of
events — many thousands at a time in a batch scan, one at a time in a stream — and carries the
detector's own state from chunk to chunk. A detector must give the same findings however the events
are chunked; ``hrguard.testing`` checks that.

The contract of :meth:`Detector.process`: judge every event of the chunk using only events before
it in the one order ``(ts, id)``, then fire every timer due at or before ``chunk.upto`` (every event
with ``ts <= upto`` has been seen by then). Report findings with :meth:`Detector.emit`.

In a stream (``ctx.streaming``), a detector may leave heavy work a chunk made due — the forest's
refit and scoring at a period's end — to :meth:`Detector.settle`, which the stream calls at
``advance_to`` and ``result``, and report those findings from there: a push never does such work.
The findings must be the same either way.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Any, ClassVar, Iterable

from pydantic import BaseModel, ConfigDict

from ..columns import Chunk, Interner
from ..events import LocalClock, from_us
from ..findings import Finding, Severity, finding_id
from .state import Stateful


class DetectorParams(BaseModel):
    """Base of every detector's params model: unknown keys are an error."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class RuleContext:
    """What one rule instance knows about its place: its name, severity, language, clock, tenant."""

    name: str
    severity: Severity
    language: str
    clock: LocalClock
    strings: Interner
    tenant: str | None = None
    #: the rule runs in a :class:`~hrguard.Stream`: work it defers is reported by :meth:`Detector.settle`
    streaming: bool = False
    #: the event kinds the engine knows (``None`` when built outside an engine)
    kinds: frozenset[str] | None = None


class Detector(Stateful):
    """Base class of detectors (built-in and plugin).

    A detector's state is whatever its attributes hold besides ``params`` and ``ctx``: the stores of
    :mod:`hrguard.state` and plain data. :meth:`state_dict` / :meth:`load_state_dict` (from
    :class:`hrguard.state.Stateful`) save and restore it with no code of the detector's own, and
    the conformance kit checks that a detector restored after any chunk gives the same findings.

    Class attributes a subclass sets:

    - ``id``: the detector id used in rulesets (``geofence.mismatch``).
    - ``title``: one line saying what it catches.
    - ``Params``: a :class:`DetectorParams` subclass (defaults, validation, field descriptions).
    - ``default_severity``.
    - ``kinds``: the event kinds it reads (the engine may skip chunks with none of them); empty means all.
    - ``messages``: ``{language: {reason: template}}`` with ``str.format`` fields taken from the
      finding's ``details`` plus ``employee_id`` and ``customer_id``; ``"default"`` is the fallback reason.
    - ``default_scope``: the scope (``{"roles": [...]}``...) a rule gets when it gives none itself;
      ``scope: {}`` in a rule means everyone.
    """

    id: ClassVar[str] = ""
    title: ClassVar[str] = ""
    Params: ClassVar[type[DetectorParams]] = DetectorParams
    default_severity: ClassVar[Severity] = Severity.medium
    kinds: ClassVar[frozenset[str]] = frozenset()
    messages: ClassVar[dict[str, dict[str, str]]] = {}
    default_scope: ClassVar[dict[str, list[str]]] = {}
    not_state: ClassVar[frozenset[str]] = frozenset({"params", "ctx", "_out", "_failed"})
    #: the rule reads other rules' findings (``correlation``): the engine runs it after a chunk's other
    #: rules and calls ``process_with(chunk, their new findings)`` instead of ``process(chunk)``
    reads_findings: ClassVar[bool] = False

    def __init__(self, params: DetectorParams, ctx: RuleContext):
        self.params = params
        self.ctx = ctx
        self._out: list[Finding] = []

    def _state_shared(self) -> tuple[object, ...]:
        return (self.params, self.ctx, self.ctx.strings, self.ctx.clock)

    # -- what subclasses implement ---------------------------------------------------------------
    def process(self, chunk: Chunk) -> None:
        """Judge the chunk's events and fire timers due at or before ``chunk.upto``."""
        raise NotImplementedError  # abstract: every concrete detector overrides it

    def settle(self) -> None:
        """Do the work this detector deferred and :meth:`emit` its findings.

        Only in a stream (``ctx.streaming``), which calls ``settle`` at ``advance_to`` and ``result``, so
        that a push never does heavy work such as a model's refit; a batch scan's detector does its
        work in :meth:`process`. The default: nothing is ever deferred.
        """

    def next_due(self) -> int | None:
        """The earliest instant (µs since the epoch) at which this detector may fire with no new event.

        ``None`` means never (it only reacts to events). The engine skips a detector for a chunk that
        holds none of its ``kinds`` when nothing is due by the chunk's ``upto`` — what keeps a
        stream's per-event cost low. The default, ``0``, means "maybe at any time": never skipped.
        Detectors with timers return their earliest timer.
        """
        return 0

    def expire(self, watermark: int) -> None:
        """Forget the state no event after ``watermark`` (µs since the epoch) can reach any more.

        Every event still to come has ``ts > watermark``. A detector whose state grows with its input
        (per day, per request) drops here what its rules can no longer look up: a plan of a day that
        has ended, a trace older than the rule's ``horizon``. The rule itself decides what is
        reachable — a horizon is part of what the rule *means* (a look-up ignores what is older, in a
        scan as in a stream) — so forgetting never changes a finding, whenever the engine calls it.
        A scan calls it each time its time has moved on by a day, a stream at ``advance_to`` (at most
        once a day, so that no push pays for it); the conformance kit calls it after every chunk and
        checks that the findings stay the same. The default: nothing to forget (state bounded by the
        number of employees, customers, sites...).
        """

    @classmethod
    def check(cls, params: DetectorParams, kinds: set[str]) -> list[tuple[tuple[Any, ...], str]]:
        """Checks of params that need the engine (``kinds``: every registered event kind).

        Return ``(path within params, message)`` pairs; the ruleset loader reports them located.
        """
        return []

    def warnings(self) -> list[str]:
        """Problems worth a user's attention that did not stop the detector (reported in the result)."""
        return []

    # -- helpers ---------------------------------------------------------------------------------
    @classmethod
    def validate_params(cls, raw: dict[str, Any] | None) -> DetectorParams:
        return cls.Params.model_validate(raw or {})

    def emit(
        self,
        *,
        ts: int,
        subject: tuple[Any, ...],
        employee_id: str | None,
        customer_id: str | None,
        evidence: Iterable[tuple[int, str]],
        details: dict[str, Any],
        reason: str = "default",
        severity: Severity | None = None,
        message: str | None = None,
    ) -> None:
        """Record a finding. ``evidence`` is ``(ts_us, event_id)`` pairs; they are put in event order."""
        ctx = self.ctx
        ev = sorted(set(evidence))
        if message is None:
            message = self.render(reason, details, employee_id=employee_id, customer_id=customer_id)
        self._out.append(
            Finding(
                id=finding_id(ctx.name, subject, ts, ctx.tenant),
                rule=self.id,
                name=ctx.name,
                severity=severity or ctx.severity,
                ts=from_us(ts, ctx.clock.zone),
                employee_id=employee_id,
                customer_id=customer_id,
                message=message,
                evidence=[e for _, e in ev],
                details=details,
                tenant=ctx.tenant,
            )
        )

    def render(self, reason: str, details: dict[str, Any], **extra: Any) -> str:
        lang = self.messages.get(self.ctx.language) or self.messages.get("en") or {}
        template = lang.get(reason) or lang.get("default") or f"{self.id}: {reason}"
        names = _FIELDS.get(template)
        if names is None:
            names = _FIELDS[template] = _field_names(template)
        if not names:  # nested fields in a format spec, or none at all: the mapping answers every look-up
            return template.format_map(_Fmt({**extra, **details}))
        values = {}
        for name in names:  # the template's own fields only, each converted once (_Fmt's rules)
            v = details[name] if name in details else extra.get(name, _ABSENT)
            values[name] = ("{" + name + "}" if v is _ABSENT else _Num(v) if isinstance(v, float)
                            else _Dash() if v is None else v)
        return template.format_map(values)

    def drain(self) -> list[Finding]:
        out, self._out = self._out, []
        return out


_ABSENT = object()
_FIELDS: dict[str, tuple[str, ...]] = {}  # template -> the names it looks up (empty: let _Fmt answer)


def _field_names(template: str) -> tuple[str, ...]:
    """The mapping keys ``template.format_map`` looks up (``a`` of ``{a.b}`` or ``{a[0]}``), or ``()``
    when a format spec holds a field of its own (``{x:{width}}``) or there is none: then every
    look-up goes through :class:`_Fmt`."""
    names: list[str] = []
    try:
        for _, field, spec, _ in string.Formatter().parse(template):
            if field is None:
                continue
            if spec and "{" in spec:
                return ()
            root = field.split(".", 1)[0].split("[", 1)[0]
            if root not in names:
                names.append(root)
    except ValueError:  # a malformed template: format_map raises the same error
        return ()
    return tuple(names)


class _Fmt(dict):
    """Format values: floats rounded for people, missing names left visible."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"

    def __getitem__(self, key: str) -> Any:
        v = super().__getitem__(key)
        if isinstance(v, float):
            return _Num(v)
        return _Dash() if v is None else v


class _Dash(str):
    """An empty value: prints ``-`` whatever format spec the template gives it."""

    def __new__(cls) -> _Dash:
        return super().__new__(cls, "-")

    def __format__(self, spec: str) -> str:
        return "-"


class _Num(float):
    """A float that prints for people: ``{x}`` gives at most one decimal (2719.3, 1.5, 7), ``{x:.0f}`` obeys."""

    def __format__(self, spec: str) -> str:
        if spec:
            return format(float(self), spec)
        r = round(float(self), 1)
        return str(int(r)) if r.is_integer() else str(r)
