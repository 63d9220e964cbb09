"""The process-wide default engine: the one ``hrguard.scan``, ``hrguard.Stream`` and ``hrguard.load_ruleset``
use when given none (the built-ins and the installed plugins), built on first use.

An engine makes streams and a stream without an engine uses the default one, so the two depend on
each other. This module breaks the cycle: :mod:`._engine` says how to build the default engine
(:func:`provide`) when it is imported, which the package does before anything can ask, and the
modules below it reach the default through :func:`engine` without importing the module that
imports them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from ._engine import Engine

_build: Callable[[], Engine] | None = None
_DEFAULT: Engine | None = None


def provide(build: Callable[[], Engine]) -> None:
    """How to build the default engine (called once, by the engine module)."""
    global _build
    _build = build


def engine() -> Engine:
    """The default engine, built on first use."""
    global _DEFAULT
    if _DEFAULT is None:
        assert _build is not None, "hrguard.engine._engine provides the default engine when imported"
        _DEFAULT = _build()
    return _DEFAULT
