"""The engine: one object owning its plugins and kinds, and the entry points of a scan.

:meth:`Engine.scan` (batch) and :class:`Stream` (incremental) share one path: valid events are
moved into columns, sorted into the spec's order ``(ts, id)``, and handed to every rule instance as
time-ordered chunks through a :class:`Runner`. Only the chunking differs, and detectors are written
so chunking cannot change their findings: batch and streaming give the same findings by design.
A bounded scan (``scan(..., max_disorder="1d")``, :class:`BoundedScan`) reads its input once, in
order of arrival, and releases it to the detectors as a stream does, in large micro-batches: its
memory is the detectors' state plus a window of events, whatever the number of events.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .. import plugins as _plugins
from ..columns import Frame, KindLayout
from ..events import Event, to_instant_us
from ..ingest import Intake, Schema
from ..pipelines import MappedRecords, Pipeline
from ..pipelines import load_pipeline as _load_pipeline_with
from ..rules import Ruleset
from ..rules import load_ruleset as _load_ruleset_with
from ..sdk import Detector
from . import _default
from ._batch import judge, scan_all
from ._bounded import BoundedScan
from ._result import ScanResult
from ._runner import DEFAULT_CHUNK
from ._stream import Stream


class Engine:
    """Owns a pluggy ``PluginManager`` with the built-ins, installed plugins and any given ``plugins``.

    ``entrypoints=False`` loads no installed plugins (what tests want); ``None`` follows the
    ``HRGUARD_DISABLE_PLUGIN_AUTOLOAD`` environment variable.
    """

    def __init__(self, plugins: Iterable[object] = (), *, entrypoints: bool | None = None):
        self.pm, self.registry = _plugins.load(plugins, entrypoints=entrypoints)
        self.kinds: dict[str, type[Event]] = {k: r.obj for k, r in self.registry.kinds.items()}
        self.layouts = {k: KindLayout.of(m) for k, m in self.kinds.items()}
        self._schema: Schema | None = None

    @property
    def schema(self) -> Schema:
        """The fast path of this engine's kinds (generated from their models on first use)."""
        if self._schema is None:
            self._schema = Schema(self.kinds)
        return self._schema

    def intake(self, *, strict: bool = False) -> Intake:
        """A fresh :class:`~hrguard.ingest.Intake` of this engine's kinds (its own strings)."""
        return Intake(self, strict=strict)

    @property
    def detectors(self) -> dict[str, type[Detector]]:
        return {k: r.obj for k, r in self.registry.detectors.items()}

    def load_ruleset(self, source: Any, *, tests: bool = False) -> Ruleset:
        """A ruleset (a bundled name, a path or a mapping) loaded with this engine's detectors; with ``tests``,
        its tests are read and checked too (``Ruleset.tests``)."""
        return _load_ruleset_with(source, self, tests=tests)

    def load_pipeline(self, source: Any) -> Pipeline:
        """A mapping pipeline (a bundled name, a path or a mapping) loaded with this engine's kinds."""
        return _load_pipeline_with(source, self)

    def scan(self, events: Any, ruleset: Any = "sales", as_of: Any = None, *, strict: bool = False,
             chunk_size: int = DEFAULT_CHUNK, max_disorder: Any = None, pipeline: Any = None) -> ScanResult:
        """Judge ``events`` (a path, paths, a file, or an iterable of dicts/models) at ``as_of``.

        ``as_of`` is an instant and ``max_disorder`` a duration, read by hrguard's one policy
        (:mod:`hrguard.events`): ``as_of`` an aware datetime, RFC 3339 with an offset, or seconds
        since the Unix epoch; ``max_disorder`` ``"1d"``, ``"30m"``, a ``timedelta`` or seconds.
        ``max_disorder`` scans in bounded memory instead of holding every event: see
        :class:`BoundedScan`. The findings are the same as without it whenever no event arrives more
        than ``max_disorder`` behind the latest ``ts`` read before it; an event later than that is
        rejected as late (reported and counted).

        ``pipeline`` (a :class:`~hrguard.pipelines.Pipeline`, bundled name, path or mapping) maps source
        records to events first: see :mod:`hrguard.pipelines`.
        """
        rs = ruleset if isinstance(ruleset, Ruleset) else self.load_ruleset(ruleset)
        if pipeline is not None:
            events = MappedRecords(self.load_pipeline(pipeline), events)
        given_as_of = to_instant_us(as_of, what="as_of") if as_of is not None else None  # checked before reading
        if max_disorder is not None:
            return BoundedScan(self, rs, max_disorder, strict=strict, chunk_size=chunk_size).run(events, as_of)
        return scan_all(self, events, rs, given_as_of, strict=strict, chunk_size=chunk_size)

    def judge(self, frame: Frame, ruleset: Any, intake: Intake, as_of: int | None = None, *,
              chunk_size: int = DEFAULT_CHUNK) -> ScanResult:
        """Judge a frame of events (``intake.frame(...)``) at ``as_of`` (microseconds; default: its last
        ``ts``); the result counts the intake's records and rejections."""
        rs = ruleset if isinstance(ruleset, Ruleset) else self.load_ruleset(ruleset)
        return judge(frame, rs, intake, as_of, chunk_size=chunk_size)

    def stream(self, ruleset: Any = "sales", allowed_lateness: Any = "0s", *, strict: bool = False,
               batch: int = 1, pipeline: Any = None, **kw: Any) -> Stream:
        """A :class:`~hrguard.Stream` with this engine's kinds, detectors and rulesets (``hrguard.Stream(ruleset,
        engine=engine)``; a ruleset loaded with this engine brings it anyway). ``kw``: ``sinks``, ``keep``,
        ``max_ahead``, as for :class:`~hrguard.Stream`."""
        return Stream(ruleset, allowed_lateness, engine=self, strict=strict, batch=batch, pipeline=pipeline, **kw)


def default_engine() -> Engine:
    """The process-wide engine used by ``hrguard.scan`` and friends (built-ins + installed plugins)."""
    return _default.engine()


_default.provide(Engine)


def load_ruleset(source: Any, engine: Engine | None = None, *, tests: bool = False) -> Ruleset:
    """Load a ruleset from a path, a bundled name (``"sales"``), or a mapping with ``engine``'s detectors
    (default: :func:`default_engine`); raise :class:`~hrguard.RulesetError` listing every problem.
    ``tests=True`` also reads and checks the ruleset's tests (a scan does not need them)."""
    return (engine or default_engine()).load_ruleset(source, tests=tests)


def load_pipeline(source: Any, engine: Engine | None = None) -> Pipeline:
    """Load a mapping pipeline from a path, a bundled name (``"odoo"``) or a mapping with ``engine``'s kinds
    (default: :func:`default_engine`); raise :class:`~hrguard.PipelineError` listing every problem."""
    return (engine or default_engine()).load_pipeline(source)


def scan(events: Any, ruleset: Any = "sales", as_of: Any = None, *, strict: bool = False,
         engine: Engine | None = None, chunk_size: int = DEFAULT_CHUNK, max_disorder: Any = None,
         pipeline: Any = None) -> ScanResult:
    """Scan ``events`` with ``ruleset`` (a Ruleset, bundled name or path) at ``as_of``.

    ``max_disorder="1d"`` scans in bounded memory (see :class:`BoundedScan`): same findings as long
    as no event arrives more than that behind the latest ``ts`` read before it; later ones are
    rejected as late. ``pipeline`` maps source records (Frappe HRMS, Odoo, XES...) to events first.
    """
    if isinstance(ruleset, Ruleset):
        engine = engine or ruleset.engine
    engine = engine or default_engine()
    return engine.scan(events, ruleset, as_of, strict=strict, chunk_size=chunk_size, max_disorder=max_disorder,
                       pipeline=pipeline)
