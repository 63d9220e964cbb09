"""How an object's state is found (its stores and plain data, by walking its attributes), saved and restored."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta, timezone
import enum
import functools
import types
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel

from ...errors import StateError
from ...events import from_us, get_zone, to_us


class Store:
    """Base of the stores: :meth:`state_dict` gives named arrays / JSON values, :meth:`load_state_dict` takes them."""

    def state_dict(self) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError  # abstract: Latest, Rows and Column each override it

    def load_state_dict(self, state: Mapping[str, Any]) -> None:  # pragma: no cover - abstract
        raise NotImplementedError  # abstract: Latest, Rows and Column each override it


class Stateful:
    """An object whose state is found by walking its attributes, as ``torch.nn.Module`` finds its parameters.

    :meth:`state_dict` walks ``vars(self)`` in name order, skipping the names in ``not_state`` (and
    modules, functions, classes, pydantic models — configuration, not state — and the objects given
    as ``shared``, such as the rule context's interner and clock):

    - a :class:`Store` contributes its own compact entries under ``"<attribute>."``;
    - ``None``, bools, ints, floats, strings, numpy arrays and lists, tuples, sets and dicts of them
      are saved as they are (arrays as arrays, the rest as tagged JSON);
    - any other object is walked the same way, under ``"<attribute>."``;
    - an object met twice is saved once; the second place records a reference to the first.

    :meth:`load_state_dict` restores that into a fresh instance (built with the same parameters and
    context), so every detector — built-in or plugin — can be saved without code of its own. An
    attribute that holds something else (a file, a lock, a lambda) is a :class:`StateError` naming
    it: keep such things out of the detector, or override both methods.
    """

    not_state: ClassVar[frozenset[str]] = frozenset()

    def _state_shared(self) -> tuple[object, ...]:
        """Objects the instance holds but does not own (not saved; a fresh instance gets them anew)."""
        return ()

    def state_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        seen: dict[int, str] = {id(x): "" for x in self._state_shared()}
        _save_object(self, "", out, seen, self._skip())
        return out

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        rest = dict(state)
        _load_object(self, "", rest, {"": self}, self._skip(), {id(x) for x in self._state_shared()})
        if rest:
            raise StateError(f"{type(self).__name__}: unknown state entries {sorted(rest)[:5]}")

    def _skip(self) -> frozenset[str]:
        names: set[str] = set()
        for cls in type(self).__mro__:
            names |= set(cls.__dict__.get("not_state", ()))
        return frozenset(names)


def _is_config(value: Any) -> bool:
    """Values that are configuration or code, never state."""
    if isinstance(value, (types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.MethodType, type,
                          functools.partial, BaseModel, enum.Enum)):
        return True
    return dataclasses.is_dataclass(value) and getattr(type(value), "__dataclass_params__").frozen


def _attrs(obj: Any, skip: frozenset[str]) -> list[tuple[str, Any]]:
    if isinstance(obj, dict):  # a dict holding stores or objects: its string keys are its attributes
        if not all(isinstance(k, str) for k in obj):
            raise StateError("a dict of stores or objects needs string keys")
        items = obj.items()
    elif hasattr(obj, "__dict__"):
        items = vars(obj).items()
    else:
        slots = [n for cls in type(obj).__mro__ for n in getattr(cls, "__slots__", ())]
        items = ((n, getattr(obj, n)) for n in slots if hasattr(obj, n))
    return sorted((n, v) for n, v in items if n not in skip and not _is_config(v))


def _save_object(obj: Any, prefix: str, out: dict[str, Any], seen: dict[int, str], skip: frozenset[str]) -> None:
    for name, value in _attrs(obj, skip):
        path = prefix + name
        if _is_plain(value):
            out[path] = _plain(value, path)
            continue
        ref = seen.get(id(value))
        if ref is not None:
            if ref == "":
                continue  # shared with the context: a fresh instance has it already
            out[path] = {"__ref__": ref}
            continue
        seen[id(value)] = path
        if isinstance(value, Store):
            for k, v in value.state_dict().items():
                out[f"{path}.{k}"] = v
        elif isinstance(value, dict) or (hasattr(value, "__dict__") or hasattr(type(value), "__slots__")) and not isinstance(
                value, (list, tuple, set, frozenset)):
            _save_object(value, path + ".", out, seen, frozenset())
        else:
            raise StateError(f"{path}: cannot save a {type(value).__name__} (keep it out of the detector's "
                             "attributes, or override state_dict/load_state_dict)")


def _load_object(obj: Any, prefix: str, rest: dict[str, Any], objects: dict[str, Any], skip: frozenset[str],
                 shared: set[int]) -> None:
    fresh = dict(_attrs(obj, skip))
    names = set(fresh)
    # plain attributes the saved instance had but a fresh one lacks (set after __init__)
    for key in list(rest):
        if key.startswith(prefix):
            head = key[len(prefix):].split(".", 1)[0]
            if "." not in key[len(prefix):] or isinstance(rest[key], dict) and "__ref__" in rest[key]:
                names.add(head)
    for name in sorted(names):
        path = prefix + name
        value = fresh.get(name)
        if path in rest:
            saved = rest.pop(path)
            if isinstance(saved, dict) and "__ref__" in saved:
                target = objects.get(saved["__ref__"])
                if target is None:
                    raise StateError(f"{path}: refers to {saved['__ref__']!r}, which the state does not hold")
                _set(obj, name, target)
            else:
                new = _unplain(saved)
                if not _same_plain(new, value):
                    _set(obj, name, new)
            continue
        if value is None or id(value) in shared:
            if any(k.startswith(path + ".") for k in rest):
                raise StateError(f"{path}: the state holds an object here, but a fresh instance has "
                                 f"{type(value).__name__}: override state_dict/load_state_dict to rebuild it")
            continue
        objects[path] = value
        if isinstance(value, Store):
            mine = {k[len(path) + 1:]: rest.pop(k) for k in [k for k in rest if k.startswith(path + ".")]}
            value.load_state_dict(mine)
        elif not _is_plain(value):
            _load_object(value, path + ".", rest, objects, frozenset(), shared)


def _set(obj: Any, name: str, value: Any) -> None:
    if isinstance(obj, dict):
        obj[name] = value
    else:
        setattr(obj, name, value)


def _same_plain(a: Any, b: Any) -> bool:
    try:
        if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
            return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.dtype == b.dtype
                    and a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")))
        return type(a) is type(b) and bool(a == b)
    except Exception:  # noqa: BLE001 - values that do not compare are not the same
        return False



_SCALARS = (type(None), bool, int, float, str, np.generic)


def _is_plain(value: Any) -> bool:
    if isinstance(value, (_SCALARS, np.ndarray, date)):  # a datetime is a date
        return True
    if isinstance(value, (list, tuple, set, frozenset)):
        return all(_is_plain(v) for v in value)
    if isinstance(value, dict):
        return all(_is_plain(k) and _is_plain(v) for k, v in value.items())
    return False


def _plain(value: Any, where: str) -> Any:
    """A declared value as arrays and JSON-able values (sets, tuples and non-str-keyed dicts tagged)."""
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            out = np.empty(value.shape, dtype=object)
            out[...] = value
            return out
        return value.copy()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return {"__float__": repr(value)}
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise StateError(f"{where}: a naive datetime cannot be saved (keep aware ones, or µs since the epoch)")
        return {"__datetime__": to_us(value), "zone": getattr(value.tzinfo, "key", None),
                "offset": int(value.utcoffset().total_seconds())}  # type: ignore[union-attr]
    if isinstance(value, date):
        return {"__date__": value.isoformat()}
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, (set, frozenset)):
        return {"__set__": sorted((_plain(v, where) for v in value), key=repr)}
    if isinstance(value, tuple):
        return {"__tuple__": [_plain(v, where) for v in value]}
    if isinstance(value, list):
        return [_plain(v, where) for v in value]
    if isinstance(value, dict):
        return {"__dict__": [[_plain(k, where), _plain(v, where)] for k, v in value.items()]}
    raise StateError(f"{where}: a carried value must be plain data or a numpy array, not {type(value).__name__}")


def _unplain(value: Any) -> Any:
    if isinstance(value, dict):
        if "__set__" in value:
            return {_unplain(v) for v in value["__set__"]}
        if "__tuple__" in value:
            return tuple(_unplain(v) for v in value["__tuple__"])
        if "__dict__" in value:
            return {_unplain(k): _unplain(v) for k, v in value["__dict__"]}
        if "__float__" in value:
            return float(value["__float__"])
        if "__datetime__" in value:
            zone = get_zone(value["zone"]) if value.get("zone") else timezone(timedelta(seconds=int(value["offset"])))
            return from_us(int(value["__datetime__"]), zone)
        if "__date__" in value:
            return date.fromisoformat(value["__date__"])
        if "__objects__" in value:
            out = np.empty(len(value["__objects__"]), dtype=object)
            out[:] = [_unplain(v) for v in value["__objects__"]]
            return out
    if isinstance(value, list):
        return [_unplain(v) for v in value]
    return value

