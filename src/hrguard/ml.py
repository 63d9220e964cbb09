"""``hrguard.ml``: the isolation-forest scorer, now :mod:`hrguard.analytics.forest`.

The documented name stays: importing ``hrguard.ml`` gives that very module (not a copy), so its
attributes, and anything patched on it, are the same. Like it, importing this without scikit-learn
raises :class:`hrguard.MissingExtraError` naming the ``ml`` extra.
"""

from __future__ import annotations

import importlib
import sys

sys.modules[__name__] = importlib.import_module("hrguard.analytics.forest")
