"""A saved state's bytes (hrguard.sdk.state.dumps_state / loads_state) on untrusted input.

A checkpoint's payload comes from a file or a database row: truncated, corrupted or forged bytes must
be a StateError, never an EOFError, zlib.error, MemoryError (a forged shape), or a pickle loaded.
"""

from __future__ import annotations

import io
import pickle
import zipfile

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.lib import format as npy_format

from hrguard.errors import ArgumentTypeError, StateError
from hrguard.sdk.state import MAX_STATE_BYTES, dumps_state, loads_state

STATE = {"clock": 1_775_000_000_000_000, "rules": {"geofence": {"keys": np.arange(5, dtype=np.int64),
                                                                 "lat": np.linspace(0, 1, 5), "note": "é"}},
         "held": [{"id": "e1", "ts": 3}], "inf": float("inf")}


GOOD = dumps_state(STATE)


def test_loads_state_reads_what_dumps_state_wrote():
    back = loads_state(GOOD)
    assert back["clock"] == STATE["clock"] and back["held"] == STATE["held"] and back["inf"] == float("inf")
    assert back["rules"]["geofence"]["keys"].tolist() == list(range(5)) and back["rules"]["geofence"]["note"] == "é"


def test_every_truncation_is_a_state_error():
    for n in range(len(GOOD)):
        with pytest.raises(StateError, match="not a saved hrguard state"):
            loads_state(GOOD[:n])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(GOOD) - 1), st.integers(0, 255)), min_size=1, max_size=6))
def test_corrupted_bytes_load_or_raise_a_state_error_and_nothing_else(flips):
    data = bytearray(GOOD)
    for at, byte in flips:
        data[at] = byte
    try:
        loads_state(bytes(data))
    except StateError:
        pass


def _npz(members: dict[str, bytes], compression=zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def _npy(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=True)
    return buf.getvalue()


JSON_A0 = _npy(np.frombuffer(b'{"a": {"__array__": "a0"}}', dtype=np.uint8))


def _forged_header(shape: tuple[int, ...]) -> bytes:
    buf = io.BytesIO()
    npy_format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False, "shape": shape})
    return buf.getvalue() + b"\0" * 8


@pytest.mark.parametrize("data, why", [
    (b"", "not a zip"),
    (pickle.dumps({"a": np.arange(3)}), "pickle"),
    (_npy(np.arange(3)), "a bare .npy"),
    (_npy(np.array([{"x": 1}], dtype=object)), "a pickled .npy"),
    (_npz({"__json__.npy": JSON_A0, "a0.npy": _npy(np.array([{"x": 1}], dtype=object))}), "an object array"),
    (_npz({"__json__.npy": JSON_A0, "a0.npy": _forged_header((10**12,))}), "a forged 8 TB shape"),
    (_npz({"__json__.npy": JSON_A0, "a0.npy": _npy(np.zeros(10**5))}, zipfile.ZIP_DEFLATED), "a compressed member"),
    (_npz({"__json__.npy": _npy(np.frombuffer(b"[1, 2]", dtype=np.uint8))}), "JSON that is not an object"),
    (_npz({"__json__.npy": _npy(np.frombuffer(b"[" * 100_000 + b"]" * 100_000, dtype=np.uint8))}), "JSON too deep"),
    (_npz({"__json__.npy": _npy(np.frombuffer(b'{"a": {"__array__": "a9"}}', dtype=np.uint8))}), "a missing array"),
    (_npz({"a0.npy": _npy(np.arange(3))}), "no JSON member"),
    (_npz({"__json__.npy": JSON_A0, "a0.txt": b"hello"}), "a member that is not .npy"),
])
def test_forged_payloads_are_state_errors_before_numpy_allocates_anything(data, why):
    with pytest.raises(StateError, match="not a saved hrguard state"):
        loads_state(data)


def test_a_payload_over_the_limit_is_refused_unread():
    assert MAX_STATE_BYTES == 1_000_000_000
    with pytest.raises(StateError, match="over the limit of 100 bytes"):
        loads_state(GOOD, max_bytes=100)
    with pytest.raises(ArgumentTypeError, match="^data: expected the bytes"):
        loads_state("not bytes")  # type: ignore[arg-type]
    assert loads_state(bytearray(GOOD)).keys() == STATE.keys()


@pytest.mark.parametrize("value", [np.int64(3), {1, 2}, object()])
def test_a_state_that_is_not_arrays_and_json_is_a_state_error_when_dumped(value):
    with pytest.raises(StateError, match="cannot be saved"):
        dumps_state({"x": {"y": value}})
