"""The intake: the one way records become events, for scans, bounded scans, streams, features and trace.

Every record in becomes exactly one of: a valid event, held as a row of columns until the caller
releases it to the detectors; a duplicate delivery (same id, same content: counted and ignored); or
a :class:`~hrguard.ingest.Rejection` naming its line (or position), id, field and problem.

A block of records goes through the fast path (:mod:`hrguard.ingest`: msgspec Structs generated
from the models, checks and columns a block at a time) where it can and through the models
(:func:`hrguard.ingest.validate`) for everything else (and for blocks of fewer than
:data:`SMALL_BLOCK` records, a stream's pushes), always deciding in order of arrival:
rejections come in input order, the first record received with an id is the one kept, and a late
record is judged against the clock as it was when the record arrived.

**The duplicate rule** (one, for every caller): ids are unique within a tenant, so the rule keys
on ``(tenant, id)`` (null and ``""`` are the same, default tenant): see :func:`tenant_key`, which
keeps the plain id as the key of the default tenant and builds a composite key, a string, for the
others. A key among the held events compares the two records' content in column form (field order,
the offset a timestamp was written with and the spelling of money do not matter): the same content
is a duplicate, other content a rejection. A key of an event already released is a rejection (its
content cannot be the same: an identical record would be late). Released keys are remembered as
64-bit hashes (:class:`JudgedIds`), 8 bytes an event.

**Lateness** (streams and bounded scans: ``lateness`` given): a record is late when its ``ts`` is
at or before ``max(watermark, clock - lateness - 1)``, where ``clock`` is the latest ``ts`` of the
events accepted before it and ``watermark`` the latest instant released. With ``tenant_clocks``
(the bounded scan) both are its tenant's: ``clock`` the latest ``ts`` accepted of its tenant, and
``watermark`` the later of the instant released for every tenant (:meth:`Intake.release`) and the
one released for its tenant (:meth:`Intake.release_tenants`). A late record is rejected
(``stats.late``) with the caller's message.
"""

from __future__ import annotations

import dataclasses
import gc
import hashlib
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import msgspec
import numpy as np

from ..columns import NULL_CODE, NULL_INT, ColumnBuilder, Frame, Interner, order_by_ts_id
from ..errors import InvalidEventError, LateEventError
from ..events import Event, format_duration, from_us, to_us
from ._fastpath import Deferred, KindColumns, Schema, kind_columns
from ._reader import Block, IngestStats, Rejection, parse_line, read_blocks, validate

_REPEATED = ("repeated id with different content: ids must be unique (the first record received with this id "
             "is kept; this one is rejected). A correction of an earlier record is a new record with its own id "
             "(see docs/events.md, Corrections)")
_DECODE_ERRORS = (msgspec.ValidationError, msgspec.DecodeError, RecursionError)
_CONVERT_ERRORS = (msgspec.ValidationError, TypeError, ValueError, OverflowError, RecursionError)

SMALL_BLOCK = 16
"""Blocks of fewer records (a stream's pushes) go through the models: the fast path's fixed cost per
block (numpy calls) would be more than it saves."""

LateMessage = Callable[[int], str]
"""``message(ts)``: why a record with this ``ts`` (microseconds) is late, for its rejection (the clock
it was judged against is :attr:`Intake.late_clock`)."""

_ESC = "\x00"

_WATCHERS: ContextVar[tuple[Callable[[Block], None], ...]] = ContextVar("hrguard_block_watchers", default=())


@contextmanager
def watch_blocks(callback: Callable[[Block], None]) -> Iterator[None]:
    """While the ``with`` lasts (in this thread or task), ``callback(block)`` is called with every block an
    :class:`Intake` has taken, whatever entry point reads (``scan``, a bounded scan, features): how the
    command line draws its progress bar without a parameter on every function that reads events."""
    token = _WATCHERS.set((*_WATCHERS.get(), callback))
    try:
        yield
    finally:
        _WATCHERS.reset(token)


def tenant_key(rid: str, tenant: str | None) -> str:
    """The key of the duplicate rule for event id ``rid`` of ``tenant`` (null and ``""``: the default).

    Ids are unique within a tenant. The default tenant's key is the id itself (so a single-tenant
    input pays nothing), another tenant's is ``"\\x00<len(tenant)>:<tenant><id>"``; a default-tenant
    id that starts with ``"\\x00"`` gets one more in front. Keys of different ``(tenant, id)`` pairs
    are different strings, whatever the ids and tenants hold.
    """
    if tenant:
        return f"{_ESC}{len(tenant)}:{tenant}{rid}"
    return _ESC + rid if rid[:1] == _ESC else rid


def tenant_keys(ids: list[str], tenants: np.ndarray | array, strings: Interner) -> list[str]:
    """:func:`tenant_key` of every ``ids[k]`` of the tenant coded ``tenants[k]`` (``ids`` itself, not a
    copy, when they are all of the default tenant and none starts with ``"\\x00"``)."""
    if _default_only(tenants):
        if _ESC not in "".join(ids):  # the ids are the keys
            return ids
        return [tenant_key(i, None) for i in ids]
    text = strings.strings
    return [tenant_key(i, text[t] if t >= 0 else None) for i, t in zip(ids, tenants.tolist())]


def _default_only(tenants: np.ndarray | array) -> bool:
    """Whether every code of ``tenants`` is the default tenant's (a few values: without numpy's cost per call)."""
    n = len(tenants)
    if n == 0:
        return True
    if n <= 64:
        return max(tenants) < 0
    return int(tenants.max()) < 0  # type: ignore[union-attr]


def builder_keys(builder: ColumnBuilder) -> list[str]:
    """The keys of every row of a :class:`ColumnBuilder` (a window of held events), in row order."""
    return tenant_keys(builder.ids, builder.tenant if len(builder) <= 64 else builder.tenant_array(),
                       builder.strings)


def stable_hash(key: Any) -> int:
    """A 64-bit hash of an id that is the same in every process (Python's ``hash`` of a string is not:
    it is salted per process), so remembered ids survive a checkpoint. A key that is not a string
    (a tenant-qualified id) is hashed by its ``repr``."""
    text = key if type(key) is str else repr(key)
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True)


class JudgedIds:
    """The ids of events already released, as 64-bit hashes (8 bytes an id, :func:`stable_hash`).

    Held in a few sorted runs (merged like a binary counter, so adding is amortised linear), plus a
    small set of the latest ones (a stream releases one event at a time); queried a block of ids at a
    time with numpy, a few ids by binary search. A new id whose hash equals a released one's counts as
    released: for distinct ids that happens by chance with probability about n**2 / 2**65 (3e-6 for
    ten million events).
    """

    BUFFER = 4096

    def __init__(self) -> None:
        self.runs: list[array] = []  # sorted int64 hashes (numpy reads them without a copy)
        self.recent: set[int] = set()

    def __len__(self) -> int:
        return sum(len(r) for r in self.runs) + len(self.recent)

    def __bool__(self) -> bool:
        return bool(self.runs or self.recent)

    @property
    def nbytes(self) -> int:
        return sum(8 * len(r) for r in self.runs) + 8 * len(self.recent)

    def add(self, ids: list[str]) -> None:
        if len(ids) < 64:
            self.recent.update(map(stable_hash, ids))
            if len(self.recent) < self.BUFFER:
                return
            h = np.fromiter(self.recent, dtype=np.int64, count=len(self.recent))
            self.recent = set()
        else:
            h = np.fromiter(map(stable_hash, ids), dtype=np.int64, count=len(ids))
        h.sort()
        runs = self.runs
        runs.append(array("q", h.tobytes()))
        while len(runs) > 1 and len(runs[-2]) <= 2 * len(runs[-1]):
            b, a = runs.pop(), runs.pop()
            merged = np.concatenate([np.frombuffer(a, dtype=np.int64), np.frombuffer(b, dtype=np.int64)])
            merged.sort(kind="stable")  # timsort: two sorted runs merge in linear time
            runs.append(array("q", merged.tobytes()))

    def hits(self, ids: list[Any]) -> set[Any]:
        """The ids among ``ids`` whose hash was released (almost always none)."""
        if not ids or not self:
            return set()
        if len(ids) < 8:
            return {i for i in ids if self._has(stable_hash(i))}
        out: set[Any] = set()
        if self.recent:
            recent = self.recent
            hashes = list(map(stable_hash, ids))
            out.update(i for i, h in zip(ids, hashes) if h in recent)
        if self.runs:
            h = np.fromiter(map(stable_hash, ids), dtype=np.int64, count=len(ids))
            found = np.zeros(h.size, dtype=bool)
            for run in self.runs:
                r = np.frombuffer(run, dtype=np.int64)
                k = np.minimum(np.searchsorted(r, h), r.size - 1)
                found |= r[k] == h
            if found.any():
                out.update(ids[k] for k in np.flatnonzero(found).tolist())
        return out

    def state_dict(self) -> dict[str, Any]:
        """The remembered hashes as one sorted ``int64`` array."""
        parts = [np.frombuffer(r, dtype=np.int64) for r in self.runs]
        parts.append(np.fromiter(self.recent, dtype=np.int64, count=len(self.recent)))
        return {"hashes": np.sort(np.concatenate(parts))}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        h = np.asarray(state["hashes"], dtype=np.int64)
        self.runs = [array("q", np.sort(h).tobytes())] if h.size else []
        self.recent = set()

    def _has(self, h: int) -> bool:
        if h in self.recent:
            return True
        for run in self.runs:
            k = bisect_left(run, h)
            if k < len(run) and run[k] == h:
                return True
        return False


class RememberedIds:
    """The keys of released events, forgotten ``horizon`` (µs) after they were released.

    Kept as generations (:class:`JudgedIds` each), a new one begun every eighth of the horizon of
    release time: a generation is dropped whole once its latest release bound is more than
    ``horizon`` behind the watermark, so every key of an event older than that is forgotten within
    an eighth of the horizon, and the memory is that of about ``horizon * 9/8`` of events. With
    ``horizon=None`` nothing is forgotten (one generation). A record repeating a forgotten key is
    taken as a new event: the spec's ids are unique, and a stream cannot remember them forever.
    """

    GENERATIONS = 8

    def __init__(self, horizon: int | None = None) -> None:
        self.horizon = horizon
        self.gens: list[list[Any]] = []  # [begun at, latest release bound, JudgedIds], oldest first

    def __len__(self) -> int:
        return sum(len(g[2]) for g in self.gens)

    def __bool__(self) -> bool:
        return any(g[2] for g in self.gens)

    @property
    def nbytes(self) -> int:
        return sum(g[2].nbytes for g in self.gens)

    def add(self, keys: list[str], upto: int) -> None:
        """Remember ``keys``, of events released at or before ``upto``."""
        if not keys:
            return
        gens = self.gens
        if not gens or (self.horizon is not None and upto - gens[-1][0] >= max(1, self.horizon // self.GENERATIONS)):
            gens.append([upto, upto, JudgedIds()])
        gen = gens[-1]
        gen[1] = max(gen[1], upto)
        gen[2].add(keys)

    def hits(self, keys: list[Any]) -> set[Any]:
        gens = self.gens
        if len(gens) == 1:
            return gens[0][2].hits(keys)
        out: set[Any] = set()
        for g in gens:
            out |= g[2].hits(keys)
        return out

    def expire(self, watermark: int) -> int:
        """Forget the generations released wholly more than ``horizon`` before ``watermark``; how many keys."""
        if self.horizon is None:
            return 0
        cut = watermark - self.horizon
        n = 0
        while len(self.gens) > 1 and self.gens[0][1] < cut:
            n += len(self.gens.pop(0)[2])
        return n

    def state_dict(self) -> dict[str, Any]:
        return {"generations": [[g[0], g[1]] for g in self.gens],
                **{f"hashes.{i}": g[2].state_dict()["hashes"] for i, g in enumerate(self.gens)}}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        gens = []
        for i, (begun, latest) in enumerate(state["generations"]):
            ids = JudgedIds()
            ids.load_state_dict({"hashes": state[f"hashes.{i}"]})
            gens.append([int(begun), int(latest), ids])
        self.gens = gens


class Intake:
    """Validation, the duplicate rule, lateness and counts, into a window of held events.

    ``engine`` provides the kinds, their column layouts and their fast path (``kinds``, ``layouts``,
    ``schema``). ``fast=False`` takes every record through the models (what the fast path is tested
    against). ``strict`` raises on the first rejected record (:class:`~hrguard.InvalidEventError`,
    :class:`~hrguard.LateEventError`). ``tenant_clocks``: lateness is judged against the record's
    tenant's clock and watermark (``clocks``, ``watermarks``: tenant code -> instant), not the
    latest ``ts`` of every tenant. ``ids_horizon``: released ids are forgotten this long (µs) after
    their release (:class:`RememberedIds`; the ruleset's ``horizons.ids``); ``None``: never.
    """

    def __init__(self, engine: Any, strings: Interner | None = None, *, strict: bool = False,
                 lateness: int | None = None, late_message: LateMessage | None = None, fast: bool = True,
                 max_ahead: int | None = None, tenant_clocks: bool = False, ids_horizon: int | None = None):
        self.kinds: dict[str, type[Event]] = engine.kinds
        self.layouts = engine.layouts
        self.schema: Schema = engine.schema
        self.strings = strings if strings is not None else Interner()
        self.strict = strict
        self.lateness = lateness
        self.max_ahead = max_ahead  # a stream's guard: an event further ahead of the clock is rejected
        self.late_message = late_message
        self.fast = fast
        self.stats = IngestStats()
        self.rejected: list[Rejection] = []
        self.window = ColumnBuilder(self.layouts, self.strings)  # the held events, in order of arrival
        self._out = ColumnBuilder(self.layouts, self.strings)  # reused: a few released events at a time
        self._spare = ColumnBuilder(self.layouts, self.strings)  # reused: the next window of a few
        self.held: dict[str, int] = {}  # tenant_key(id, tenant) -> window row
        self.judged = RememberedIds(ids_horizon)  # of tenant keys
        self.clock: int | None = None  # the latest ts accepted
        self.watermark: int | None = None  # the latest instant released (for every tenant)
        self.tenant_clocks = tenant_clocks
        self.clocks: dict[int, int] = {}  # tenant code -> the latest ts accepted of it (tenant_clocks)
        self.watermarks: dict[int, int] = {}  # tenant code -> the latest instant released for it alone
        self.late_clock: int | None = None  # the clock the last late record was judged against
        self.fast_rows = 0  # events taken by the fast path
        self._block_judged: set[Any] = set()

    # -- reading ------------------------------------------------------------------------------------------
    def read(self, events: Any, size: int = 8192) -> Iterator[Block]:
        """Take everything ``events`` holds (see :func:`~hrguard.ingest.read_blocks`), a block at a time;
        yields each block once taken, so that the caller can release events in between. Each block taken
        is shown to the callbacks of :func:`watch_blocks` (a progress bar)."""
        watchers = _WATCHERS.get()
        for block in read_blocks(events, size, self.kinds):
            self.take(block)
            for watch in watchers:
                watch(block)
            yield block

    def frame(self, events: Any, as_of: int | None = None) -> Frame:
        """Everything ``events`` holds as one frame of the events at or before ``as_of`` (default: the
        latest ``ts``); later ones are counted in ``stats.after_as_of``."""
        for _ in self.read(events):
            pass
        return self.release_all(as_of)

    def push(self, value: Any, source: str = "<stream>") -> bool:
        """Take one record (its position is the number of records taken); whether it is a new event."""
        ev = self.admit(value, source)
        if ev is not None:
            self.hold(ev)
        return ev is not None

    # -- releasing ----------------------------------------------------------------------------------------
    def release(self, upto: int, base: int = 0) -> Frame | None:
        """The held events at or before ``upto`` as a frame (``None`` if there are none); their ids are
        remembered as released, and ``upto`` becomes the watermark."""
        if self.watermark is None or upto > self.watermark:
            self.watermark = upto
            self.judged.expire(upto)
        window = self.window
        n = len(window)
        if n == 0:
            return None
        if n <= SMALL_BLOCK:  # a stream's few held events: moved one by one (numpy's cost per call is fixed)
            return self._release_few(upto, base)
        ts = window.ts_array()  # a view of the window's buffer: let it go before the window changes
        ready = ts <= upto
        count = int(np.count_nonzero(ready))
        if count == 0:
            return None
        if count == n:
            order = order_by_ts_id(ts, np.asarray(window.ids, dtype=object))
            in_order = bool((order == np.arange(n)).all())
            del ts
            frame = window.freeze_in_order(base) if in_order else window.freeze(base=base)
            self.judged.add(builder_keys(window), upto)
            window.clear()
            self.held.clear()
            return frame
        frame = window.freeze(as_of=upto, base=base)
        self._keep(ready, upto)
        return frame

    def release_tenants(self, bounds: dict[int, int], base: int = 0) -> Frame | None:
        """The held events of each tenant in ``bounds`` (tenant code -> instant) at or before its bound, as
        one frame (``None`` if there are none); a tenant not in ``bounds`` releases nothing. Their keys
        are remembered as released, and each bound becomes its tenant's watermark."""
        wms = self.watermarks
        for t, b in bounds.items():
            w = wms.get(t)
            if w is None or b > w:
                wms[t] = b
        if wms:
            self.judged.expire(min(wms.values()))  # every tenant's ids are kept for the horizon at least
        newest = max(bounds.values()) if bounds else 0
        window = self.window
        if len(window) == 0 or not bounds:
            return None
        ts = window.ts_array()
        tenants = window.tenant_array()
        t0 = int(tenants[0])
        if (tenants == t0).all():  # one tenant (the usual window): one bound
            if t0 not in bounds:
                return None
            ready = ts <= bounds[t0]
        else:
            codes = np.asarray(sorted(bounds), dtype=np.int64)
            limits = np.asarray([bounds[int(t)] for t in codes], dtype=np.int64)
            k = np.minimum(np.searchsorted(codes, tenants), codes.size - 1)
            ready = (codes[k] == tenants) & (ts <= limits[k])
        del ts, tenants  # views of the window's buffers: let them go before the window changes
        count = int(np.count_nonzero(ready))
        if count == 0:
            return None
        frame = window.freeze(base=base, keep=ready)
        if count == len(window):
            self.judged.add(builder_keys(window), newest)
            window.clear()
            self.held.clear()
            return frame
        self._keep(ready, newest)
        return frame

    def _keep(self, released: np.ndarray, upto: int) -> None:
        """After a release (up to ``upto``) of the window rows ``released`` (a mask): remember their keys,
        keep the rest."""
        window = self.window
        keys = builder_keys(window)
        self.judged.add([k for k, r in zip(keys, released.tolist()) if r], upto)
        self.window = window.subset(np.flatnonzero(~released))
        self.held = dict(zip(builder_keys(self.window), range(len(self.window))))

    def _release_few(self, upto: int, base: int) -> Frame | None:
        window = self.window
        ts, ids = window.ts.tolist(), window.ids
        ready = sorted((r for r in range(len(ts)) if ts[r] <= upto), key=lambda r: (ts[r], ids[r]))
        if not ready:
            return None
        keys = builder_keys(window)
        if len(ready) == len(ts) and ready == list(range(len(ts))):  # all of them, in order already
            frame = window.freeze_in_order(base)
            self.judged.add(keys, upto)
            window.clear()
            self.held.clear()
            return frame
        out = self._out
        out.clear()
        window.copy_rows(ready, out)
        frame = out.freeze_in_order(base)  # copied in the order (ts, id)
        out.clear()
        self.judged.add([keys[r] for r in ready], upto)
        if len(ready) == len(ts):
            window.clear()
            self.held.clear()
            return frame
        keep = [r for r in range(len(ts)) if ts[r] > upto]
        self.held = {keys[r]: k for k, r in enumerate(keep)}  # (keys may be the window's list of ids)
        rest, self._spare = self._spare, window
        rest.clear()
        window.copy_rows(keep, rest)
        window.clear()
        self.window = rest
        return frame

    def release_all(self, as_of: int | None = None) -> Frame:
        """Every held event at or before ``as_of`` (default: the latest ``ts``) as one frame; the rest
        is counted in ``stats.after_as_of`` and dropped. The end of the input: nothing is remembered."""
        window = self.window
        if as_of is None and len(window):
            as_of = int(window.ts_array().max())
        frame = window.freeze(as_of=as_of)
        self.stats.after_as_of += len(window) - len(frame)
        self.window = ColumnBuilder(self.layouts, self.strings)
        self.held = {}
        return frame

    # -- one block ----------------------------------------------------------------------------------------
    def take(self, block: Block) -> None:
        """Take one block: every record becomes a held event, a duplicate or a rejection, in order."""
        self.stats.skipped += block.skipped
        if not block.values:
            return
        # the block's transient objects (Structs, tuples, lists) make no reference cycles, but as
        # containers they would wake the cyclic GC every few hundred records: it waits until the block
        # is taken (a tenth of the intake's time, measured)
        paused = gc.isenabled()
        if paused:
            gc.disable()
        try:
            self._take(block)
        finally:
            if paused:
                gc.enable()

    def _take(self, block: Block) -> None:
        values = block.values
        n = len(values)
        # 1. parse and decode: a Struct per record the fast path takes, a record (or Broken) otherwise
        structs: list[Any] = [None] * n
        slow: dict[int, Any] = {}  # position -> what the model path gets
        if self.fast and n >= SMALL_BLOCK:
            self._decode(block, structs, slow)
        else:
            for i, v in enumerate(values):
                if block.lines_are_json:
                    if not v.strip():
                        continue  # a blank line is no record
                    v = parse_line(v)
                slow[i] = v
        # 2. the fast checks, kind by kind: rows that fail them go to the model
        fast: list[tuple[KindColumns, str, np.ndarray]] = []  # (columns, kind, block positions)
        if len(slow) < n:
            deferred = Deferred()  # the block's timestamps, dates and times: parsed in one call each
            for plan, pos in _by_plan(structs, self.schema):
                kc = kind_columns(plan, [structs[i] for i in pos], self.strings, block.fresh, deferred,
                                  block.lines_are_json)
                fast.append((kc, plan.kind, np.asarray(pos, dtype=np.int64)))  # type: ignore[arg-type]
            deferred.run()
        # 3. the duplicate rule: a fast row's id must be new (not held, not released, not repeated in
        # this block); the others take the model path, in order, so the first one received is kept
        keys = self._new_ids_only(fast, slow)
        for kc, _, pos in fast:
            bad = np.flatnonzero(~kc.ok)
            for k in bad.tolist():
                slow[int(pos[k])] = _record_of(block, int(pos[k]), structs)
        # 4. in order of arrival: lateness, the model path, then the fast rows in bulk
        if self.lateness is not None:
            self._admit(block, fast, slow, structs)
        else:
            for i in sorted(slow):
                self._one(block, i, slow[i])
        self._emit(fast, keys)

    def _decode(self, block: Block, structs: list[Any], slow: dict[int, Any]) -> None:
        values = block.values
        schema = self.schema
        if block.lines_are_json:
            decode = schema.decode
            failed = []
            for i, raw in enumerate(values):
                try:
                    structs[i] = decode(raw)
                except _DECODE_ERRORS:
                    failed.append(i)
            for i in failed:
                raw = values[i]
                if not raw.strip():
                    continue  # a blank line is no record
                record = parse_line(raw)
                s = schema.with_unknown_fields(record) if type(record) is dict else None
                if s is None:
                    slow[i] = record
                else:
                    structs[i] = s
            return
        convert = schema.convert
        for i, v in enumerate(values):
            if type(v) is dict:
                try:
                    structs[i] = convert(v)
                    continue
                except _CONVERT_ERRORS:
                    s = schema.with_unknown_fields(v)
                    if s is not None:
                        structs[i] = s
                        continue
            slow[i] = v

    def _new_ids_only(self, fast: list[tuple[KindColumns, str, np.ndarray]],
                      slow: dict[int, Any]) -> list[list[str]]:
        """Mark a fast row not ok unless its key (tenant and id) is new (see :meth:`take`); the keys of
        each fast kind's rows."""
        if not fast:
            self._block_judged = self.judged.hits([_key_of(v) for v in slow.values()]) if self.judged else set()
            return []
        strings = self.strings
        keys = [tenant_keys(kc.cols["id"], kc.cols["tenant"], strings) for kc, _, _ in fast]
        ids: list[Any] = []
        for k in keys:
            ids.extend(k)
        ids.extend(_key_of(v) for v in slow.values())
        not_new: set[Any] = set()
        if len(set(ids)) != len(ids):
            counts: dict[Any, int] = {}
            for i in ids:
                counts[i] = counts.get(i, 0) + 1
            not_new = {i for i, c in counts.items() if c > 1}
        held = self.held
        if held and not held.keys().isdisjoint(ids):
            not_new.update(i for i in ids if i in held)
        self._block_judged = self.judged.hits(ids) if self.judged else set()
        not_new |= self._block_judged
        if not_new:
            for (kc, _, _), k in zip(fast, keys):
                kc.ok &= np.fromiter((i not in not_new for i in k), dtype=bool, count=kc.n)
        return keys

    def _admit(self, block: Block, fast: list[tuple[KindColumns, str, np.ndarray]], slow: dict[int, Any],
               structs: list[Any]) -> None:
        """Lateness in order of arrival: between two model-path records the clock is a running maximum
        of the fast rows' ``ts`` (a late row's ``ts`` is behind the clock, so counting it changes
        nothing); a late fast row takes the model path for its rejection."""
        n = len(block.values)
        ts = np.full(n, NULL_INT, dtype=np.int64)  # NULL_INT: no fast row here
        tenants = np.full(n, NULL_CODE, dtype=np.int32) if self.tenant_clocks else None
        for kc, _, pos in fast:
            ts[pos[kc.ok]] = kc.cols["ts"][kc.ok]
            if tenants is not None:
                tenants[pos[kc.ok]] = kc.cols["tenant"][kc.ok]
        late_fast = np.zeros(n, dtype=bool)
        start = 0
        for stop in sorted(slow) + [n]:
            if stop > start:
                if tenants is not None:
                    self._admit_run_tenants(block, structs, ts, tenants, start, stop, late_fast)
                else:
                    self._admit_run(block, structs, ts, start, stop, late_fast)
            if stop < n:
                self._one(block, stop, slow[stop])
            start = stop + 1
        if late_fast.any():
            for kc, _, pos in fast:
                kc.ok &= ~late_fast[pos]

    def _admit_run(self, block: Block, structs: list[Any], ts: np.ndarray, start: int, stop: int,
                   late_fast: np.ndarray) -> None:
        run = ts[start:stop]
        present = run != NULL_INT
        if not present.any():
            return
        t = np.where(present, run, np.iinfo(np.int64).min)
        first = self.clock if self.clock is not None else int(t[present][0])
        before = np.maximum(first, np.concatenate([[first], np.maximum.accumulate(t)[:-1]]))
        bound = before - self.lateness - 1  # type: ignore[operator]
        if self.watermark is not None:
            bound = np.maximum(bound, self.watermark)
        late = present & (run <= bound)
        late_fast[start:stop] = late
        for k in np.flatnonzero(late).tolist():  # rare: rejected by the model path, as of its arrival
            self.clock = int(before[k])
            self._one(block, start + k, _record_of(block, start + k, structs))
        self.clock = max(first, int(t.max()))

    def _admit_run_tenants(self, block: Block, structs: list[Any], ts: np.ndarray, tenants: np.ndarray,
                           start: int, stop: int, late_fast: np.ndarray) -> None:
        """:meth:`_admit_run` with a clock (and watermark) per tenant: each tenant's rows against its own."""
        run = ts[start:stop]
        idx = np.flatnonzero(run != NULL_INT)
        if idx.size == 0:
            return
        tt = tenants[start:stop][idx]
        t0 = int(tt[0])
        groups = [(t0, idx)] if (tt == t0).all() else [(int(t), idx[tt == t]) for t in np.unique(tt)]
        late_rows: list[tuple[int, int, int]] = []  # (row in the run, tenant, its clock when it arrived)
        after: dict[int, int] = {}
        for t, pos in groups:
            tv = run[pos]
            c = self.clocks.get(t)
            first = c if c is not None else int(tv[0])
            before = np.maximum(first, np.concatenate([[first], np.maximum.accumulate(tv)[:-1]]))
            bound = before - self.lateness - 1  # type: ignore[operator]
            w, wt = self.watermark, self.watermarks.get(t)
            if wt is not None and (w is None or wt > w):
                w = wt
            if w is not None:
                bound = np.maximum(bound, w)
            late = tv <= bound
            if late.any():
                late_rows.extend((int(pos[j]), t, int(before[j])) for j in np.flatnonzero(late).tolist())
            after[t] = max(first, int(tv.max()))
        for k, t, clock in sorted(late_rows):  # rare: rejected by the model path, as of its arrival
            late_fast[start + k] = True
            self.clocks[t] = clock
            self._one(block, start + k, _record_of(block, start + k, structs))
        self.clocks.update(after)
        latest = max(after.values())
        if self.clock is None or latest > self.clock:
            self.clock = latest

    def _emit(self, fast: list[tuple[KindColumns, str, np.ndarray]], keys: list[list[str]]) -> None:
        taken = 0
        window, held = self.window, self.held
        for (kc, kind, _), kk in zip(fast, keys):
            keep = np.flatnonzero(kc.ok)
            if keep.size == 0:
                continue
            ids, cols, attrs, entries = kc.take(keep)
            if keep.size != kc.n:
                kk = [kk[i] for i in keep.tolist()]
            row0 = len(window)
            window.extend(kind, ids, cols, attrs, entries)
            held.update(zip(kk, range(row0, row0 + len(ids))))
            taken += int(keep.size)
            if self.lateness is not None:
                t = int(cols["ts"].max())
                if self.clock is None or t > self.clock:
                    self.clock = t
                if self.tenant_clocks:
                    self._tick_tenants(cols["tenant"], cols["ts"])
        self.stats.received += taken
        self.stats.valid += taken
        self.fast_rows += taken

    # -- one record, through the model ---------------------------------------------------------------------
    def _one(self, block: Block, i: int, value: Any) -> None:
        ev = self._check(value, block.lines[i], block.item(i), block.source, in_block=True, row=block.rows)
        if ev is not None:
            self.hold(ev)

    def admit(self, value: Any, source: str = "<stream>", row: int | None = None) -> Event | None:
        """One record (a stream's push) through the models: the event if it is valid, in time and new
        (not yet held: :meth:`hold` it), else ``None`` (rejected or a duplicate, and counted). ``row``: the
        record is that 0-based row of a table (``source``), which locates its rejection."""
        if row is not None:
            return self._check(value, row, None, source, in_block=False, row=True)
        return self._check(value, self.stats.received + 1, None, source, in_block=False)

    def hold(self, ev: Event, ts: int | None = None) -> None:
        """Hold an event :meth:`admit` accepted (``ts``: its instant, if known), until it is released."""
        ts = to_us(ev.ts) if ts is None else ts
        self.stats.valid += 1
        self.held[tenant_key(ev.id, ev.tenant)] = len(self.window)
        self.window.add(ev, ts)
        if self.lateness is not None:
            if self.clock is None or ts > self.clock:
                self.clock = ts
            if self.tenant_clocks:
                t = self.strings.code(ev.tenant)
                c = self.clocks.get(t)
                if c is None or ts > c:
                    self.clocks[t] = ts

    def _tick_tenants(self, tenants: np.ndarray, ts: np.ndarray) -> None:
        """The tenants' clocks after accepting events of ``tenants`` at ``ts`` (aligned arrays)."""
        clocks = self.clocks
        t0 = int(tenants[0])
        if (tenants == t0).all():
            groups = [(t0, int(ts.max()))]
        else:
            groups = [(int(t), int(ts[tenants == t].max())) for t in np.unique(tenants)]
        for t, m in groups:
            c = clocks.get(t)
            if c is None or m > c:
                clocks[t] = m

    def _check(self, value: Any, line: int, item: int | None, source: str, in_block: bool,
               row: bool = False) -> Event | None:
        """The model path's verdict on one record (see :meth:`admit`); ``in_block``: its id was among the
        block's looked up in the released ids; ``row``: ``line`` is a table's 0-based row."""
        stats = self.stats
        stats.received += 1
        out = validate(value, self.kinds)
        if row:  # a table's row: located by its row, not a line
            line, at_row = None, line  # type: ignore[assignment]
        else:
            at_row = None
        if not isinstance(out, Event):
            rid, fld, msg = out
            self.reject(Rejection(line, rid, fld, msg, source, item, at_row))
            return None
        ev = out
        if self.lateness is not None:
            ts = to_us(ev.ts)
            if self._is_late(ts, ev.tenant):
                self.reject(Rejection(line, ev.id, "ts", self._late_text(ts), source, item, at_row), late=True)
                return None
            if self.max_ahead is not None and self.clock is not None and ts > self.clock + self.max_ahead:
                self.reject(Rejection(line, ev.id, "ts", (
                    f"{ev.ts.isoformat()} is more than max_ahead {format_duration(self.max_ahead)} ahead of the "
                    f"stream's clock {from_us(self.clock).isoformat()}: a wrong clock or a mistyped date? (accepting "
                    f"it would make every event before it late; raise max_ahead, or advance_to first, if it is real)"),
                    source, item, at_row))
                return None
        rid = ev.id
        key = tenant_key(rid, ev.tenant)
        row = self.held.get(key)
        if in_block and type(value) is dict:  # its key was looked up with the block's (see _key_of)
            judged = key in self._block_judged
        else:
            judged = bool(self.judged) and bool(self.judged.hits([key]))
        if row is not None or judged:
            if row is not None and self.window.same_as_row(row, ev):
                stats.duplicates += 1
            else:
                self.reject(Rejection(line, rid, "id", _REPEATED, source, item, at_row))
            return None
        return ev

    # -- saving -------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """What the intake carries besides its held events (which the caller saves as records): counts,
        rejections, the clock and watermark, and the released ids' hashes."""
        return {
            "stats": dataclasses.asdict(self.stats),
            "rejected": [r.to_dict() for r in self.rejected],
            "clock": self.clock,
            "watermark": self.watermark,
            "judged": self.judged.state_dict(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved (after the held events were held again)."""
        self.stats = IngestStats(**state["stats"])
        self.rejected = [Rejection(r["line"], r["id"], r["field"], r["message"], r["source"], r.get("item"),
                                   r.get("row")) for r in state["rejected"]]
        self.clock = state["clock"]
        self.watermark = state["watermark"]
        judged = state["judged"]
        if "hashes" in judged:  # a checkpoint from before ids expired: one generation, as of its watermark
            w = self.watermark if self.watermark is not None else 0
            judged = {"generations": [[w, w]], "hashes.0": judged["hashes"]} if len(judged["hashes"]) else {
                "generations": []}
        self.judged.load_state_dict(judged)

    def _is_late(self, ts: int, tenant: str | None = None) -> bool:
        bound = self.watermark
        clock = self.clock
        if self.tenant_clocks:
            t = self.strings.find(tenant) if tenant else NULL_CODE
            if tenant and t == NULL_CODE:  # a tenant never seen: no clock yet
                clock = None
            else:
                clock = self.clocks.get(t)
                w = self.watermarks.get(t)
                if w is not None and (bound is None or w > bound):
                    bound = w
        self.late_clock = clock
        if clock is not None:
            c = clock - self.lateness - 1  # type: ignore[operator]
            bound = c if bound is None or c > bound else bound
        return bound is not None and ts <= bound

    def _late_text(self, ts: int) -> str:
        return self.late_message(ts) if self.late_message is not None else "late event"

    def reject(self, rejection: Rejection, late: bool = False) -> None:
        self.stats.rejected += 1
        self.stats.late += late
        self.rejected.append(rejection)
        if self.strict:
            raise (LateEventError if late else InvalidEventError)(rejection)


def _by_plan(structs: list[Any], schema: Schema) -> list[tuple[Any, list[int]]]:
    """``(plan, positions)`` for each Struct type among ``structs`` (``None`` skipped), positions ascending."""
    groups: dict[type, list[int]] = {}
    for i, s in enumerate(structs):
        if s is not None:
            t = type(s)
            g = groups.get(t)
            if g is None:
                g = groups[t] = []
            g.append(i)
    return [(schema.by_struct[t], pos) for t, pos in groups.items()]


def _key_of(value: Any) -> Any:
    """The key of a record the models will validate, read off the record as given (``None``: no id to
    read); the same string as :func:`tenant_key` of the event it becomes (a ``bytes`` id or tenant is
    read as the models read it)."""
    if type(value) is not dict:
        return None
    rid = _text(value.get("id"))
    tenant = value.get("tenant")
    if tenant is not None and type(tenant) is not str:
        tenant = _text(tenant)
        if tenant is None:
            return None  # not a valid tenant: the record is rejected
    return None if rid is None or not rid else tenant_key(rid, tenant)


def _text(v: Any) -> str | None:
    if type(v) is str:
        return v
    if isinstance(v, (bytes, bytearray)):
        try:
            return bytes(v).decode()
        except UnicodeDecodeError:
            return None
    return None


def _record_of(block: Block, i: int, structs: list[Any]) -> Any:
    """What the model path gets for a record the fast path decoded but does not take."""
    v = block.values[i]
    if block.lines_are_json:
        return parse_line(v)
    return v
