"""A pipeline's input as blocks of mapped events, each event keeping the place of the record it came from.

:class:`MappedRecords` reads source records (JSON Lines, a JSON array, Python records, or an XES log
for a ``format: xes`` pipeline) a block at a time and replaces each record with its events, all at
the record's line (or position): a rejection of an event, or of a record the pipeline cannot map,
names the source record's place and id. Records a ``skip`` source takes are counted on the block
(``Block.skipped``), so a scan's stats count them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..ingest import Block, BlockSource, parse_line, read_blocks
from ._pipeline import SKIP
from ._xes import read_xes

if TYPE_CHECKING:  # pragma: no cover
    from ._pipeline import Pipeline


def _is_paths(events: Any) -> bool:
    if isinstance(events, (str, os.PathLike)):
        return True
    return isinstance(events, (list, tuple)) and bool(events) and all(isinstance(e, (str, os.PathLike)) for e in events)


class MappedRecords(BlockSource):
    """The events ``pipeline`` makes of ``records`` (anything ``scan`` reads; paths are XES logs when the
    pipeline's format is ``xes``)."""

    def __init__(self, pipeline: Pipeline, records: Any):
        self.pipeline = pipeline
        self.records = records

    def _raw(self, size: int) -> Iterator[Block]:
        if self.pipeline.format == "xes" and _is_paths(self.records):
            paths = [self.records] if isinstance(self.records, (str, os.PathLike)) else list(self.records)
            for p in paths:
                yield from read_xes(p, size)
            return
        yield from read_blocks(self.records, size)

    def blocks(self, size: int) -> Iterator[Block]:
        mapper = self.pipeline.map
        for raw in self._raw(size):
            values: list[Any] = []
            lines: list[int] = []
            items: list[int | None] = []
            skipped = 0
            for i, v in enumerate(raw.values):
                if raw.lines_are_json:
                    if not v.strip():
                        continue  # a blank line is no record
                    v = parse_line(v)
                out = mapper(v)
                if out is SKIP:
                    skipped += 1
                    continue
                line, item = raw.lines[i], raw.item(i)
                if isinstance(out, list):
                    values.extend(out)
                    lines.extend([line] * len(out))
                    items.extend([item] * len(out))
                else:
                    values.append(out)
                    lines.append(line)
                    items.append(item)
            yield Block(raw.source, values, lines, items if raw.items is not None else None, fresh=raw.fresh,
                        skipped=skipped)
