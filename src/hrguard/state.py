"""``hrguard.state``: the one state store, now :mod:`hrguard.sdk.state`.

The documented name stays: importing ``hrguard.state`` gives that very module (not a copy), so its
attributes, and anything patched on it, are the same.
"""

from __future__ import annotations

import importlib
import sys

sys.modules[__name__] = importlib.import_module("hrguard.sdk.state")
