"""The built-in detectors of ``spec/detectors.md``; registered by :mod:`hrguard.builtins`."""

from .expr import ExprRule
from .geofence import GeofenceMismatch
from .stall import FollowupStall

BUILTIN_DETECTORS = (GeofenceMismatch, FollowupStall, ExprRule)

__all__ = ["BUILTIN_DETECTORS", "ExprRule", "FollowupStall", "GeofenceMismatch"]
