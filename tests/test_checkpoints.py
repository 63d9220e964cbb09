"""Checkpoints (hrguard.checkpoints): save/load of random state dicts, keep-last-N, every refusal (corrupt,
truncated, another format version, another fingerprint), atomicity under SIGKILL, and the ruleset's fingerprint.
The bytes underneath (``loads_state`` on untrusted input) are tested in test_state_bytes.py."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import pickle
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import hrguard
from hrguard.checkpoints import FORMAT_VERSION, FileCheckpoints, SqliteCheckpoints, fingerprint
from hrguard.engine import Engine
from hrguard.errors import ArgumentTypeError, HrguardError, InvalidArgumentError, MissingFileError, StateError
from hrguard.rules import fingerprint_content

ROOT = Path(__file__).resolve().parent.parent
FP = "f" * 64
STATE = {"clock": 1_775_000_000_000_000, "rules": {"geofence": {"keys": np.arange(5, dtype=np.int64),
                                                                 "lat": np.linspace(0, 1, 5), "note": "é"}},
         "held": [{"id": "e1", "ts": 3}], "inf": float("inf")}


def _same(a, b) -> None:
    """Two state dicts are equal (arrays by dtype, shape and bytes; NaN equal to NaN)."""
    if isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape
        assert a.tobytes() == b.tobytes()  # bit for bit (NaN and NaT included)
    elif isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b)
        for k in a:
            _same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, list) and len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
    elif isinstance(a, float) and np.isnan(a):
        assert isinstance(b, float) and np.isnan(b)
    else:
        assert a == b and type(a) is type(b)


@pytest.fixture(params=["sqlite", "files"])
def make(request, tmp_path):
    """``make(keep=2)`` -> a fresh store of each kind, in ``tmp_path``."""
    made = []

    def build(**kw):
        store = SqliteCheckpoints(tmp_path / "ck.db", **kw) if request.param == "sqlite" else FileCheckpoints(tmp_path, **kw)
        made.append(store)
        return store

    build.kind = request.param
    yield build
    for store in made:
        store.close()


# -- random state dicts round-trip through both stores ------------------------------------------------
_dtypes = st.sampled_from([np.int64, np.int32, np.uint8, np.float64, np.float32, np.bool_, "<U3", "<M8[us]"])
_arrays = _dtypes.flatmap(lambda dt: hnp.arrays(dt, hnp.array_shapes(min_dims=0, max_dims=2, max_side=5)))
_keys = st.text(st.characters(blacklist_categories=["Cs"]), max_size=8).filter(
    lambda k: k not in ("__array__", "__float__", "__objects__"))
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1) | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_keys, inner, max_size=4), max_leaves=12)
_values = st.recursive(_arrays | _json,
                       lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_keys, inner, max_size=3),
                       max_leaves=8)
_states = st.dictionaries(_keys, _values, max_size=5)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(states=st.lists(_states, min_size=1, max_size=3))
def test_random_state_dicts_come_back_as_they_were_saved(make, states):
    store = make(keep=3)
    key = f"k{os.getpid()}-{time.monotonic_ns()}"  # one key per example: examples share the store's folder
    for i, state in enumerate(states, 1):
        assert store.save(key, state, fingerprint=FP) == i
        seq, back = store.load(key, fingerprint=FP)
        assert seq == i
        _same(state, back)
    store.delete(key)


# -- the API -------------------------------------------------------------------------------------------
def test_save_and_load_the_newest_keeping_the_last_two(make):
    store = make()
    assert store.load("stream", fingerprint=FP) is None and store.keys() == []
    for i in range(1, 6):
        assert store.save("stream", {**STATE, "n": i}, fingerprint=FP) == i
    seq, state = store.load("stream", fingerprint=FP)
    assert seq == 5 and state["n"] == 5
    _same(STATE["rules"], state["rules"])
    assert store.seqs("stream") == [4, 5]
    assert store.load("stream", fingerprint=FP, seq=4)[1]["n"] == 4
    assert store.load("stream", fingerprint=FP, seq=3) is None  # pruned
    store.save("tenant-b.main", STATE, fingerprint=FP)
    assert store.keys() == ["stream", "tenant-b.main"]
    assert store.delete("stream") == 2 and store.delete("stream") == 0
    assert store.keys() == ["tenant-b.main"] and store.load("stream", fingerprint=FP) is None
    assert store.save("stream", STATE, fingerprint=FP) == 1  # a deleted key starts again


@pytest.mark.parametrize("keep", [1, 3])
def test_keep_last_n(make, keep):
    store = make(keep=keep)
    for _ in range(6):
        last = store.save("k", STATE, fingerprint=FP)
    assert store.seqs("k") == list(range(last - keep + 1, last + 1))


def test_the_store_persists_across_objects(make):
    with make() as store:
        store.save("k", STATE, fingerprint=FP)
    assert store.closed
    with pytest.raises(HrguardError, match="closed"):
        store.load("k", fingerprint=FP)
    store.close()  # idempotent
    with make() as again:
        assert again.load("k", fingerprint=FP)[0] == 1 and again.save("k", STATE, fingerprint=FP) == 2


def test_threads_save_and_load_through_one_store(make):
    store = make(keep=2)
    errors = []

    def work(t: int) -> None:
        try:
            for i in range(10):
                seq = store.save(f"t{t}", {"i": i, "a": np.full(100, t)}, fingerprint=FP)
                got = store.load(f"t{t}", fingerprint=FP)
                assert got[0] == seq == i + 1 and got[1]["i"] == i and (got[1]["a"] == t).all()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors and store.keys() == [f"t{t}" for t in range(6)]


@pytest.mark.parametrize("call, error, match", [
    (lambda s: s.save("../x", STATE, fingerprint=FP), InvalidArgumentError, "^key: '../x' is not a checkpoint key"),
    (lambda s: s.save("a/b", STATE, fingerprint=FP), InvalidArgumentError, "^key: "),
    (lambda s: s.save("", STATE, fingerprint=FP), InvalidArgumentError, "^key: "),
    (lambda s: s.save(".hidden", STATE, fingerprint=FP), InvalidArgumentError, "^key: "),
    (lambda s: s.save("x" * 129, STATE, fingerprint=FP), InvalidArgumentError, "^key: "),
    (lambda s: s.save(7, STATE, fingerprint=FP), ArgumentTypeError, "^key: expected a str, got int"),
    (lambda s: s.save("k", [1, 2], fingerprint=FP), ArgumentTypeError, "^state: expected a state dict"),
    (lambda s: s.save("k", STATE, fingerprint=""), InvalidArgumentError, "^fingerprint: "),
    (lambda s: s.save("k", STATE, fingerprint=None), ArgumentTypeError, "^fingerprint: "),
    (lambda s: s.save("k", {"lock": threading.Lock()}, fingerprint=FP), StateError, "checkpoint 'k' not saved"),
    (lambda s: s.load("k", fingerprint=FP, seq=0), InvalidArgumentError, "^seq: "),
    (lambda s: s.load("k", fingerprint=FP, seq="1"), ArgumentTypeError, "^seq: "),
    (lambda s: s.load("k"), TypeError, "fingerprint"),  # keyword-only and required
])
def test_bad_arguments_name_the_argument(make, call, error, match):
    store = make()
    with pytest.raises(error, match=match):
        call(store)
    assert store.keys() == []


def test_bad_constructor_arguments(tmp_path):
    for cls, arg in ((SqliteCheckpoints, tmp_path / "no" / "ck.db"), (FileCheckpoints, tmp_path / "no")):
        with pytest.raises(MissingFileError, match=str(tmp_path / "no")):
            cls(arg)
        with pytest.raises(ArgumentTypeError, match="expected a str or os.PathLike"):
            cls(b"x")
        with pytest.raises(InvalidArgumentError, match="^keep: expected at least 1"):
            cls(tmp_path / "x.db" if cls is SqliteCheckpoints else tmp_path, keep=0)
        with pytest.raises(ArgumentTypeError, match="^keep: "):
            cls(tmp_path / "x.db" if cls is SqliteCheckpoints else tmp_path, keep=True)
    with pytest.raises(InvalidArgumentError, match="is a directory"):
        SqliteCheckpoints(tmp_path)
    (tmp_path / "notes.txt").write_text("not a database, " * 100)
    with pytest.raises(InvalidArgumentError, match="^path: .*cannot hold checkpoints"):
        SqliteCheckpoints(tmp_path / "notes.txt")
    with pytest.raises(InvalidArgumentError, match="is not a directory"):
        FileCheckpoints(tmp_path / "notes.txt")


# -- refusals: corrupt, truncated, another format, another fingerprint ------------------------------------
def _tamper(store, key: str, seq: int, *, payload=None, fmt=None, cut=None):
    """Change checkpoint ``seq`` of ``key`` underneath the store, as a disk or another program might."""
    if isinstance(store, SqliteCheckpoints):
        with sqlite3.connect(store.path) as db:
            if payload is not None:
                (old,) = db.execute("SELECT payload FROM hrguard_checkpoints WHERE key=? AND seq=?", (key, seq)).fetchone()
                db.execute("UPDATE hrguard_checkpoints SET payload=? WHERE key=? AND seq=?", (payload(old), key, seq))
            if fmt is not None:
                db.execute("UPDATE hrguard_checkpoints SET format=? WHERE key=? AND seq=?", (fmt, key, seq))
        return
    path = store.directory / f"{key}.{seq:012d}.ckpt"
    data = path.read_bytes()
    head, _, rest = data.partition(b"\n")
    header, _, body = rest.partition(b"\n")
    if payload is not None:
        body = payload(body)
    if fmt is not None:
        head = b"hrguard-checkpoint " + str(fmt).encode()
    data = head + b"\n" + header + b"\n" + body
    path.write_bytes(data[:cut] if cut is not None else data)


def _flip(b: bytes) -> bytes:
    mid = len(b) // 2
    return b[:mid] + bytes([b[mid] ^ 0x01]) + b[mid + 1:]


def test_a_corrupt_checkpoint_is_refused_naming_key_and_seq(make):
    store = make()
    store.save("k", STATE, fingerprint=FP)
    store.save("k", STATE, fingerprint=FP)
    _tamper(store, "k", 2, payload=_flip)
    with pytest.raises(StateError, match=r"corrupt checkpoint: key 'k' #2 .*does not match the sha256"):
        store.load("k", fingerprint=FP)
    assert store.load("k", fingerprint=FP, seq=1)[0] == 1  # the kept earlier one is still there


def test_a_payload_forged_with_its_sha256_still_cannot_load(make):
    store = make()
    store.save("k", STATE, fingerprint=FP)
    forged = pickle.dumps(STATE)
    _tamper(store, "k", 1, payload=lambda _: forged)
    if isinstance(store, SqliteCheckpoints):
        with sqlite3.connect(store.path) as db:
            db.execute("UPDATE hrguard_checkpoints SET sha256=?", (hashlib.sha256(forged).hexdigest(),))
        with pytest.raises(StateError, match="corrupt checkpoint: key 'k' #1 .*not a saved hrguard state"):
            store.load("k", fingerprint=FP)
    else:
        with pytest.raises(StateError, match="corrupt checkpoint"):
            store.load("k", fingerprint=FP)


@pytest.mark.parametrize("cut", [0, 10, 25, 200, -1])
def test_a_truncated_checkpoint_file_is_refused(tmp_path, cut):
    store = FileCheckpoints(tmp_path)
    store.save("k", STATE, fingerprint=FP)
    size = (tmp_path / "k.000000000001.ckpt").stat().st_size
    _tamper(store, "k", 1, cut=cut if cut >= 0 else size - 1)
    with pytest.raises(StateError, match="corrupt checkpoint: .*'k' #1"):
        store.load("k", fingerprint=FP)


def test_a_checkpoint_of_another_format_version_is_refused_naming_both(make):
    store = make()
    store.save("k", STATE, fingerprint=FP)
    _tamper(store, "k", 1, fmt=FORMAT_VERSION + 1)
    with pytest.raises(StateError, match=rf"'k' #1 .*has format version {FORMAT_VERSION + 1}; this hrguard reads "
                                         rf"version {FORMAT_VERSION}"):
        store.load("k", fingerprint=FP)


def test_a_checkpoint_of_another_fingerprint_is_refused_naming_both(make):
    store = make()
    store.save("k", STATE, fingerprint="a" * 64)
    with pytest.raises(StateError, match=rf"saved under fingerprint '{'a' * 64}', not '{'b' * 64}': the ruleset "
                                         "or plugins changed since the checkpoint"):
        store.load("k", fingerprint="b" * 64)


def test_file_checkpoints_refuse_a_file_of_another_key_and_keys_equal_but_for_case(tmp_path):
    store = FileCheckpoints(tmp_path)
    store.save("acme", STATE, fingerprint=FP)
    os.replace(tmp_path / "acme.000000000001.ckpt", tmp_path / "bolt.000000000001.ckpt")
    with pytest.raises(StateError, match="says it is key 'acme' #1, not 'bolt' #1"):
        store.load("bolt", fingerprint=FP)
    with pytest.raises(InvalidArgumentError, match="^key: 'Bolt' differs only by case from 'bolt'"):
        store.save("Bolt", STATE, fingerprint=FP)


def test_file_checkpoints_clean_up_what_a_killed_save_left(tmp_path):
    store = FileCheckpoints(tmp_path)
    left = tmp_path / f".k.000000000001.{'0' * 32}.tmp"
    other = tmp_path / f".k.x.000000000001.{'0' * 32}.tmp"  # key "k.x": not ours
    left.write_bytes(b"half a checkpoint")
    other.write_bytes(b"half a checkpoint")
    assert store.load("k", fingerprint=FP) is None and store.keys() == []
    assert store.save("k", STATE, fingerprint=FP) == 1
    assert not left.exists() and other.exists()


# -- atomicity: a process killed mid-save leaves the previous checkpoint or the new one ---------------
_WRITER = textwrap.dedent("""
    import sys, numpy as np
    from hrguard.checkpoints import FileCheckpoints, SqliteCheckpoints
    kind, where = sys.argv[1], sys.argv[2]
    store = SqliteCheckpoints(where) if kind == "sqlite" else FileCheckpoints(where)
    print("ready", flush=True)
    while True:
        n = int(np.random.randint(1, 1 << 30))
        seq = store.save("k", {"n": n, "a": np.full(300_000, n, dtype=np.int64), "b": {"n": [n] * 100}},
                         fingerprint="fp")
        print(seq, n, flush=True)
""")


def _crash_loop(kind: str, where: Path, kills: int, seed: int) -> tuple[list[int], int]:
    """Kill a process saving checkpoints in a loop ``kills`` times, loading after each kill: the loaded seqs,
    and how many kills (of FileCheckpoints) provably landed mid-save (a temporary file was left)."""
    rng = np.random.default_rng(seed)
    saved_seqs, midway = [], 0
    for _ in range(kills):
        proc = subprocess.Popen([sys.executable, "-c", _WRITER, kind, str(where)], stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(float(rng.uniform(0.0, 0.25)))
        proc.send_signal(signal.SIGKILL)
        out = proc.communicate()[0].split()
        done = [(int(out[i]), int(out[i + 1])) for i in range(0, len(out) - 1, 2)]
        midway += kind == "files" and any(where.glob(".k.*.tmp"))
        store = SqliteCheckpoints(where) if kind == "sqlite" else FileCheckpoints(where)
        with store:
            got = store.load("k", fingerprint="fp")  # never an error
            if done:
                assert got is not None and got[0] >= done[-1][0]  # a save that returned is never lost
            if got is not None:
                seq, state = got
                n = state["n"]
                assert (state["a"] == n).all() and state["b"]["n"] == [n] * 100  # whole: never half of two saves
                assert len(store.seqs("k")) <= (2 if kind == "sqlite" else 3)  # files: pruned after the rename
                saved_seqs.append(seq)
    return saved_seqs, midway


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL")
@pytest.mark.parametrize("kind", ["sqlite", "files"])
def test_a_save_killed_midway_leaves_a_whole_checkpoint(tmp_path, kind):
    where = tmp_path / "ck.db" if kind == "sqlite" else tmp_path
    seqs, _ = _crash_loop(kind, where, kills=2, seed=1)
    assert seqs == sorted(seqs)


@pytest.mark.slow
@pytest.mark.skipif(os.name != "posix", reason="SIGKILL")
@pytest.mark.parametrize("kind", ["sqlite", "files"])
def test_many_saves_killed_midway_leave_a_whole_checkpoint(tmp_path, kind):
    where = tmp_path / "ck.db" if kind == "sqlite" else tmp_path
    seqs, midway = _crash_loop(kind, where, kills=20, seed=2)
    assert seqs == sorted(seqs) and seqs[-1] > seqs[0]  # saves went on across the kills (how many depends on load)
    for seed in range(3, 8):  # where a kill lands depends on the machine's load: kill more until one is mid-save
        if kind == "sqlite" or midway:
            break
        more, landed = _crash_loop(kind, where, kills=10, seed=seed)
        assert more == sorted(more) and more[0] >= seqs[-1]
        midway += landed
    assert kind == "sqlite" or midway >= 1  # some kills did land in the middle of writing a checkpoint


# -- the fingerprint ------------------------------------------------------------------------------------
def test_the_fingerprint_is_the_same_in_another_process():
    code = "import hrguard; from hrguard.rules import fingerprint; print(fingerprint(hrguard.load_ruleset('sales')))"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": "123"}).stdout.strip()
    assert other == fingerprint(hrguard.load_ruleset("sales"))
    assert len(other) == 64 and int(other, 16) >= 0


def test_the_fingerprint_follows_everything_a_state_depends_on(ruleset):
    base = [{"use": "geofence.mismatch", "params": {"radius_m": 500}},
            {"use": "followup.stall", "name": "stall", "exceptions": [{"employees": ["E1"], "reason": "cover"}]}]
    fp = fingerprint(ruleset(base))
    assert fingerprint(ruleset(base)) == fp  # loaded again: equal
    assert fingerprint(ruleset(base).with_params("geofence.mismatch", radius_m=501)) != fp
    assert fingerprint(ruleset(base).with_params("geofence.mismatch", radius_m=500)) == fp
    changed = [
        [{**base[0], "severity": "high"}, base[1]],
        [{**base[0], "scope": {"roles": ["sales"]}}, base[1]],
        [base[0], {**base[1], "exceptions": []}],
        [base[0], {**base[1], "name": "stall2"}],
        [base[1], base[0]],
        base[:1],
    ]
    assert len({fp, *(fingerprint(ruleset(r)) for r in changed)}) == len(changed) + 1
    assert fingerprint(ruleset(base, timezone="Asia/Shanghai")) != fp
    assert fingerprint(ruleset(base, language="zh")) != fp


def test_the_fingerprint_names_the_plugin_and_version_behind_each_detector():
    engine = Engine(entrypoints=True)
    if "expense.duplicate_claim" not in engine.detectors:
        pytest.skip("hrguard-expense is not installed")
    rs = engine.load_ruleset({"ruleset": "x", "rules": [{"use": "expense.duplicate_claim"},
                                                        {"use": "geofence.mismatch"}]})
    content = fingerprint_content(rs)
    plugin, builtin = (r["registered"] for r in content["rules"])
    assert plugin["distribution"] == "hrguard-expense" and plugin["version"]
    assert builtin["distribution"] == "hrguard" and builtin["version"] == content["hrguard"]
    assert builtin["class"] == "hrguard.detectors.geofence:GeofenceMismatch"
    fp = fingerprint(rs)
    reg = engine.registry.detectors
    reg["expense.duplicate_claim"] = dataclasses.replace(reg["expense.duplicate_claim"], version="99.0")
    assert fingerprint(rs) != fp  # the plugin was upgraded: its state is not trusted
    with pytest.raises(ArgumentTypeError, match="^ruleset: expected a loaded hrguard.Ruleset"):
        fingerprint("sales")  # type: ignore[arg-type]


def test_a_checkpoint_saved_under_one_ruleset_is_refused_under_another(tmp_path, ruleset):
    rs = ruleset({"use": "geofence.mismatch", "params": {"radius_m": 500}})
    with SqliteCheckpoints(tmp_path / "ck.db") as store:
        store.save("stream", STATE, fingerprint=fingerprint(rs))
        assert store.load("stream", fingerprint=fingerprint(rs))[0] == 1
        with pytest.raises(StateError, match="the ruleset or plugins changed since the checkpoint"):
            store.load("stream", fingerprint=fingerprint(rs.with_params("geofence.mismatch", radius_m=900)))
