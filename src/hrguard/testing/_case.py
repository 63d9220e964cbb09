"""A :class:`DetectorCase`: a detector and what the conformance checks feed it, with its reference scan.

(PYTEST_DONT_REWRITE: see :mod:`hrguard.testing`.)
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..engine import Engine, ScanResult
from ..plugins.hookspecs import hookimpl
from ..rules import Ruleset
from ..sdk import Detector
from ._runs import dump_findings


# ==================================================================================================
# the conformance kit
# ==================================================================================================
class _Only:
    """A plugin registering one detector class (for a detector no plugin of the engine registers)."""

    def __init__(self, detector: type[Detector]):
        self.detector = detector
        self.__name__ = f"conformance:{detector.id or detector.__name__}"

    @hookimpl
    def hrguard_register_detectors(self, register: Callable[[type[Detector]], None]) -> None:
        register(self.detector)


_REF = object()  # "the reference scan's as-of time"


@dataclass(eq=False)
class DetectorCase:
    """A detector and what the checks feed it: events that make it fire, params, plugins, as-of time.

    ``plugins`` are registered in a fresh engine (no installed plugins); give ``engine`` instead to
    use one you built. A detector that no plugin of the engine registers is registered for the run.
    ``bad_params`` are params (merged over ``params``) that must be rejected, besides the ones the
    kit makes itself. ``expect_findings=False`` states the events make no finding (then the checks
    that need findings have nothing to compare; prefer events that fire).
    """

    detector: type[Detector]
    events: Sequence[Mapping[str, Any]] = ()
    params: Mapping[str, Any] = field(default_factory=dict)
    plugins: Sequence[object] = ()
    engine: Engine | None = None
    as_of: Any = None
    timezone: str = "UTC"
    bad_params: Sequence[Mapping[str, Any]] = ()
    expect_findings: bool = True
    name: str = "under-test"
    label: str | None = None

    def __post_init__(self) -> None:
        self.events = [dict(e) for e in self.events]
        self.pristine = copy.deepcopy(self.events)  # what the events were before any check ran
        self._engine: Engine | None = None
        self._ref: ScanResult | None = None

    def __repr__(self) -> str:
        return f"DetectorCase({self.label or self.detector.id})"

    @property
    def id(self) -> str:
        return self.label or self.detector.id or self.detector.__name__

    # -- what the checks use -------------------------------------------------------------------------
    def fresh_engine(self) -> Engine:
        """A new engine with ``plugins`` (or the given engine itself), plus the detector when no plugin registers it."""
        eng = self.engine if self.engine is not None else Engine(list(self.plugins), entrypoints=False)
        det = self.detector
        if eng.detectors.get(det.id) is det:
            return eng
        if det.id in eng.detectors:
            raise AssertionError(
                f"the engine's detector {det.id!r} is {eng.detectors[det.id].__qualname__} (from plugin "
                f"{eng.registry.detectors[det.id].plugin!r}), not {det.__qualname__}: pass the engine or plugins "
                f"that register it")
        plugins = [p for name, p in eng.pm.list_name_plugin() if name != "hrguard.plugins.builtins"]
        return Engine([*plugins, _Only(det)], entrypoints=False)

    def engine_(self) -> Engine:
        if self._engine is None:
            self._engine = self.fresh_engine()
        return self._engine

    def rules(self, params: Mapping[str, Any] | None = None, language: str = "en") -> dict[str, Any]:
        return {"ruleset": "conformance", "language": language, "timezone": self.timezone,
                "rules": [{"use": self.detector.id, "name": self.name,
                           "params": dict(self.params if params is None else params)}]}

    def ruleset(self, language: str = "en", engine: Engine | None = None) -> Ruleset:
        return (engine or self.engine_()).load_ruleset(self.rules(language=language))

    def scan(self, events: Sequence[Mapping[str, Any]] | None = None, *, as_of: Any = _REF, language: str = "en",
             chunk_size: int = 65_536, engine: Engine | None = None) -> ScanResult:
        """Scan the case's events (or ``events``) as of the reference as-of time (or ``as_of``)."""
        eng = engine or self.engine_()
        when = self.reference().as_of if as_of is _REF else as_of
        return eng.scan(list(self.events if events is None else events), self.ruleset(language, eng), when,
                        chunk_size=chunk_size)

    def reference(self) -> ScanResult:
        """The batch scan everything else is compared with (computed once)."""
        if self._ref is None:
            eng = self.engine_()
            ref = eng.scan(list(self.events), self.ruleset(), self.as_of)
            if ref.rejected:
                raise AssertionError(f"the case's events are not valid input ({len(ref.rejected)} rejected), "
                                     f"e.g. {ref.rejected[0]}: fix the events (or register their kinds)")
            self._ref = ref
        return self._ref

    def as_of_dt(self) -> datetime | None:
        return self.reference().as_of


def expected_findings(case: DetectorCase) -> list[dict[str, Any]]:
    return dump_findings(case.reference().findings)


def require_findings(case: DetectorCase) -> None:
    if case.expect_findings and not case.reference().findings:
        raise AssertionError("the case's events make no finding, so there is nothing to compare: "
                             "give events that make the detector fire")
