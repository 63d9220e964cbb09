"""Validation of many records at once: numpy passes for the rows whose shape is sure to validate.

Validating one record with pydantic and moving it into columns costs ~10 us, ten times parsing it.
A batch scan does not need a model per record, only the columns, so :class:`BulkIntake` takes a
block of parsed records, groups them by kind and checks each field of a kind for the whole block
at once: type sets, value ranges, literal sets, timestamps and dates parsed digit by digit as uint8
matrices. A row goes this fast way only when every check passes and its shape is one the checks
fully cover (a *canonical* row: known fields with plain JSON types, timestamps written
``YYYY-MM-DDTHH:MM:SS+HH:MM`` or ``...Z``, unknown fields with scalar values, no ``attrs``, no
nested objects, an id seen nowhere else); its column values are then exactly those pydantic plus
:class:`~hrguard.columns.ColumnBuilder` would give (tests/test_bulk.py checks this with hypothesis).
Every other row — invalid, unusual, nested, a repeated id — goes through the one-record path,
:class:`~hrguard.ingest.Intake`, in order of arrival, and gets its located rejection from there.

Kinds whose model has checks this module does not know (a plugin's validators, types it does not
recognise) are always validated one record at a time: the fast way is an optimisation, never a
second definition of what is valid.
"""

from __future__ import annotations

import os
import types
import typing
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Literal, Union

import numpy as np
from annotated_types import Ge, Le, MinLen
from pydantic.fields import FieldInfo
from pydantic.functional_serializers import PlainSerializer
from pydantic import BaseModel, BeforeValidator, TypeAdapter, ValidationError, WithJsonSchema
from pydantic.types import Strict

from .columns import NULL_INT, ColumnBuilder, Interner, column_type
from .events import CustomerRegistered, AttendancePunched, Event, Photo
from .ingest import JSONError, Intake, RawRecord, json_problem, loads, salvage_id, iter_records, read_records

_US = 1_000_000
_DAY_US = 86_400 * _US
_NONE = type(None)

# the model-level checks of the built-in kinds, as the fast way applies them: (lat, lon) together
_PAIR_CHECKS = {CustomerRegistered.__pydantic_decorators__.model_validators["_both_or_neither"].func,
                AttendancePunched.__pydantic_decorators__.model_validators["_both_or_neither"].func}
_PAIR_CHECKS.discard(Photo.__pydantic_decorators__.model_validators["_both_or_neither"].func)


# -- what a field accepts, read off its annotation ------------------------------------------------
@dataclass(frozen=True)
class FieldRule:
    """How the fast way checks and converts one field (derived from the model's annotation)."""

    name: str
    ctype: str  # the column type (columns.py)
    check: str  # str | enum | float | money | bool | instant | date | models
    nullable: bool  # ``null`` is valid (and so is absence, the default being None)
    required: bool
    default: Any = None
    nonempty: bool = False
    lo: float | None = None
    hi: float | None = None
    allowed: frozenset[str] | None = None
    adapter: TypeAdapter[Any] | None = None  # for a list of nested models: validates a flat list of them


class _Unknown(Exception):
    """An annotation or constraint the fast way does not know: the kind stays on the slow path."""


def _known_before(v: BeforeValidator) -> bool:
    # hrguard's own pre-checks refuse JSON numbers/booleans where a string (or number) is wanted;
    # the fast way only ever takes the plain type, so they can never disagree with it
    f = v.func
    return getattr(f, "__module__", "") == "hrguard.events" and f.__qualname__ in ("_not_a_number.<locals>.check",
                                                                                   "_no_bool")


def _collect(annotation: Any, meta: list[Any]) -> tuple[Any, bool, list[Any]]:
    """(base type, nullable, constraint objects) of an annotation, through Annotated/Optional/FieldInfo."""
    nullable = False
    out = list(meta)
    t = annotation
    while True:
        origin = typing.get_origin(t)
        if origin is typing.Annotated:
            args = typing.get_args(t)
            t = args[0]
            for m in args[1:]:
                out.extend(m.metadata if isinstance(m, FieldInfo) else [m])
            continue
        if origin in (Union, types.UnionType):
            args = [a for a in typing.get_args(t) if a is not _NONE]
            if len(args) == len(typing.get_args(t)) - 1 and len(args) == 1:
                nullable = True
                t = args[0]
                continue
            raise _Unknown(t)
        return t, nullable, out


def field_rule(name: str, info: FieldInfo) -> FieldRule:
    base, nullable, meta = _collect(info.annotation, list(info.metadata))
    lo = hi = None
    nonempty = strict = False
    for m in meta:
        if isinstance(m, Ge):
            lo = float(m.ge)
        elif isinstance(m, Le):
            hi = float(m.le)
        elif isinstance(m, MinLen):
            if m.min_length > 1:
                raise _Unknown(m)
            nonempty = m.min_length == 1
        elif isinstance(m, Strict):
            strict = m.strict
        elif isinstance(m, BeforeValidator):
            if not _known_before(m):
                raise _Unknown(m)
        elif isinstance(m, (PlainSerializer, WithJsonSchema)):
            pass
        elif type(m).__name__ == "AllowInfNan" and not m.allow_inf_nan:  # JSON has no inf/nan anyway
            pass
        else:
            raise _Unknown(m)
    required = info.is_required()
    default = None if required else info.get_default(call_default_factory=False)
    if info.default_factory is not None:
        if info.default_factory is not list:
            raise _Unknown(info.default_factory)
        default = list
    ctype = column_type(info.annotation)
    origin = typing.get_origin(base)
    if base is str:
        check = "str"
    elif origin is Literal and all(isinstance(a, str) for a in typing.get_args(base)):
        return FieldRule(name, ctype, "enum", nullable, required, default, allowed=frozenset(typing.get_args(base)))
    elif base is float and strict:
        check = "float"
    elif base is Decimal:
        check = "money"
    elif base is bool and strict:
        check = "bool"
    elif getattr(base, "__name__", "") == "AwareDatetime":
        check = "instant"
    elif base is date:
        check = "date"
    elif origin is list and default is list and not nullable and _is_nested_model(typing.get_args(base)):
        # nested objects are validated by pydantic too, but all of a block's in one call
        return FieldRule(name, ctype, "models", False, required, list,
                         adapter=TypeAdapter(list[typing.get_args(base)[0]]))  # type: ignore[misc]
    else:
        raise _Unknown(base)
    if (lo is not None or hi is not None) and check not in ("float", "money"):
        raise _Unknown(name)
    if check == "money" and lo != 0.0:
        raise _Unknown(name)
    if check == "str" and strict:
        raise _Unknown(name)
    if not required and default is not None and check not in ("float", "bool", "enum"):
        raise _Unknown(name)
    return FieldRule(name, ctype, check, nullable, required, default, nonempty, lo, hi)


def _is_nested_model(args: tuple[Any, ...]) -> bool:
    return len(args) == 1 and isinstance(args[0], type) and issubclass(args[0], BaseModel) \
        and not issubclass(args[0], Event)


@dataclass(frozen=True)
class KindPlan:
    """The fast way's checks for one kind: a rule per field, the known keys, the (lat, lon) pair."""

    kind: str
    rules: tuple[FieldRule, ...]  # every field but kind and attrs, envelope included
    known: frozenset[str]
    pair: bool

    @classmethod
    def of(cls, model: type[Event]) -> KindPlan | None:
        """The plan of a kind, or ``None`` when its model has checks the fast way does not know."""
        decs = model.__pydantic_decorators__
        own = set(decs.model_validators) - {"_unknown_fields_to_attrs"}
        pair = False
        for name in own:
            if decs.model_validators[name].func not in _PAIR_CHECKS:
                return None
            pair = True
        if set(decs.field_validators) != {"_null_attrs"} or decs.validators or decs.root_validators \
                or decs.field_serializers or decs.model_serializers or decs.computed_fields:
            return None
        if model.model_config.get("extra") != "allow" or model.model_config.get("strict"):
            return None
        try:
            rules = tuple(field_rule(n, i) for n, i in model.model_fields.items() if n not in ("kind", "attrs"))
        except _Unknown:
            return None
        names = {r.name for r in rules}
        if pair and not {"lat", "lon"} <= names:
            return None
        return cls(model.KIND, rules, frozenset(names | {"kind"}), pair)


# -- vectorised parsing of timestamps and dates ---------------------------------------------------
_DIGITS_TS = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]


def _num(m: np.ndarray, cols: list[int]) -> np.ndarray:
    out = np.zeros(m.shape[0], dtype=np.int64)
    for c in cols:
        out = out * 10 + (m[:, c].astype(np.int64) - 48)
    return out


def _days(y: np.ndarray, mo: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Days since 1970-01-01 of a proleptic Gregorian date, and whether the date exists."""
    leap = (y % 4 == 0) & ((y % 100 != 0) | (y % 400 == 0))
    dim = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)[np.clip(mo, 0, 12)]
    dim = dim + ((mo == 2) & leap)
    ok = (y >= 1900) & (y <= 2199) & (mo >= 1) & (mo <= 12) & (d >= 1) & (d <= dim)
    yy = y - (mo <= 2)
    era = yy // 400
    yoe = yy - era * 400
    doy = (153 * (mo + np.where(mo > 2, -3, 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468, ok


def _ascii_matrix(values: list[str], width: int) -> np.ndarray | None:
    """The strings (all ``width`` characters long) as an (n, width) uint8 matrix, None if not ASCII."""
    try:
        raw = "".join(values).encode("ascii")
    except UnicodeEncodeError:
        return None
    return np.frombuffer(raw, dtype=np.uint8).reshape(len(values), width)


def _is_digit(m: np.ndarray, cols: list[int]) -> np.ndarray:
    sub = m[:, cols]
    return ((sub >= 48) & (sub <= 57)).all(axis=1)


def parse_instants(values: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(microseconds since the epoch, ok) of RFC 3339 strings in the two canonical forms.

    ``YYYY-MM-DDTHH:MM:SS+HH:MM`` / ``-HH:MM`` (25 characters) and ``YYYY-MM-DDTHH:MM:SSZ`` (20);
    anything else (fractions, lowercase, other separators, out-of-range fields) is not ok here and is
    left to pydantic.
    """
    n = len(values)
    us = np.zeros(n, dtype=np.int64)
    ok = np.zeros(n, dtype=bool)
    lens = np.fromiter(map(len, values), dtype=np.int64, count=n)
    for width in (25, 20):
        idx = np.flatnonzero(lens == width)
        if idx.size == 0:
            continue
        m = _ascii_matrix([values[i] for i in idx.tolist()] if idx.size != n else values, width)
        if m is None:
            continue
        good = _is_digit(m, _DIGITS_TS) & (m[:, 4] == 45) & (m[:, 7] == 45) & (m[:, 10] == 84) \
            & (m[:, 13] == 58) & (m[:, 16] == 58)
        y, mo, d = _num(m, [0, 1, 2, 3]), _num(m, [5, 6]), _num(m, [8, 9])
        hh, mi, ss = _num(m, [11, 12]), _num(m, [14, 15]), _num(m, [17, 18])
        days, real = _days(y, mo, d)
        good &= real & (hh <= 23) & (mi <= 59) & (ss <= 59)
        if width == 25:
            sign = m[:, 19]
            good &= ((sign == 43) | (sign == 45)) & _is_digit(m, [20, 21, 23, 24]) & (m[:, 22] == 58)
            oh, om = _num(m, [20, 21]), _num(m, [23, 24])
            good &= (oh <= 18) & (om <= 59)
            offset = np.where(sign == 45, -1, 1) * (oh * 3600 + om * 60)
        else:
            good &= m[:, 19] == 90
            offset = np.zeros(idx.size, dtype=np.int64)
        us[idx] = (days * 86_400 + hh * 3600 + mi * 60 + ss - offset) * _US
        ok[idx] = good
    return us, ok


def parse_dates(values: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(days since 1970-01-01, ok) of ``YYYY-MM-DD`` strings; anything else is not ok here."""
    n = len(values)
    days = np.zeros(n, dtype=np.int64)
    ok = np.zeros(n, dtype=bool)
    lens = np.fromiter(map(len, values), dtype=np.int64, count=n)
    idx = np.flatnonzero(lens == 10)
    if idx.size:
        m = _ascii_matrix([values[i] for i in idx.tolist()] if idx.size != n else values, 10)
        if m is not None:
            good = _is_digit(m, [0, 1, 2, 3, 5, 6, 8, 9]) & (m[:, 4] == 45) & (m[:, 7] == 45)
            d, real = _days(_num(m, [0, 1, 2, 3]), _num(m, [5, 6]), _num(m, [8, 9]))
            days[idx] = d
            ok[idx] = good & real
    return days, ok


# -- one kind of one block ------------------------------------------------------------------------
_MISSING = object()


def _types_mask(values: list[Any], accepted: tuple[type, ...]) -> np.ndarray | None:
    """``None`` when every value's type is accepted (the common case, one set pass), else a mask."""
    if set(map(type, values)) <= set(accepted):
        return None
    acc = set(accepted)
    return np.fromiter((type(v) in acc for v in values), dtype=bool, count=len(values))


class _KindBlock:
    """The rows of one kind in one block: the checks, then the column values of the rows that pass."""

    def __init__(self, plan: KindPlan, rows: list[dict[str, Any]], strings: Interner):
        self.plan = plan
        self.rows = rows
        self.strings = strings
        self.n = len(rows)
        self.ok = np.ones(self.n, dtype=bool)
        self.cols: dict[str, Any] = {}
        self.attrs: list[Any] | None = None

    def run(self) -> None:
        rows = self.rows
        keys = set().union(*rows)
        if not keys <= self.plan.known:
            self._extras(keys)
        for rule in self.plan.rules:
            if rule.required or rule.default is not None:
                vals = [r.get(rule.name, _MISSING) for r in rows]
            else:
                vals = [r.get(rule.name) for r in rows]
            self.cols[rule.name] = self._field(rule, vals)
        if self.plan.pair:
            self.ok &= np.isnan(self.cols["lat"]) == np.isnan(self.cols["lon"])

    def _extras(self, keys: set[str]) -> None:
        """Unknown top-level fields go to attrs, as pydantic would; rows carrying ``attrs`` or a
        non-scalar unknown value take the slow way (deep copies, clash checks)."""
        known = self.plan.known
        scalar = (str, int, float, bool, _NONE)
        attrs: list[Any] = []
        for k, r in enumerate(self.rows):
            if r.keys() <= known:
                attrs.append(None)
                continue
            extra = {key: v for key, v in r.items() if key not in known}
            if "attrs" in extra or not all(type(v) in scalar for v in extra.values()):
                self.ok[k] = False
                attrs.append(None)
            else:
                attrs.append(extra)
        self.attrs = attrs

    def _models(self, rule: FieldRule, vals: list[Any]) -> list[list[Any]]:
        """A list of nested models per row: absent -> a new empty list; lists of objects are validated
        by pydantic in one call for the block (a row whose list fails any check takes the slow way)."""
        ok, n = self.ok, self.n
        out: list[list[Any]] = [[] for _ in range(n)]
        lists = [k for k, v in enumerate(vals) if v is not _MISSING]
        if not lists:
            return out
        for k in lists:
            if type(vals[k]) is not list:
                ok[k] = False
        use = [k for k in lists if ok[k] and vals[k]]
        adapter = rule.adapter
        assert adapter is not None
        flat = [x for k in use for x in vals[k]]
        try:
            objs = adapter.validate_python(flat)
        except ValidationError:  # find the rows at fault (rare), validate the rest
            good = []
            for k in use:
                try:
                    adapter.validate_python(vals[k])
                    good.append(k)
                except ValidationError:
                    ok[k] = False
            use = good
            objs = adapter.validate_python([x for k in use for x in vals[k]])
        at = 0
        for k in use:
            m = len(vals[k])
            out[k] = objs[at:at + m]
            at += m
        return out

    def _field(self, rule: FieldRule, vals: list[Any]) -> Any:
        ok, n = self.ok, self.n
        check = rule.check
        if rule.default is not None:  # absent -> the default (null stays invalid: slow way)
            dflt = rule.default
            if check == "models":
                return self._models(rule, vals)
            if check == "float":
                dflt = float(dflt)  # a default is valid as it is (pydantic does not validate it)
            vals = [dflt if v is _MISSING else v for v in vals]
        accepted: tuple[type, ...]
        if check in ("str", "enum", "instant", "date"):
            accepted = (str,)
        elif check == "float":
            accepted = (float,)
        elif check == "money":
            accepted = (int, float)
        elif check == "bool":
            accepted = (bool,)
        else:  # pragma: no cover - every check is listed above
            raise AssertionError(check)
        if rule.nullable:
            accepted = accepted + (_NONE,)
        typed = _types_mask(vals, accepted)
        if typed is not None:
            ok &= typed
            filler: Any = None if rule.nullable else {"str": "x", "enum": next(iter(rule.allowed or {"x"})),
                                                       "float": 0.0, "money": 0, "bool": False,
                                                       "instant": "1970-01-01T00:00:00Z", "date": "1970-01-01"}[check]
            vals = [v if keep else filler for v, keep in zip(vals, typed.tolist())]
        if check in ("str", "enum"):
            if check == "enum":
                allowed = set(rule.allowed or ()) | ({None} if rule.nullable else set())
                if not set(vals) <= allowed:
                    ok &= np.fromiter((v in allowed for v in vals), dtype=bool, count=n)
            elif rule.nonempty and "" in set(vals):
                ok &= np.fromiter((v != "" for v in vals), dtype=bool, count=n)
            if rule.name == "id":
                return vals  # event ids stay strings (never interned)
            return self.strings.codes(vals)
        if check in ("float", "money"):
            try:
                arr = np.array(vals, dtype=np.float64)
            except OverflowError:  # an integer too large for a float: pydantic decides
                ok &= np.fromiter((v is None or abs(v) < 1e300 for v in vals), dtype=bool, count=n)
                arr = np.array([v if v is None or abs(v) < 1e300 else 0 for v in vals], dtype=np.float64)
            if check == "money":
                big = np.abs(arr) >= 2.0 ** 53  # beyond exact float integers: let Decimal decide
                if big.any():
                    ok &= ~big
            real = ~np.isnan(arr)
            if rule.lo is not None:
                ok &= ~real | (arr >= rule.lo)
            if rule.hi is not None:
                ok &= ~real | (arr <= rule.hi)
            return arr
        if check == "bool":
            return np.array([-1 if v is None else (1 if v else 0) for v in vals], dtype=np.int8)
        # instants and dates: strings (or None) parsed digit by digit
        present = [v for v in vals if v is not None] if rule.nullable else vals
        if check == "instant":
            parsed, good = parse_instants(present)
        else:
            parsed, good = parse_dates(present)
        if len(present) == n:
            ok &= good
            return parsed
        out = np.full(n, NULL_INT, dtype=np.int64)
        where = np.fromiter((v is not None for v in vals), dtype=bool, count=n)
        out[where] = parsed
        sub = ok[where]
        ok[where] = sub & good
        return out


# -- the intake of blocks -------------------------------------------------------------------------
@dataclass
class Block:
    """Parsed records in order of arrival: their values and where each came from.

    ``lines[i]`` is the line (or position) of ``values[i]``; ``items`` the JSON-array positions when
    the source is an array. A value that is a :class:`~hrguard.ingest.RawRecord` is a record that
    could not be parsed (or needs the one-record path for another reason).
    """

    source: str
    values: list[Any]
    lines: list[int] | range
    items: list[int | None] | None = None

    def record(self, i: int) -> RawRecord:
        v = self.values[i]
        if isinstance(v, RawRecord):
            return v
        item = self.items[i] if self.items is not None else None
        return RawRecord(self.source, self.lines[i], v, item=item)


def _group(keys: list[Any]) -> list[tuple[Any, list[int]]]:
    """``(key, positions)`` for each distinct key, positions ascending (one numpy sort, no loop)."""
    code = {k: c for c, k in enumerate(dict.fromkeys(keys))}
    if len(code) <= 1:
        return [(k, list(range(len(keys)))) for k in code]
    codes = np.fromiter(map(code.__getitem__, keys), dtype=np.int64, count=len(keys))
    order = np.argsort(codes, kind="stable").tolist()
    ends = np.cumsum(np.bincount(codes, minlength=len(code))).tolist()
    out, start = [], 0
    for k, end in zip(code, ends):
        out.append((k, order[start:end]))
        start = end
    return out


Admit = Callable[["Block", np.ndarray], np.ndarray]
"""``admit(block, ts) -> accepted``: the last word, in order of arrival, on a block's rows.

``ts[i]`` is the instant of row ``i`` when it passed every fast check, ``NULL_INT`` when it did
not. ``admit`` goes through the rows in order; it takes every row it does not accept (and every
row whose ``ts`` is ``NULL_INT``) through its own one-record path, right then, and returns the mask
of the fast rows it accepts, which are then added in bulk.
"""


class BulkIntake:
    """Takes blocks of records into a :class:`ColumnBuilder` through the fast way where it can.

    The counts, rejections (in order of arrival), duplicate handling and strict mode are those of
    the ``intake`` (one-record path) it wraps, whose deduplicator is a
    :class:`~hrguard.ingest.RowDeduplicator` of the same builder, unless ``rows`` (the id -> row map
    of the builder that the caller's own duplicate rule reads) is given.
    """

    def __init__(self, intake: Intake, builder: ColumnBuilder, kinds: dict[str, type[Event]],
                 rows: dict[str, int] | None = None):
        self.intake = intake
        self.builder = builder
        # id -> builder row of every event taken so far (the duplicate rule's memory)
        self.rows: dict[str, int] = rows if rows is not None else intake.dedupe.seen
        self.plans: dict[str, KindPlan | None] = {k: KindPlan.of(m) for k, m in kinds.items()}
        self.fast_rows = 0

    def take(self, block: Block, admit: Admit | None = None, known: Callable[[list[Any]], set[Any]] | None = None
             ) -> int:
        """Take one block; returns how many of its records became events by the fast way.

        ``known(ids)`` names ids that are not new for a reason this intake cannot see (a bounded
        scan's window and judged ids). ``admit``, when given, makes the final call in order of
        arrival (a bounded scan's lateness): see :data:`Admit`.
        """
        values = block.values
        n = len(values)
        seen = self.rows
        # ids and kinds that are not strings (null, numbers, lists...) never go the fast way; as None
        # they are hashable and (for ids) count as repeated
        ids = [v.get("id") if type(v) is dict else None for v in values]
        if not set(map(type, ids)) <= {str}:
            ids = [i if type(i) is str else None for i in ids]
        # a fast row's id is new: not seen before, not repeated in this block (such rows take the
        # slow way, in order, so that the first one received is the one kept)
        not_new: set[Any] = set()
        if len(set(ids)) != n:
            counts: dict[Any, int] = {}
            for i in ids:
                counts[i] = counts.get(i, 0) + 1
            not_new = {i for i, c in counts.items() if c > 1}
        if seen and not seen.keys().isdisjoint(ids):
            not_new.update(i for i in ids if i in seen)
        if known is not None:
            not_new |= known(ids)
        kinds = [v.get("kind") if type(v) is dict else None for v in values]
        if not set(map(type, kinds)) <= {str}:
            kinds = [k if type(k) is str else None for k in kinds]
        slow: list[int] = []
        fast: list[tuple[KindPlan, _KindBlock, list[int], np.ndarray]] = []
        for kind, idx in _group(kinds):
            plan = self.plans.get(kind) if kind is not None else None
            if plan is None:
                slow.extend(idx)
                continue
            kb = _KindBlock(plan, [values[i] for i in idx], self.builder.strings)
            kb.run()
            ok = kb.ok
            if not_new:
                ok &= np.fromiter((i not in not_new for i in kb.cols["id"]), dtype=bool, count=kb.n)
            fast.append((plan, kb, idx, ok))
        if admit is not None:
            self._admit(block, fast, admit)
        else:
            for _, _, idx, ok in fast:
                if not ok.all():
                    slow.extend(np.asarray(idx)[~ok].tolist())
            slow.sort()
        taken = 0
        for plan, kb, _, ok in fast:
            good = np.flatnonzero(ok)
            if good.size:
                kid = kb.cols["id"]
                self._emit(plan, kb, good, [kid[g] for g in good.tolist()] if good.size != kb.n else kid)
                taken += int(good.size)
        intake = self.intake
        intake.stats.received += taken
        intake.stats.valid += taken
        self.fast_rows += taken
        if admit is None:
            builder = self.builder
            for i in slow:
                ev = intake.take(block.record(i))
                if ev is not None:
                    builder.add(ev)
        return taken

    @staticmethod
    def _admit(block: Block, fast: list[tuple[KindPlan, _KindBlock, list[int], np.ndarray]], admit: Admit) -> None:
        n = len(block.values)
        ts = np.full(n, NULL_INT, dtype=np.int64)  # NULL_INT: the row takes the slow way
        for _, kb, idx, ok in fast:
            where = np.asarray(idx, dtype=np.int64)[ok]
            ts[where] = kb.cols["ts"][ok]
        accepted = admit(block, ts)
        for _, _, idx, ok in fast:
            ok &= accepted[np.asarray(idx, dtype=np.int64)]

    def _emit(self, plan: KindPlan, kb: _KindBlock, good: np.ndarray, ids: list[str]) -> None:
        full = good.size == kb.n
        row0 = len(self.builder)
        cols: dict[str, Any] = {}
        for rule in plan.rules:
            v = kb.cols[rule.name]
            if isinstance(v, list):
                v = v if full else [v[g] for g in good.tolist()]
            elif not full:
                v = v[good]
            cols[rule.name] = v
        attrs = kb.attrs
        if attrs is not None and not full:
            attrs = [attrs[g] for g in good.tolist()]
        self.builder.extend(plan.kind, ids, cols, attrs)
        self.rows.update(zip(ids, range(row0, row0 + len(ids))))


def blocks_of(records: Iterable[RawRecord], size: int) -> Iterator[Block]:
    """Blocks of records from any reader (positions and sources kept)."""
    values: list[Any] = []
    lines: list[int] = []
    items: list[int | None] = []
    source = None
    for rec in records:
        if source is not None and (rec.source != source or len(values) >= size):
            yield Block(source, values, lines, items)
            values, lines, items = [], [], []
        source = rec.source
        values.append(rec.value if rec.error is None and type(rec.value) is dict else rec)
        lines.append(rec.line)
        items.append(rec.item)
    if values:
        yield Block(source or "<input>", values, lines, items)


def _jsonl_blocks(fh: Any, source: str, size_bytes: int) -> Iterator[Block]:
    """Blocks of a JSON Lines file, parsed a block at a time (a line-by-line fallback per block
    that has blank or malformed lines, so those keep their exact line numbers and messages)."""
    lineno = 1
    first = True
    while True:
        lines = fh.readlines(size_bytes)
        if not lines:
            return
        if first:
            first = False
            if lines[0].startswith(b"\xef\xbb\xbf"):
                lines[0] = lines[0][3:]
        try:
            values = list(map(loads, lines))
            yield Block(source, values, range(lineno, lineno + len(lines)))
        except JSONError:
            yield _line_by_line(lines, source, lineno)
        lineno += len(lines)


def _line_by_line(lines: list[bytes], source: str, lineno: int) -> Block:
    """One block parsed a line at a time: blank lines skipped, malformed ones kept as records."""
    values: list[Any] = []
    where: list[int] = []
    for k, raw in enumerate(lines):
        line = raw.rstrip(b"\r\n")
        if not line.strip():
            continue
        ln = lineno + k
        try:
            v = loads(line)
        except JSONError as exc:
            v = RawRecord(source, ln, salvage_id(line), error=f"malformed JSON: {json_problem(exc)}")
        values.append(v)
        where.append(ln)
    return Block(source, values, where)


def _starts_with_array(fh: Any) -> bool:
    """Whether a binary file's first non-blank character is ``[`` (a JSON array), without consuming it."""
    head = fh.peek(4096)[:4096] if hasattr(fh, "peek") else b""
    return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"[")


def iter_blocks(events: Any, size: int = 8192) -> Iterator[Block]:
    """Blocks of about ``size`` records of anything ``scan`` accepts (paths, files, iterables).

    JSON Lines files are read and parsed a block at a time; everything else goes through
    :func:`~hrguard.ingest.iter_records` (same records, same positions).
    """
    paths: list[Any] | None = None
    if isinstance(events, (str, os.PathLike)):
        paths = [events]
    elif isinstance(events, (list, tuple)) and events and all(isinstance(e, (str, os.PathLike)) for e in events):
        paths = list(events)
    if paths is None:
        yield from blocks_of(iter_records(events), size)
        return
    for path in paths:
        name = str(path)
        if name == "-":
            yield from blocks_of(read_records(name), size)
            continue
        with open(name, "rb") as fh:
            if _starts_with_array(fh):
                yield from blocks_of(read_records(name), size)
            else:
                yield from _jsonl_blocks(fh, name, size * 256)
