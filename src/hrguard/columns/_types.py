"""Column types: what each model field becomes as a column, the interner of strings, and each kind's layout."""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, Literal, Union

import numpy as np
from pydantic import BaseModel

from ..events import UNINTERNED, Event, date_to_days, time_to_seconds, to_us

NULL_INT = np.iinfo(np.int64).min
NULL_CODE = -1

CODE, FLOAT, INSTANT, DATE, TIME, BOOL, OBJECT = "code", "float", "instant", "date", "time", "bool", "object"
NESTED = "nested"  # a list of nested objects: a child table (see Chunk.nested)
_ENVELOPE = ("id", "kind", "ts", "employee_id", "tenant")


class _Codes(dict):  # type: ignore[type-arg]
    """str -> code; a missing string is added (in order of first look-up) by ``__missing__``."""

    __slots__ = ("strings",)

    def __init__(self) -> None:
        super().__init__()
        self[None] = NULL_CODE  # None is in, so bulk look-ups need no test
        self.strings: list[str] = []

    def __missing__(self, s: str) -> int:
        c = self[s] = len(self.strings)
        self.strings.append(s)
        return c


class Interner:
    """Maps strings to dense ``int`` codes (``-1`` for ``None``) and back; shared by a whole scan."""

    __slots__ = ("_codes", "strings")

    def __init__(self) -> None:
        self._codes = _Codes()
        self.strings: list[str] = self._codes.strings

    def code(self, s: str | None) -> int:
        return self._codes[s]

    def codes(self, values: list[str | None]) -> np.ndarray:
        """The ``int32`` codes of many strings at once (``None`` is ``-1``), new ones added in order."""
        return np.fromiter(map(self._codes.__getitem__, values), dtype=np.int32, count=len(values))

    def find(self, s: str) -> int:
        """The code of ``s`` if it was ever seen, else ``-1`` (never adds)."""
        return self._codes.get(s, NULL_CODE)

    def text(self, code: int) -> str | None:
        return None if code < 0 else self.strings[code]

    def texts(self, codes: np.ndarray) -> list[str | None]:
        s = self.strings
        return [None if c < 0 else s[c] for c in codes.tolist()]

    def __len__(self) -> int:
        return len(self.strings)


def _unwrap(annotation: Any) -> Any:
    """Strip ``Annotated`` and ``X | None`` down to the value type."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
            continue
        if origin in (Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(args) == 1:
                annotation = args[0]
                continue
        return annotation


def column_type(annotation: Any, metadata: Any = ()) -> str:
    """The column type of a field of type ``annotation`` (with pydantic's ``metadata`` of the field)."""
    if any(m is UNINTERNED for m in metadata) or _marked(annotation):
        return OBJECT
    t = _unwrap(annotation)
    if typing.get_origin(t) is Literal:
        return CODE if all(isinstance(a, str) for a in typing.get_args(t)) else OBJECT
    if typing.get_origin(t) is list and nested_model(annotation) is not None:
        return NESTED
    if t is str:
        return CODE
    if t is bool:
        return BOOL
    if t in (int, float, Decimal):
        return FLOAT
    if t is datetime:
        return INSTANT
    if t is date:
        return DATE
    if t is time:
        return TIME
    origin_name = getattr(t, "__name__", "")
    if origin_name == "AwareDatetime" or (isinstance(t, type) and issubclass(t, datetime)):
        return INSTANT
    return OBJECT


def nested_model(annotation: Any) -> type[BaseModel] | None:
    """The model of the entries of ``list[Model]`` (a nested object, not an event), else ``None``."""
    t = _unwrap(annotation)
    args = typing.get_args(t) if typing.get_origin(t) is list else ()
    if len(args) == 1 and isinstance(args[0], type) and issubclass(args[0], BaseModel) \
            and not issubclass(args[0], Event):
        return args[0]
    return None


def _marked(annotation: Any) -> bool:
    """Whether an ``Annotated`` (or ``X | None`` of one) carries :data:`~hrguard.events.UNINTERNED`."""
    for t in (annotation, *typing.get_args(annotation)):
        if typing.get_origin(t) is typing.Annotated and any(m is UNINTERNED for m in typing.get_args(t)[1:]):
            return True
    return False


def _fields_of(model: type[BaseModel], skip: tuple[str, ...] = ()) -> tuple[tuple[str, str], ...]:
    return tuple((name, column_type(info.annotation, info.metadata)) for name, info in model.model_fields.items()
                 if name not in skip)


@dataclass(frozen=True)
class KindLayout:
    """Which columns a kind has and of what column type (derived from its model).

    ``fields`` are every field beside the envelope (``attrs`` included); a list of nested objects is
    a ``NESTED`` field whose entries' fields are in ``nested[name]`` (nested lists inside an entry
    stay Python objects).
    """

    kind: str
    model: type[Event]
    fields: tuple[tuple[str, str], ...]
    nested: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()

    @classmethod
    def of(cls, model: type[Event]) -> KindLayout:
        fields = _fields_of(model, _ENVELOPE)
        nested = tuple((name, tuple((f, t if t != NESTED else OBJECT)
                                    for f, t in _fields_of(nested_model(model.model_fields[name].annotation))))
                       for name, t in fields if t == NESTED)
        return cls(model.KIND, model, fields, nested)

    def entry_fields(self, name: str) -> tuple[tuple[str, str], ...]:
        """The fields of the entries of list field ``name`` (``KeyError`` if it is not one)."""
        return dict(self.nested)[name]


NUMPY_DTYPES = {CODE: np.int32, FLOAT: np.float64, INSTANT: np.int64, DATE: np.int64, TIME: np.int64, BOOL: np.int8,
          NESTED: np.int32}
TYPECODES = {CODE: "i", FLOAT: "d", INSTANT: "q", DATE: "q", TIME: "q", BOOL: "b", NESTED: "i"}  # 1-8 bytes a value


def converter(kind: str, strings: Interner) -> Any:
    """The function turning one field value into its column value (see the module docstring)."""
    if kind == CODE:
        return strings.code
    if kind == FLOAT:
        return lambda v: np.nan if v is None else float(v)
    if kind == INSTANT:
        return lambda v: NULL_INT if v is None else to_us(v)
    if kind == DATE:
        return lambda v: NULL_INT if v is None else date_to_days(v)
    if kind == TIME:
        return lambda v: NULL_INT if v is None else time_to_seconds(v)
    if kind == BOOL:
        return lambda v: -1 if v is None else (1 if v else 0)
    return lambda v: v
