"""Running the conformance checks: :func:`check_detector` (one call, one :class:`ConformanceError`) and
:func:`parametrize_with_checks` (one pytest test per case and check).

(PYTEST_DONT_REWRITE: see :mod:`hrguard.testing`.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from ..engine import Engine
from ..errors import ArgumentTypeError, ConformanceError, UnknownNameError
from ..sdk import Detector
from ._case import DetectorCase
from ._checks import CHECKS


def _select(checks: Iterable[Callable | str] | None, skip: Iterable[Callable | str]) -> list[Callable[[DetectorCase], None]]:
    by_name = {c.__name__: c for c in CHECKS}

    def name(c: Callable | str) -> str:
        n = c if isinstance(c, str) else c.__name__
        n = n if n.startswith("check_") else f"check_{n}"
        if n not in by_name and not callable(c):
            raise UnknownNameError("checks", f"no conformance check {n!r}; checks: {', '.join(by_name)}")
        return n

    chosen = list(CHECKS) if checks is None else [c if callable(c) else by_name[name(c)] for c in checks]
    skipped = {name(c) for c in skip}
    return [c for c in chosen if c.__name__ not in skipped]


def _case(detector: type[Detector] | DetectorCase, **kw: Any) -> DetectorCase:
    if isinstance(detector, DetectorCase):
        if any(v not in (None, (), {}) for v in kw.values()):
            raise ArgumentTypeError("detector", "give either a DetectorCase or a detector class with keyword "
                                                "arguments, not both")
        return detector
    return DetectorCase(detector, **{k: v for k, v in kw.items() if v is not None})


def check_detector(detector: type[Detector] | DetectorCase, events: Sequence[Mapping[str, Any]] = (), *,
                   params: Mapping[str, Any] | None = None, engine: Engine | None = None,
                   plugins: Sequence[object] = (), as_of: Any = None, timezone: str | None = None,
                   bad_params: Sequence[Mapping[str, Any]] = (), expect_findings: bool | None = None,
                   checks: Iterable[Callable | str] | None = None, skip: Iterable[Callable | str] = ()) -> list[str]:
    """Run the conformance checks on a detector; raise :class:`ConformanceError` listing every failure.

    ``events`` should make the detector fire. ``checks`` (names or functions of :data:`CHECKS`)
    runs only those; ``skip`` leaves some out. Returns the names of the checks that ran (all passed).
    """
    case = _case(detector, events=events, params=params, engine=engine, plugins=plugins, as_of=as_of,
                 timezone=timezone, bad_params=bad_params, expect_findings=expect_findings)
    chosen = _select(checks, skip)
    failures: dict[str, str] = {}
    for check in chosen:
        try:
            check(case)
        except AssertionError as exc:
            failures[check.__name__] = str(exc)
        except Exception as exc:  # a check that cannot even run is a failure of that check
            failures[check.__name__] = f"{type(exc).__name__}: {exc}"
    if failures:
        raise ConformanceError(case.id, failures, len(chosen))
    return [c.__name__ for c in chosen]


def parametrize_with_checks(cases: Iterable[DetectorCase | type[Detector]], *, checks: Iterable[Callable | str] | None = None,
                            skip: Iterable[Callable | str] = ()) -> Any:
    """A ``pytest.mark.parametrize`` over every (case, check) pair, with ids like ``geofence.mismatch-chunking``.

    The decorated test takes ``case`` and ``check`` and calls ``check(case)``.
    """
    import pytest

    pairs, ids = [], []
    for c in cases:
        case = c if isinstance(c, DetectorCase) else DetectorCase(c)
        for check in _select(checks, skip):
            pairs.append((case, check))
            ids.append(f"{case.id}-{check.__name__.removeprefix('check_')}")
    return pytest.mark.parametrize("case, check", pairs, ids=ids)
