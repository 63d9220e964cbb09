"""``hrguard.notebook``: notebook helpers, now :mod:`hrguard.evaluation.notebook`.

The documented name stays: importing ``hrguard.notebook`` gives that very module (not a copy), so its
attributes, and anything patched on it, are the same.
"""

from __future__ import annotations

import importlib
import sys

sys.modules[__name__] = importlib.import_module("hrguard.evaluation.notebook")
