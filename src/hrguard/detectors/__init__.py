"""The built-in detectors of ``spec/detectors.md``, one module each; registered by :mod:`hrguard.plugins.builtins`.

Every module here lists its detector classes in a module-level ``DETECTORS`` tuple; the set of
built-ins is collected from those, in module-name order.
"""

from __future__ import annotations

import importlib
import pkgutil

from ..sdk import Detector as _Detector


def _collect() -> tuple[type[_Detector], ...]:
    found: list[type[_Detector]] = []
    for mod in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if mod.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{mod.name}")
        found.extend(getattr(module, "DETECTORS", ()))
    return tuple(found)


BUILTIN_DETECTORS = _collect()

__all__ = ["BUILTIN_DETECTORS"]
