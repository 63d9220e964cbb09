"""``hrguard.quality``: detection quality against labels, now :mod:`hrguard.evaluation.quality`.

The documented name stays: importing ``hrguard.quality`` gives that very module (not a copy), so its
attributes, and anything patched on it, are the same.
"""

from __future__ import annotations

import importlib
import sys

sys.modules[__name__] = importlib.import_module("hrguard.evaluation.quality")
