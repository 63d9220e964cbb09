"""Judging detectors against labels, in two public modules.

- :mod:`hrguard.evaluation.quality` (also :mod:`hrguard.quality`): precision, recall and false alarms
  per rule and per scenario of a scan against labelled misconduct; the one evaluator.
- :mod:`hrguard.evaluation.notebook` (also :mod:`hrguard.notebook`): the same evaluation as DataFrames
  and plots, threshold sweeps and outlier scores for tuning detectors on months of history.
"""

from __future__ import annotations

from . import notebook, quality

__all__ = ["notebook", "quality"]
