"""What a detector reports: the :class:`Finding` with its severity and deterministic id, and how findings are shown to people (terminal table, HTML, pandas) and written for them (CSV, Parquet)."""

from __future__ import annotations

from ._display import (
    BASE_COLUMNS,
    cell_width,
    findings_of,
    pad,
    render_table,
    require_pandas,
    to_html,
    to_pandas,
)
from ._export import (
    CSV_COLUMNS,
    csv_rows,
    findings_table,
    require_pyarrow,
    to_csv,
    to_parquet,
)
from ._model import (
    Finding,
    Severity,
    finding_id,
)

__all__ = [
    "BASE_COLUMNS",
    "CSV_COLUMNS",
    "Finding",
    "Severity",
    "cell_width",
    "csv_rows",
    "finding_id",
    "findings_of",
    "findings_table",
    "pad",
    "render_table",
    "require_pandas",
    "require_pyarrow",
    "to_csv",
    "to_html",
    "to_pandas",
    "to_parquet",
]
