"""A state dict as bytes and back: an ``.npz`` archive of its arrays plus one JSON member; nothing pickled."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping
from typing import Any

import numpy as np

from ...errors import StateError


def dumps_state(state: Mapping[str, Any]) -> bytes:
    """A state dict as bytes: an ``.npz`` archive of its arrays (wherever they are nested) plus one JSON
    member for the rest. Nothing is pickled."""
    arrays: dict[str, np.ndarray] = {}

    def out(v: Any) -> Any:
        if isinstance(v, np.ndarray):
            if v.dtype == object:
                return {"__objects__": [out(x) for x in v.tolist()]}
            name = f"a{len(arrays)}"
            arrays[name] = v
            return {"__array__": name}
        if isinstance(v, dict):
            return {k: out(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [out(x) for x in v]
        if isinstance(v, float) and not np.isfinite(v):
            return {"__float__": repr(v)}
        return v

    rest = {k: out(v) for k, v in state.items()}
    buf = io.BytesIO()
    np.savez(buf, **arrays, __json__=np.frombuffer(json.dumps(rest, allow_nan=False).encode(), dtype=np.uint8))
    return buf.getvalue()


def loads_state(data: bytes) -> dict[str, Any]:
    """The state dict :func:`dumps_state` wrote (arrays are never unpickled)."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            rest = json.loads(bytes(z["__json__"]).decode())

            def back(v: Any) -> Any:
                if isinstance(v, dict):
                    if set(v) == {"__array__"}:
                        return z[v["__array__"]]
                    if set(v) == {"__float__"}:
                        return float(v["__float__"])
                    return {k: back(x) for k, x in v.items()}
                if isinstance(v, list):
                    return [back(x) for x in v]
                return v

            return {k: back(v) for k, v in rest.items()}
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, UnicodeDecodeError) as exc:
        raise StateError(f"not a saved hrguard state: {exc}") from exc
