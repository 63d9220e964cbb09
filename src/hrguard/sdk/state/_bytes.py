"""A state dict as bytes and back: an ``.npz`` archive of its arrays plus one JSON member; nothing pickled.

:func:`loads_state` reads bytes that may come from anywhere (a checkpoint file, a database row) and
trusts none of them: every failure is a :class:`~hrguard.errors.StateError`. Before numpy reads an
array it checks the archive: at most :data:`MAX_STATE_BYTES` bytes, every member stored (never
compressed, so nothing inflates), a ``.npy`` member whose header's shape fits the bytes actually
there (so a forged shape cannot make numpy allocate terabytes), and no object arrays (never pickle).
"""

from __future__ import annotations

import io
import json
import math
import struct
import tokenize
import zipfile
import zlib
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.lib import format as npy_format

from ...errors import ArgumentTypeError, StateError

MAX_STATE_BYTES = 1_000_000_000
"""The largest saved state :func:`loads_state` reads by default: 10⁹ bytes, SQLite's own default limit
on one value (``SQLITE_MAX_LENGTH``), so a checkpoint that fits a database row always loads."""


def dumps_state(state: Mapping[str, Any]) -> bytes:
    """A state dict as bytes: an ``.npz`` archive of its arrays (wherever they are nested) plus one JSON
    member for the rest. Nothing is pickled; a value that is neither an array nor JSON (a set, a numpy
    scalar, a tuple as a key) is a :class:`~hrguard.errors.StateError` naming its type."""
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
    try:
        text = json.dumps(rest, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise StateError(f"a state that cannot be saved (only numpy arrays and JSON values can): {exc}") from exc
    buf = io.BytesIO()
    np.savez(buf, **arrays, __json__=np.frombuffer(text.encode(), dtype=np.uint8))
    return buf.getvalue()


def _check_archive(data: bytes) -> None:
    """Refuse what numpy should never be asked to read: compressed members, members that are not
    ``.npy``, object arrays, and array headers that claim more bytes than the member holds."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        infos = zf.infolist()
        if "__json__.npy" not in {i.filename for i in infos}:
            raise StateError("no __json__ member")
        for info in infos:
            if info.flag_bits & 0x1:
                raise StateError(f"member {info.filename!r} is encrypted (a saved state never is)")
            if info.compress_type != zipfile.ZIP_STORED:
                raise StateError(f"member {info.filename!r} is compressed (a saved state never is)")
            if not info.filename.endswith(".npy"):
                raise StateError(f"member {info.filename!r} is not a .npy array")
            with zf.open(info) as member:
                version = npy_format.read_magic(member)
                if version == (1, 0):
                    shape, _, dtype = npy_format.read_array_header_1_0(member)
                elif version in ((2, 0), (3, 0)):
                    shape, _, dtype = npy_format.read_array_header_2_0(member)
                else:
                    raise StateError(f"member {info.filename!r} has .npy format version {version}")
                if dtype.hasobject:
                    raise StateError(f"member {info.filename!r} holds Python objects (never unpickled)")
                need = math.prod(shape) * dtype.itemsize
                have = info.file_size - member.tell()
                if need > have:
                    raise StateError(f"member {info.filename!r} claims {need:,} bytes of array data; it holds {have:,}")


def loads_state(data: bytes, *, max_bytes: int = MAX_STATE_BYTES) -> dict[str, Any]:
    """The state dict :func:`dumps_state` wrote (arrays are never unpickled).

    Anything else — truncated, corrupt, forged, larger than ``max_bytes`` (default
    :data:`MAX_STATE_BYTES`) — is a :class:`~hrguard.errors.StateError`, never a bare ``EOFError``,
    ``zlib.error`` or ``MemoryError``; ``data`` that is not bytes is an
    :class:`~hrguard.errors.ArgumentTypeError`."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ArgumentTypeError("data", f"expected the bytes dumps_state returns, got {type(data).__name__}")
    data = bytes(data)
    if len(data) > max_bytes:
        raise StateError(f"not loaded: a saved state of {len(data):,} bytes is over the limit of {max_bytes:,} bytes")
    try:
        _check_archive(data)
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            rest = json.loads(bytes(z["__json__"]).decode())
            if not isinstance(rest, dict):
                raise StateError(f"its JSON member is a {type(rest).__name__}, not an object")

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
    except (OSError, EOFError, ValueError, KeyError, TypeError, NotImplementedError, RuntimeError,
            SyntaxError, IndexError, tokenize.TokenError, struct.error, zlib.error, zipfile.BadZipFile, zipfile.LargeZipFile) as exc:
        # StateError (ours, above) is a ValueError too: every failure gets the one prefix; RuntimeError
        # covers RecursionError (JSON nested too deep) and zipfile's refusals
        raise StateError(f"not a saved hrguard state: {exc}") from exc
