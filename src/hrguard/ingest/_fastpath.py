"""The fast path of ingest: msgspec Structs generated from the event models, and columns from them.

The pydantic models in :mod:`hrguard.events` (and a plugin's kinds) are the one definition of a valid
event. Validating each record into a model costs ~10 us; when an engine is built, :class:`Schema`
reads every kind's model and generates a msgspec ``Struct`` of the same shape (a tagged union on
``kind``), which decodes *and* type-checks a JSON line in C at about the cost of parsing it. What a
Struct cannot express is then checked for a whole block of records at once, with numpy, and the
values go straight into columns (:func:`kind_columns`): no model object is ever made.

The fast path decides only what it can decide exactly; everything else goes to the model, record by
record, and gets the model's located message:

- A Struct field accepts only the plain JSON form of its field (a string for a timestamp, a number
  for a coordinate); a field type, constraint or validator the generator does not know makes the
  field *generic*: its values are validated by pydantic with the field's own annotation (the same
  validation the model runs), still a block at a time. A model with checks of its own that are not
  declared (model or field validators, its own config) is not generated at all: its kind always
  takes the model.
- Timestamps, dates and times of day are parsed by :func:`parse_instants` & co. only in the spellings
  they fully cover (``T``/``t``/space/``_`` separators, up to 6 fraction digits, ``Z``/``z``/``+HH:MM``
  /``+HHMM`` offsets, years 1900-2199); money only as a number or a plain decimal string; any other
  spelling is left to the model.
- Unknown top-level fields go to ``attrs`` as the model puts them there; a record that has an
  ``attrs`` object *and* unknown fields is left to the model (it may have to reject a clash).
- The (lat, lon) rule is read off the models' declared ``BOTH_OR_NEITHER``.

``tests/test_fastpath.py`` holds the fast path equal to the model path on generated good and bad
records with hypothesis: the same accepted events, column for column, and the same rejections.
"""

from __future__ import annotations

import copy
import re
import types
import typing
from array import array
from dataclasses import dataclass, field
from datetime import date, time
from decimal import Decimal
from itertools import chain
from typing import Any, Callable, Literal, Union

import msgspec
import numpy as np
from annotated_types import Ge, Le, Lt, MinLen
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo
from pydantic.functional_serializers import PlainSerializer
from pydantic.functional_validators import AfterValidator, BeforeValidator
from pydantic.types import Strict

from ..columns import BOOL, CODE, FLOAT, NESTED, NULL_CODE, NULL_INT, OBJECT, Interner, column_type, converter
from ..events import PRECHECKS, UNINTERNED, Event, Nested, json_value_problem

_NONE = type(None)
_US = 1_000_000


class _Unsupported(Exception):
    """Something about a model the generator does not know: that kind always takes the model."""


# -- one field ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FieldCodec:
    """How the fast path takes one field: the Struct's type for it, and how its values become a column.

    ``how`` is one of ``str`` (strings and string literals: codes), ``text`` (strings kept as they
    are), ``float``, ``bool``, ``instant``,
    ``date``, ``time``, ``money``, ``entries`` (a list of nested objects: a child table), ``attrs``,
    ``id`` (kept as strings) and ``generic`` (validated by pydantic with the field's own annotation).
    """

    name: str
    ctype: str
    how: str
    nullable: bool
    struct_type: Any
    default: Any = msgspec.NODEFAULT
    lo: float | None = None
    hi: float | None = None  # money: below (exclusive)
    finite: bool = False  # a float: NaN and infinities are not values
    adapter: TypeAdapter[Any] | None = None
    entry: StructPlan | None = None


def _parts(info: FieldInfo) -> tuple[Any, bool, list[Any]]:
    """(base type, nullable, metadata) of a field, through ``Annotated`` and ``X | None``."""
    nullable = False
    meta = list(info.metadata)
    t = info.annotation
    while True:
        origin = typing.get_origin(t)
        if origin is typing.Annotated:
            args = typing.get_args(t)
            t = args[0]
            for m in args[1:]:
                meta.extend(m.metadata if isinstance(m, FieldInfo) else [m])
            continue
        if origin in (Union, types.UnionType):
            args = [a for a in typing.get_args(t) if a is not _NONE]
            if len(args) == 1 and len(typing.get_args(t)) == 2 and not nullable:
                nullable = True
                t = args[0]
                continue
            raise _Unsupported(t)
        return t, nullable, meta


_DATETIME = "AwareDatetime"


def field_codec(name: str, info: FieldInfo) -> FieldCodec:
    """The codec of one field of a model (``_Unsupported`` for what even a generic field cannot be)."""
    if info.alias is not None or info.validation_alias is not None or info.validate_default:
        raise _Unsupported(name)
    ctype = column_type(info.annotation, info.metadata)
    required = info.is_required()
    default: Any = msgspec.NODEFAULT
    if not required:
        if info.default_factory is not None:
            if info.default_factory not in (list, dict):
                raise _Unsupported(name)
            default = msgspec.field(default_factory=info.default_factory)
        else:
            default = info.get_default()
    try:
        return _known(name, info, ctype, default)
    except _Unsupported:
        if ctype == NESTED:
            raise
    # generic: any JSON value, validated by pydantic with the field's own annotation and metadata
    annotated = typing.Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
    return FieldCodec(name, ctype, "generic", True, Any, default, adapter=TypeAdapter(annotated))


def _known(name: str, info: FieldInfo, ctype: str, default: Any) -> FieldCodec:
    base, nullable, meta = _parts(info)
    lo = hi = below = None
    min_len = 0
    strict = False
    finite = False
    for m in meta:
        if isinstance(m, Ge):
            lo = float(m.ge)
        elif isinstance(m, Le):
            hi = float(m.le)
        elif isinstance(m, Lt) and base is Decimal:
            below = float(m.lt)
        elif isinstance(m, MinLen):
            min_len = m.min_length
        elif isinstance(m, Strict):
            strict = m.strict
        elif isinstance(m, (BeforeValidator, AfterValidator)) and m.func in PRECHECKS:
            pass  # refuses only JSON types the plain form never has (events.PRECHECKS)
        elif isinstance(m, PlainSerializer) or type(m).__name__ == "WithJsonSchema":
            pass  # output only
        elif m is UNINTERNED:
            pass  # the column type says it (ctype)
        elif type(m).__name__ == "AllowInfNan" and not m.allow_inf_nan and base in (Decimal, float):
            finite = True  # checked below (money is finite; so is a float that says so)
        else:
            raise _Unsupported(m)
    origin = typing.get_origin(base)

    def made(how: str, stype: Any, **kw: Any) -> FieldCodec:
        if nullable:
            stype = stype | None
        return FieldCodec(name, ctype, how, nullable, stype, default, **kw)

    if below is not None and base is not Decimal:
        raise _Unsupported(name)
    if base is str and not strict:
        if lo is not None or hi is not None:
            raise _Unsupported(name)
        how = "text" if ctype == OBJECT else "str"  # strings kept as they are, or codes
        return made(how, typing.Annotated[str, msgspec.Meta(min_length=min_len)] if min_len else str)
    if origin is Literal and all(isinstance(a, str) for a in typing.get_args(base)) and not (lo or hi or min_len):
        return made("str", base)
    if base is float and strict and not min_len:
        kw = {k: v for k, v in (("ge", lo), ("le", hi)) if v is not None}
        return made("float", typing.Annotated[float, msgspec.Meta(**kw)] if kw else float, finite=finite)
    if base is bool and strict and lo is None and hi is None:
        return made("bool", bool)
    if base is Decimal and hi is None and not min_len and any(getattr(m, "func", None) in PRECHECKS for m in meta):
        return made("money", Union[int, float, str], lo=lo, hi=below)
    if lo is None and hi is None and not min_len and not strict:
        if getattr(base, "__name__", "") == _DATETIME:
            return made("instant", str)
        if base is date:
            return made("date", str)
        if base is time:
            return made("time", str)
    if ctype == NESTED and not nullable and not (lo or hi or min_len or strict):
        plan = StructPlan.of(typing.get_args(base)[0], entry=True)
        return FieldCodec(name, ctype, "entries", False, list[plan.struct], default, entry=plan)  # type: ignore[name-defined]
    raise _Unsupported(name)


# -- one model ------------------------------------------------------------------------------------------------
def _own_checks(model: type[BaseModel], base: type[BaseModel]) -> bool:
    """Whether ``model`` validates anything beyond what ``base`` does (and the codecs know)."""
    decs, known = model.__pydantic_decorators__, base.__pydantic_decorators__
    for kind in ("validators", "field_validators", "root_validators", "model_validators"):
        mine, theirs = getattr(decs, kind), getattr(known, kind)
        if set(mine) != set(theirs) or any(_func(mine[k].func) is not _func(theirs[k].func) for k in mine):
            return True
    if model.model_config != base.model_config:
        return True
    return model.__init__ is not base.__init__ or model.model_post_init is not base.model_post_init


def _func(f: Any) -> Any:
    return getattr(f, "__func__", f)  # a classmethod validator is bound to each class


@dataclass
class StructPlan:
    """The generated Struct of one model (an event kind, or the entries of a list field) and its codecs."""

    model: type[BaseModel]
    struct: Any
    codecs: tuple[FieldCodec, ...]  # in the Struct's field order
    pairs: tuple[tuple[str, str], ...]
    known: frozenset[str]  # the record keys the Struct takes (``kind`` included for an event)
    kind: str | None = None
    locations: tuple[tuple[str, str], ...] = ()  # (lat, lon) pairs where exactly (0, 0) means no location

    @classmethod
    def of(cls, model: type[BaseModel], *, entry: bool = False) -> StructPlan:
        base = Nested if entry else Event
        if not issubclass(model, base) or _own_checks(model, base):
            raise _Unsupported(model)
        codecs = []
        for name, info in model.model_fields.items():
            if name == "kind" and not entry:
                continue
            if name == "attrs" and not entry:
                codecs.append(FieldCodec("attrs", OBJECT, "attrs", True, Union[dict[str, Any], None], None))
                continue
            c = field_codec(name, info)
            if name == "id" and not entry:
                c = FieldCodec("id", CODE, "id", False, c.struct_type)
            codecs.append(c)
        pairs = tuple((a, b) for a, b, _ in model.BOTH_OR_NEITHER)  # type: ignore[attr-defined]
        for a, b in pairs:
            kinds = {c.how for c in codecs if c.name in (a, b)}
            if kinds != {"float"}:
                raise _Unsupported((a, b))
        names = [(c.name, c.struct_type, c.default) if c.default is not msgspec.NODEFAULT else (c.name, c.struct_type)
                 for c in codecs]
        kw: dict[str, Any] = {"kw_only": True, "forbid_unknown_fields": True, "gc": False}
        kind = None
        if not entry:
            kind = model.KIND  # type: ignore[attr-defined]
            if not kind:
                raise _Unsupported(model)
            kw.update(tag=kind, tag_field="kind")
        struct = msgspec.defstruct(f"Fast{model.__name__}", names, **kw)
        known = frozenset(c.name for c in codecs) | ({"kind"} if not entry else set())
        locations = tuple(model.LOCATIONS)  # type: ignore[attr-defined]
        for a, b in locations:
            if {c.how for c in codecs if c.name in (a, b)} != {"float"}:
                raise _Unsupported((a, b))
        return cls(model, struct, tuple(codecs), pairs, known, kind, locations)


class Schema:
    """The fast path of every kind of an engine, generated from the kinds' models.

    ``plans`` maps a kind to its :class:`StructPlan`, or to ``None`` for a kind that always takes the
    model; :meth:`decode` takes one JSON line to a Struct (raising msgspec's errors), :meth:`convert`
    one record already parsed.
    """

    def __init__(self, kinds: dict[str, type[Event]]):
        self.kinds = kinds
        self.plans: dict[str, StructPlan | None] = {}
        for k, model in kinds.items():
            try:
                self.plans[k] = StructPlan.of(model)
            except _Unsupported:
                self.plans[k] = None
        fast = [p for p in self.plans.values() if p is not None]
        self.by_struct: dict[type, StructPlan] = {p.struct: p for p in fast}
        if fast:
            union = Union[tuple(p.struct for p in fast)] if len(fast) > 1 else fast[0].struct
            self._decoder = msgspec.json.Decoder(union)
            self.decode = self._decoder.decode
            self._union = union
        else:
            self.decode = _never
            self._union = None

    def convert(self, record: dict[str, Any]) -> Any:
        """The Struct of a record that is already a dict (raises ``msgspec.ValidationError``).

        Converted to its kind's Struct, not to the union: msgspec caches what it knows of a Struct type on
        the type, but rebuilds it for a ``Union`` at every call (11 us a record instead of 0.5, measured)."""
        kind = record.get("kind")
        plan = self.plans.get(kind) if type(kind) is str else None
        if plan is None:
            raise msgspec.ValidationError("no fast path for this record's kind")
        return msgspec.convert(record, plan.struct)

    def with_unknown_fields(self, record: dict[str, Any]) -> Any | None:
        """The Struct of a record with unknown top-level fields, which go to its ``attrs`` (as they are:
        :func:`kind_columns` copies them when they are the caller's), or ``None`` when the fast path
        cannot take the record."""
        kind = record.get("kind")
        plan = self.plans.get(kind) if isinstance(kind, str) else None
        if plan is None or "attrs" in record:
            return None
        known = plan.known
        extras = {k: v for k, v in record.items() if k not in known}
        if not extras or not all(type(k) is str for k in extras):
            return None
        try:
            s = msgspec.convert({k: v for k, v in record.items() if k in known}, plan.struct)
        except (msgspec.ValidationError, TypeError, ValueError, OverflowError):
            return None
        s.attrs = extras
        return s


def _never(line: bytes) -> Any:
    raise msgspec.ValidationError("no kind has a fast path")


# -- columns of a block ------------------------------------------------------------------------------------------
@dataclass
class KindColumns:
    """The rows of one kind of one block in column form, and which of them the fast path accepts."""

    n: int
    ok: np.ndarray
    cols: dict[str, Any] = field(default_factory=dict)
    attrs: list[Any] | None = None
    entries: dict[str, tuple[np.ndarray, dict[str, Any]]] = field(default_factory=dict)  # field -> (owner, cols)

    def take(self, keep: np.ndarray) -> tuple[list[str], dict[str, Any], list[Any] | None, dict[str, dict[str, Any]]]:
        """``(ids, cols, attrs, entries)`` of the rows ``keep`` (ascending), for ColumnBuilder.extend."""
        full = keep.size == self.n
        kl = None if full else keep.tolist()
        cols: dict[str, Any] = {}
        for name, v in self.cols.items():
            if isinstance(v, list):
                cols[name] = v if full else [v[i] for i in kl]  # type: ignore[union-attr]
            else:
                cols[name] = v if full else v[keep]
        attrs = self.attrs if (self.attrs is None or full) else [self.attrs[i] for i in kl]  # type: ignore[union-attr]
        entries: dict[str, dict[str, Any]] = {}
        for name, (owner, ecols) in self.entries.items():
            if full:
                entries[name] = ecols
                continue
            sel = np.flatnonzero(np.isin(owner, keep))
            sl = sel.tolist()
            entries[name] = {f: ([v[i] for i in sl] if isinstance(v, list) else v[sel]) for f, v in ecols.items()}
        return cols.pop("id"), cols, attrs, entries


class Deferred:
    """The text values of a block to parse (timestamps, dates, times of day), one call per type for
    the whole block: numpy's cost per call is fixed, and a block has a dozen kinds. :meth:`run` fills
    in the columns and ``ok`` masks the values were taken from, then what waited on them."""

    PARSERS = {"instant": "parse_instants", "date": "parse_dates", "time": "parse_times"}

    def __init__(self) -> None:
        self.parts: dict[str, list[tuple[list[str], np.ndarray, np.ndarray, np.ndarray | None]]] = {}
        self.then: list[Callable[[], None]] = []

    def add(self, how: str, values: list[str], out: np.ndarray, ok: np.ndarray, where: np.ndarray | None) -> None:
        self.parts.setdefault(how, []).append((values, out, ok, where))

    def run(self) -> None:
        for how, parts in self.parts.items():
            parse = globals()[self.PARSERS[how]]
            got, good = parse(list(chain.from_iterable(p[0] for p in parts)) if len(parts) > 1 else parts[0][0])
            at = 0
            for values, out, ok, where in parts:
                k = len(values)
                if where is None:
                    out[:] = got[at:at + k]
                    ok &= good[at:at + k]
                else:
                    out[where] = got[at:at + k]
                    ok[where] &= good[at:at + k]
                at += k
        self.parts = {}
        for step in self.then:
            step()
        self.then = []


def kind_columns(plan: StructPlan, structs: list[Any], strings: Interner, fresh: bool = True,
                 deferred: Deferred | None = None, utf8: bool = False) -> KindColumns:
    """Columns of Structs of one plan, and ``ok``: the rows whose every value the fast path takes.

    Strings are interned in row order (a rejected row's strings too: codes are scan-local and only
    their text is ever shown). ``fresh``: the values are nobody else's (parsed just now), so attrs
    need no copy. With ``deferred``, texts to parse are only collected: the columns and ``ok`` are
    complete once ``deferred.run()`` has run. ``utf8``: the strings were decoded from UTF-8 JSON by msgspec
    (JSON Lines), so they hold no lone surrogate and no number is NaN; otherwise (Python objects, a JSON
    array) strings are checked a column at a time, and ``attrs`` value by value
    (:func:`~hrguard.events.json_value_problem`).
    """
    if deferred is None:
        deferred = Deferred()
        out = kind_columns(plan, structs, strings, fresh, deferred, utf8)
        deferred.run()
        return out
    n = len(structs)
    out = KindColumns(n, np.ones(n, dtype=bool))
    if n == 0:
        for c in plan.codecs:
            if c.how == "entries":
                assert c.entry is not None
                out.entries[c.name] = (np.zeros(0, dtype=np.int64), kind_columns(c.entry, [], strings).cols)
            if c.how != "attrs":
                out.cols[c.name] = _empty(c)
        return out
    values = list(zip(*map(msgspec.structs.astuple, structs)))
    for c, vals in zip(plan.codecs, values):
        if c.how == "attrs":
            if set(map(type, vals)) != {_NONE}:
                _attrs_ok(vals, out.ok, utf8)
                out.attrs = [(v if fresh else copy.deepcopy(v)) if v and out.ok[i] else None for i, v in enumerate(vals)]
            continue
        if c.how == "entries":
            out.cols[c.name] = _entries(c, vals, strings, out, fresh, deferred, utf8)
            continue
        if not utf8 and c.how in ("id", "text", "str"):
            _text_ok(vals, out.ok)
        out.cols[c.name] = _column(c, vals, strings, out.ok, deferred)
    for a, b in plan.pairs:
        out.ok &= np.isnan(out.cols[a]) == np.isnan(out.cols[b])
    for a, b in plan.locations:  # (0, 0) is no location, as the models read it
        zero = (out.cols[a] == 0) & (out.cols[b] == 0)
        if zero.any():
            out.cols[a][zero] = np.nan
            out.cols[b][zero] = np.nan
    if plan.kind is not None:  # an event: "" is the default tenant, as the models read it
        blank = strings.find("")
        tenant = out.cols.get("tenant")
        if blank >= 0 and isinstance(tenant, np.ndarray):
            tenant[tenant == blank] = NULL_CODE
    return out


def _text_ok(vals: tuple[Any, ...], ok: np.ndarray) -> None:
    """A string with a lone surrogate (not Unicode text: no UTF-8 output can hold it) is the model's to
    reject (one join and encode a column)."""
    try:
        "".join([v for v in vals if type(v) is str]).encode("utf-8")
    except UnicodeEncodeError:
        for i, v in enumerate(vals):
            if type(v) is str:
                try:
                    v.encode("utf-8")
                except UnicodeEncodeError:
                    ok[i] = False


_DEEP_OR_BIG = (dict, list, int)


def _attrs_ok(vals: tuple[Any, ...], ok: np.ndarray, utf8: bool) -> None:
    """An attrs value the wire format cannot carry (too deep; for input not decoded from JSON Lines also NaN,
    a lone surrogate) is the model's to reject. From JSON Lines only attrs holding an object, an array
    (too deep) or an integer (beyond a double) can be at fault, and only those are looked at."""
    for i, v in enumerate(vals):
        if not v:
            continue
        if utf8 and not any(type(x) in _DEEP_OR_BIG for x in v.values()):
            continue
        if json_value_problem(v, 0) is not None:
            ok[i] = False


def _empty(c: FieldCodec) -> Any:
    if c.how == "id" or c.ctype == OBJECT:
        return []
    return np.zeros(0, dtype={CODE: np.int32, FLOAT: np.float64, BOOL: np.int8, NESTED: np.int32}.get(c.ctype, np.int64))


def _entries(c: FieldCodec, lists: tuple[Any, ...], strings: Interner, parent: KindColumns, fresh: bool,
             deferred: Deferred, utf8: bool) -> np.ndarray:
    """A list field: entry counts per row; the entries' columns into ``parent.entries``; a row with an
    entry the fast path does not take is not ok."""
    counts = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
    flat = list(chain.from_iterable(lists))
    plan = c.entry
    assert plan is not None
    sub = kind_columns(plan, flat, strings, fresh, deferred, utf8)
    owner = np.repeat(np.arange(len(lists)), counts)

    def entries_ok() -> None:  # once the entries' texts are parsed
        if not sub.ok.all():
            parent.ok &= np.bincount(owner[~sub.ok], minlength=len(lists)) == 0

    deferred.then.append(entries_ok)
    parent.entries[c.name] = (owner, sub.cols)
    return counts.astype(np.int32)


def _column(c: FieldCodec, vals: tuple[Any, ...], strings: Interner, ok: np.ndarray, deferred: Deferred) -> Any:
    how = c.how
    if how in ("id", "text"):
        return list(vals)
    if how == "str":
        return strings.codes(vals)  # type: ignore[arg-type]
    if how == "float":
        out = np.array(vals, dtype=np.float64)  # None is nan
        if c.finite:
            inf = np.isinf(out)
            if inf.any():
                ok &= ~inf
            nan = np.flatnonzero(np.isnan(out))
            if nan.size:  # a NaN given (not a null): the model's to reject
                bad = [i for i in nan.tolist() if vals[i] is not None]
                ok[bad] = False
        return out
    if how == "bool":
        return np.array([-1 if v is None else (1 if v else 0) for v in vals], dtype=np.int8)
    if how == "money":
        return _money(vals, c, ok)
    if how == "generic":
        return _generic(vals, c, strings, ok)
    out = np.full(len(vals), NULL_INT, dtype=np.int64)
    if c.nullable and _NONE in set(map(type, vals)):
        present = np.flatnonzero(np.fromiter((v is not None for v in vals), dtype=bool, count=len(vals)))
        if present.size:
            deferred.add(how, [v for v in vals if v is not None], out, ok, present)
        return out
    deferred.add(how, list(vals), out, ok, None)  # type: ignore[arg-type]
    return out


_PLAIN_DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?")
_EXACT = 2.0 ** 53


def _money(vals: tuple[Any, ...], c: FieldCodec, ok: np.ndarray) -> np.ndarray:
    """Money: a JSON number or a plain decimal string (``"1250.50"``), finite, within the bounds;
    beyond 2**53 (where a float is no longer exact) the model decides."""
    n = len(vals)
    out = np.full(n, np.nan)
    present = np.ones(n, dtype=bool)  # not null
    known = np.ones(n, dtype=bool)  # a spelling read here
    fast = set(map(type, vals)) <= {int, float}
    if fast:
        try:
            out = np.array(vals, dtype=np.float64)
        except OverflowError:  # an integer beyond float
            fast = False
    if not fast:
        for i, v in enumerate(vals):
            t = type(v)
            if v is None:
                present[i] = False
            elif t is int or t is float:
                try:
                    out[i] = float(v)
                except OverflowError:
                    known[i] = False
            elif t is str and _PLAIN_DECIMAL.fullmatch(v):
                out[i] = float(v)
            else:
                known[i] = False
    good = known & np.isfinite(out) & (np.abs(out) < _EXACT)
    if c.lo is not None:
        good &= out >= c.lo
    if c.hi is not None:  # rounding to a float is monotonic and the bound is exact: never ok beyond it
        good &= out < c.hi
    ok &= (good | ~present) if c.nullable else good
    return out


def _generic(vals: tuple[Any, ...], c: FieldCodec, strings: Interner, ok: np.ndarray) -> Any:
    """A field the codecs do not know: pydantic validates each value with the field's own annotation."""
    adapter = c.adapter
    assert adapter is not None
    conv = converter(c.ctype, strings)
    out: list[Any] = []
    for i, v in enumerate(vals):
        try:
            out.append(conv(adapter.validate_python(v)))
        except (ValidationError, ValueError, TypeError):
            ok[i] = False
            out.append(conv(None) if c.ctype != OBJECT else None)
    if c.ctype == OBJECT:
        return out
    return np.array(out, dtype={CODE: np.int32, FLOAT: np.float64, BOOL: np.int8}.get(c.ctype, np.int64))


# -- timestamps, dates and times of day, parsed a block at a time ---------------------------------------------------
class _Template:
    """One fixed-width spelling: which characters each position allows, and the numbers it holds.

    ``pattern`` uses ``d`` (or ``e``, to end one number where the next begins) for a digit, ``S`` for
    the date/time separator, ``+`` for an offset's sign, ``Z`` for a zulu mark; anything else is
    itself. ``fields`` name the runs of digits in order.
    """

    ALLOWED = {"S": b"Tt _", "+": b"+-", "Z": b"Zz"}

    def __init__(self, pattern: str, fields: tuple[str, ...]):
        self.width = len(pattern)
        self.digits = [i for i, ch in enumerate(pattern) if ch in "de"]
        self.marks: list[tuple[int, int | np.ndarray]] = []  # (position, its byte, or a 256-entry table)
        for i, ch in enumerate(pattern):
            if ch in "de":
                continue
            allowed = self.ALLOWED.get(ch, ch.encode())
            if len(allowed) == 1:
                self.marks.append((i, allowed[0]))
            else:
                table = np.zeros(256, dtype=bool)
                table[list(allowed)] = True
                self.marks.append((i, table))
        self.sign = pattern.find("+")
        runs = [(m.start(), m.end()) for m in re.finditer("d+|e+", pattern)]
        assert len(runs) == len(fields), (pattern, fields)
        self.runs = dict(zip(fields, runs))
        self.frac = fields.index("frac") if "frac" in fields else -1
        # the same spelling as a regular expression, for a few values (numpy's cost per call is fixed)
        parts = []
        for m in re.finditer("d+|e+|.", pattern):
            tok = m.group()
            if tok[0] in "de":
                parts.append(f"([0-9]{{{len(tok)}}})")
            else:
                parts.append("[" + re.escape(self.ALLOWED[tok].decode()) + "]" if tok in self.ALLOWED else re.escape(tok))
        self.regex = re.compile("".join(parts))

    def read(self, m: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """``(ok, numbers)``: whether each row of an (n, width) character matrix fits the spelling, and
        the numbers by field name (a fraction in microseconds)."""
        mt = np.ascontiguousarray(m.T)  # a row per position: every step below reads contiguous memory
        d = mt - np.uint8(48)  # a digit is 0-9; anything else wraps around above 9
        ok = (d[self.digits] <= 9).all(axis=0)
        for i, want in self.marks:
            ok &= (mt[i] == want) if isinstance(want, int) else want[mt[i]]
        out = {}
        for name, (a, b) in self.runs.items():
            v = d[a].astype(np.int32)
            for k in range(a + 1, b):
                v = v * 10 + d[k]
            if name == "frac":
                v = v * 10 ** (6 - (b - a))
            out[name] = v
        if self.sign >= 0:
            out["sign"] = mt[self.sign]
        return ok, out

    def read_one(self, text: str) -> list[int] | None:
        """:meth:`read` of one string: its numbers in the order of ``fields`` (a fraction in
        microseconds), then its sign's character code if it has one; ``None``: it does not fit."""
        m = self.regex.fullmatch(text)
        if m is None:
            return None
        out = list(map(int, m.groups()))
        if self.frac >= 0:
            a, b = self.runs["frac"]
            out[self.frac] *= 10 ** (6 - (b - a))
        if self.sign >= 0:
            out.append(ord(text[self.sign]))
        return out


_TS_BODY = "dddd-dd-ddSdd:dd:dd"
_TS_FIELDS = ("y", "mo", "d", "h", "mi", "s")


def _ts_template(frac: int, tz: str) -> _Template:
    pattern = _TS_BODY + ("." + "d" * frac if frac else "") + tz
    fields = _TS_FIELDS + (("frac",) if frac else ()) + (("oh", "om") if tz != "Z" else ())
    return _Template(pattern, fields)


_TS_TEMPLATES: dict[tuple[int, str], _Template] = {}  # (width, offset form) -> spelling
for _frac in range(0, 7):
    for _tz in ("Z", "+dd:dd", "+ddee"):
        _t = _ts_template(_frac, _tz)
        _TS_TEMPLATES[(_t.width, _tz)] = _t
_DATE_TEMPLATE = _Template("dddd-dd-dd", ("y", "mo", "d"))
_TIME_TEMPLATES = {5: _Template("dd:dd", ("h", "mi")), 8: _Template("dd:dd:dd", ("h", "mi", "s"))}

_Y0, _Y1 = 1900, 2200  # the years the fast path reads (others are the model's)


def _day_table() -> np.ndarray:
    """Days since 1970-01-01 of every (year, month, day) of years 1900-2199, ``-1 << 40`` where the date
    does not exist; indexed by ``(year - 1900) * 372 + (month - 1) * 31 + day - 1``."""
    y, mo, d = np.meshgrid(np.arange(_Y0, _Y1), np.arange(1, 13), np.arange(1, 32), indexing="ij")
    y, mo, d = y.ravel(), mo.ravel(), d.ravel()
    leap = (y % 4 == 0) & ((y % 100 != 0) | (y % 400 == 0))
    dim = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])[mo] + ((mo == 2) & leap)
    yy = y - (mo <= 2)
    era = yy // 400
    yoe = yy - era * 400
    doy = (153 * (mo + np.where(mo > 2, -3, 9)) + 2) // 5 + d - 1
    days = era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
    return np.where(d <= dim, days, _NO_DAY).astype(np.int64)


_NO_DAY = -1 << 40
_DAYS = _day_table()
_DAYS_LIST = array("q", _DAYS.tobytes())  # the same, for one value at a time
_SMALL = 16  # fewer values than this are parsed one by one: numpy's cost per call would be most of it


def _day(y: int, mo: int, d: int) -> int | None:
    """:func:`_days` of one date (``None``: it does not exist, or is out of the years read)."""
    if not (_Y0 <= y < _Y1 and 1 <= mo <= 12 and 1 <= d <= 31):
        return None
    days = _DAYS_LIST[(y - _Y0) * 372 + (mo - 1) * 31 + d - 1]
    return None if days == _NO_DAY else days


def _days(y: np.ndarray, mo: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Days since 1970-01-01 of a proleptic Gregorian date, and whether the date exists (years 1900-2199)."""
    fits = (y >= _Y0) & (y < _Y1) & (mo >= 1) & (mo <= 12) & (d >= 1) & (d <= 31)
    days = _DAYS[np.where(fits, (y - _Y0) * 372 + (mo - 1) * 31 + d - 1, 0)]
    return days.astype(np.int64), fits & (days != _NO_DAY)


def _matrix(values: list[str], width: int) -> np.ndarray:
    """Strings of ``width`` characters as an (n, width) uint8 matrix (a non-ASCII character is ``?``)."""
    raw = "".join(values).encode("ascii", errors="replace")
    return np.frombuffer(raw, dtype=np.uint8).reshape(len(values), width)


def _by_width(values: list[str]) -> list[tuple[int, np.ndarray | None]]:
    """``(width, positions)`` of the distinct lengths (positions ``None``: all values have it)."""
    widths = set(map(len, values))
    if len(widths) == 1:
        return [(widths.pop(), None)]
    lens = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
    return [(w, np.flatnonzero(lens == w)) for w in sorted(widths)]


def parse_instants(values: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """``(microseconds since the epoch, ok)`` of RFC 3339 timestamps in the spellings of the fast path.

    ``YYYY-MM-DD?HH:MM:SS[.f{1,6}](Z|±HH:MM|±HHMM)`` with ``?`` one of ``T t _`` or a space and ``z``
    for ``Z``, years 1900-2199; anything else is not ok here and is left to the model.
    """
    n = len(values)
    if n < _SMALL:
        return _each(values, _instant_one)
    us = np.zeros(n, dtype=np.int64)
    ok = np.zeros(n, dtype=bool)
    for width, where in _by_width(values):
        if not 20 <= width <= 32:
            continue
        sub = values if where is None else [values[i] for i in where.tolist()]
        m = _matrix(sub, width)
        last, colon = m[:, width - 1], m[:, width - 3]
        form = np.where((last == 90) | (last == 122), 0, np.where(colon == 58, 1, 2))
        first = int(form[0])
        one = bool((form == first).all())
        for f, tz in enumerate(("Z", "+dd:dd", "+ddee")):
            tpl = _TS_TEMPLATES.get((width, tz))
            if tpl is None or (one and f != first):
                continue
            rows = np.arange(len(sub)) if one else np.flatnonzero(form == f)
            if rows.size == 0:
                continue
            mm = m if one else m[rows]
            good, v = tpl.read(mm)
            days, real = _days(v["y"], v["mo"], v["d"])
            h, mi, s = v["h"], v["mi"], v["s"]
            good &= real & (h <= 23) & (mi <= 59) & (s <= 59)
            secs = h * 3600 + mi * 60 + s  # int32: within a day
            if tz != "Z":
                oh, om = v["oh"], v["om"]
                good &= (oh <= 23) & (om <= 59)
                offset = oh * 3600 + om * 60
                secs -= np.where(v["sign"] == 45, -offset, offset)
            val = (days * 86_400 + secs) * _US
            if "frac" in v:
                val += v["frac"]
            at = rows if where is None else where[rows]
            us[at] = val
            ok[at] = good
    return us, ok


def parse_dates(values: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """``(days since 1970-01-01, ok)`` of ``YYYY-MM-DD`` dates (years 1900-2199); anything else is not ok here."""
    n = len(values)
    if n < _SMALL:
        return _each(values, _date_one)
    days = np.zeros(n, dtype=np.int64)
    ok = np.zeros(n, dtype=bool)
    for width, where in _by_width(values):
        if width != 10:
            continue
        sub = values if where is None else [values[i] for i in where.tolist()]
        good, v = _DATE_TEMPLATE.read(_matrix(sub, width))
        d, real = _days(v["y"], v["mo"], v["d"])
        at = slice(None) if where is None else where
        days[at] = d
        ok[at] = good & real
    return days, ok


def parse_times(values: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """``(seconds after midnight, ok)`` of ``HH:MM`` or ``HH:MM:SS`` times of day; anything else is not ok here."""
    n = len(values)
    if n < _SMALL:
        return _each(values, _time_one)
    secs = np.zeros(n, dtype=np.int64)
    ok = np.zeros(n, dtype=bool)
    for width, where in _by_width(values):
        tpl = _TIME_TEMPLATES.get(width)
        if tpl is None:
            continue
        sub = values if where is None else [values[i] for i in where.tolist()]
        good, v = tpl.read(_matrix(sub, width))
        h, mi = v["h"], v["mi"]
        s = v["s"] if width == 8 else 0
        at = slice(None) if where is None else where
        secs[at] = (h * 3600 + mi * 60 + s).astype(np.int64)
        ok[at] = good & (h <= 23) & (mi <= 59) & (s <= 59)
    return secs, ok


# -- the same, one value at a time (a stream's pushes, a kind's few events in a block) --------------------------------
def _each(values: list[str], one: Any) -> tuple[np.ndarray, np.ndarray]:
    got = [one(v) for v in values]
    ok = np.array([g is not None for g in got], dtype=bool)
    return np.array([0 if g is None else g for g in got], dtype=np.int64), ok


def _instant_one(text: str) -> int | None:
    width = len(text)
    if not 20 <= width <= 32:
        return None
    tz = "Z" if text[-1] in "Zz" else ("+dd:dd" if text[-3] == ":" else "+ddee")
    tpl = _TS_TEMPLATES.get((width, tz))
    v = tpl.read_one(text) if tpl is not None else None
    if v is None:
        return None
    y, mo, d, h, mi, s = v[:6]
    days = _day(y, mo, d)
    if days is None or h > 23 or mi > 59 or s > 59:
        return None
    secs = h * 3600 + mi * 60 + s
    if tz != "Z":
        oh, om, sign = v[-3:]
        if oh > 23 or om > 59:
            return None
        secs += oh * 3600 + om * 60 if sign == 45 else -(oh * 3600 + om * 60)
    return (days * 86_400 + secs) * _US + (v[tpl.frac] if tpl.frac >= 0 else 0)


def _date_one(text: str) -> int | None:
    v = _DATE_TEMPLATE.read_one(text) if len(text) == 10 else None
    return None if v is None else _day(v[0], v[1], v[2])


def _time_one(text: str) -> int | None:
    tpl = _TIME_TEMPLATES.get(len(text))
    v = tpl.read_one(text) if tpl is not None else None
    if v is None:
        return None
    h, mi, s = v[0], v[1], v[2] if len(v) == 3 else 0
    return None if h > 23 or mi > 59 or s > 59 else h * 3600 + mi * 60 + s
