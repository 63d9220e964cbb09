"""Mapping pipelines: a source system's records (Frappe HRMS, Odoo, an XES log...) turned into hrguard events
by validated, declarative YAML, the way Sigma's processing pipelines map log fields.

- the format as pydantic models, also its JSON Schema (``_model``);
- reading values: field paths, ``{path}`` templates, times in the source's zone (``_values``);
- a loaded :class:`Pipeline` mapping one record to its events or a located reason it cannot (``_pipeline``);
- loading with every problem at ``file:line:col``, through the rulesets' YAML machinery (``_loader``);
- :class:`MappedRecords`, a pipeline's input as blocks a scan reads (``_input``), and XES logs read
  with the standard library, defused (``_xes``).

Bundled presets (``presets/*.yaml``) are registered by the built-in plugin through the
``hrguard_register_pipelines`` hook, as a vendor's plugin registers its own.
"""

from __future__ import annotations

from ._input import MappedRecords
from ._loader import MAX_EMITS, MAX_EXTENDS_DEPTH, MAX_FILE_BYTES, MAX_SOURCES, load_pipeline
from ._model import FORMAT_VERSION, EmitSpec, Match, PipelineFile, Sentinel, SourceSpec, ValueMap, pipeline_json_schema
from ._pipeline import SKIP, Pipeline, Source
from ._xes import read_xes

__all__ = [
    "EmitSpec",
    "FORMAT_VERSION",
    "MAX_EMITS",
    "MAX_EXTENDS_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_SOURCES",
    "MappedRecords",
    "Match",
    "Pipeline",
    "PipelineFile",
    "SKIP",
    "Sentinel",
    "Source",
    "SourceSpec",
    "ValueMap",
    "load_pipeline",
    "pipeline_json_schema",
    "read_xes",
]
