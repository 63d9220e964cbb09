"""A synthetic sales company with ground truth: ``hrguard synth`` and the functions behind it.

A deterministic (by seed) Shanghai sales company — offices, sales managers with teams of about eight
reps, finance, legal and HR — lives through ``days`` calendar days: plans, GPS clock-ins at customers,
visits with photos, calls, stage changes, approval chains, orders, invoices, payroll, leave, people
leaving and joining. A minority of reps misbehave in the ways of :data:`SCENARIOS`, and every
injection (misconduct and honest noise) leaves a ground-truth label.

    from hrguard.synth import SynthConfig, write_dataset
    write_dataset("data", SynthConfig(employees=300, days=90, seed=1))

Events are generated one day at a time and written as they come (:meth:`Synth.days` is a generator),
so a dataset of ten million events never sits in memory. The same configuration gives byte-identical
files.
"""

from __future__ import annotations

from ._dataset import GENERATOR, Synth, SynthDay, SynthResult, generate, write_dataset
from ._model import SynthConfig
from ._scenarios import MISCONDUCT, NOISE, SCENARIOS, Scenario

__all__ = ["GENERATOR", "MISCONDUCT", "NOISE", "SCENARIOS", "Scenario", "Synth", "SynthConfig", "SynthDay", "SynthResult",
           "generate", "write_dataset"]
