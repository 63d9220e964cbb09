"""The notebook's plots: a sweep's trade-off, and a distribution of anomaly scores (matplotlib, the ``plot`` extra).

Conventions, as pandas' and seaborn's plots: each function draws into ``ax`` (or a new figure) and
returns the :class:`~matplotlib.axes.Axes` it drew in, never the ``Figure``. Jupyter shows a figure
once, when the cell ends; a returned ``Figure`` would be shown a second time as the cell's value.
The figure is ``ax.figure``. Legends sit outside the data (right of the axes), so they never hide it;
given axes, make their figure with ``layout="constrained"`` so that it leaves room for the legend.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import InvalidArgumentError, MissingExtraError
from ..findings import Finding, findings_of


def pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise MissingExtraError("matplotlib", "plot") from exc
    return plt


def rows_of(table: Any) -> list[dict[str, Any]]:
    """The rows of a table: a DataFrame (its index levels become columns too) or a list of dicts."""
    if hasattr(table, "to_dict") and hasattr(table, "columns"):
        if any(n is not None for n in getattr(table.index, "names", [None])):
            table = table.reset_index()
        return table.to_dict("records")
    return [dict(r) for r in table]


def is_number(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _axes(plt: Any, ax: Any, size: tuple[float, float]) -> tuple[Any, Any, bool]:
    """``(figure, axes, made)``: a new constrained-layout figure when ``ax`` is None."""
    if ax is not None:
        return ax.figure, ax, False
    fig, ax = plt.subplots(figsize=size, layout="constrained")
    return fig, ax, True


def _legend_outside(fig: Any, ax: Any, handles: list[Any], labels: list[str], made: bool, gap: float = 0.03) -> None:
    """The legend right of the axes (``gap``: past a right-hand axis' labels). On a figure made here, the
    figure's constrained layout makes room for it; on given axes, give their figure ``layout="constrained"``
    (``plt.subplots(..., layout="constrained")``) and it makes room too."""
    if made:
        fig.legend(handles, labels, loc="outside right upper", fontsize="small", frameon=False)
    else:
        ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.0 + gap, 1.0), borderaxespad=0.0,
                  fontsize="small", frameon=False)


def plot_sweep(table: Any, *, ax: Any = None, title: str | None = None, logx: bool | None = None) -> Any:
    """Plot a sweep table: alerts and false alerts (left axis), recall and the honest-flagged share
    (right axis) per value. Returns the ``Axes`` (the left one; ``ax.figure`` is the figure).

    Numeric values are placed on a numeric axis, logarithmic when ``logx`` (``None``: when every
    value is positive and the largest is at least 20 times the smallest, as in a geometric grid);
    other values (``"auto"`` among numbers, say) one per tick in the table's order.
    """
    plt = pyplot()
    rows = rows_of(table)
    if not rows:
        raise InvalidArgumentError("table", "an empty sweep table: nothing to plot")
    missing = [c for c in ("value", "alerts", "recall", "false_alarm_rate") if c not in rows[0]]
    if missing:
        raise InvalidArgumentError("table", f"not a sweep table: no column(s) {', '.join(missing)}")
    values = [r["value"] for r in rows]
    numeric = all(is_number(v) for v in values)
    positive = numeric and all(v > 0 for v in values)
    if logx and not positive:
        raise InvalidArgumentError("logx", "a logarithmic axis needs every value to be a positive number")
    if logx is None:
        logx = positive and max(values) >= 20 * min(values)
    xs = [float(v) for v in values] if numeric else list(range(len(values)))
    fig, ax, made = _axes(plt, ax, (8, 4))
    ax.plot(xs, [r["alerts"] for r in rows], "o-", color="tab:gray", label="alerts")
    if "false_alerts" in rows[0]:
        ax.plot(xs, [r["false_alerts"] for r in rows], "s--", color="tab:orange", label="false alerts")
    ax.set_ylabel("alerts")
    ax.set_xlabel(str(rows[0].get("param", "value")) + (" (log scale)" if logx else ""))
    if logx:
        ax.set_xscale("log")
        ax.set_xticks(xs)
        ax.set_xticklabels([f"{v:g}" for v in values], rotation=45 if len(values) > 6 else 0)
        ax.minorticks_off()
    if not numeric:
        ax.set_xticks(xs)
        ax.set_xticklabels([str(v) for v in values])
    right = ax.twinx()

    def nz(v: Any) -> float:
        return float("nan") if v is None else float(v)

    right.plot(xs, [nz(r["recall"]) for r in rows], "o-", color="tab:green", label="recall")
    right.plot(xs, [nz(r["false_alarm_rate"]) for r in rows], "^-", color="tab:red", label="honest flagged (share)")
    right.set_ylim(-0.02, 1.05)
    right.set_ylabel("share")
    lines = ax.get_legend_handles_labels()
    more = right.get_legend_handles_labels()
    _legend_outside(fig, ax, lines[0] + more[0], lines[1] + more[1], made, gap=0.15)
    ax.set_title(title or f"{rows[0].get('rule', '')}: {rows[0].get('param', '')}".strip(": "))
    return ax


def _scores_of(data: Any, threshold: float | None, marked: Sequence[bool] | None,
               names: tuple[str, str] | None) -> tuple[list[float], float | None, Sequence[bool] | None, Any]:
    if hasattr(data, "findings") or (isinstance(data, (list, tuple)) and data and isinstance(data[0], Finding)):
        fs = [f for f in findings_of(data) if isinstance(f.details.get("score"), (int, float))]
        if not fs:
            raise InvalidArgumentError("data", "no finding has a score in its details (scores come from "
                                               "outlier.isolation_forest)")
        if threshold is None:
            thr = [f.details.get("threshold") for f in fs if isinstance(f.details.get("threshold"), (int, float))]
            threshold = float(min(thr)) if thr else None
        return [float(f.details["score"]) for f in fs], threshold, marked, names
    if (hasattr(data, "columns") and "score" in data.columns) or (
            isinstance(data, (list, tuple)) and data and isinstance(data[0], Mapping)):
        rows = rows_of(data)
        if "score" not in rows[0]:
            raise InvalidArgumentError("data", "a table of scores needs a 'score' column")
        if threshold is None and rows[0].get("threshold") is not None:
            threshold = float(rows[0]["threshold"])
        if marked is None and rows[0].get("misconduct") is not None:
            marked = [bool(r["misconduct"]) for r in rows]
            names = names or ("others", "during misconduct")
        return [float(r["score"]) for r in rows], threshold, marked, names
    return [float(s) for s in data], threshold, marked, names


def plot_scores(data: Any, *, threshold: float | None = None, marked: Sequence[bool] | None = None, bins: int = 30,
                ax: Any = None, title: str | None = None, names: tuple[str, str] | None = None,
                density: bool = False, logy: bool = False) -> Any:
    """A histogram of anomaly scores, with the threshold as a vertical line. Returns the ``Axes``.

    ``data`` is an ``outlier_scores`` table (its ``threshold``, and its ``misconduct`` column as
    ``marked``), a :class:`~hrguard.ScanResult` or list of findings (the ``score`` in each finding's
    ``details``: only vectors that fired), or a sequence of numbers. ``marked`` (one flag per score)
    draws the marked scores (say, misconduct) in red; ``names`` labels the two (default
    ``("others", "during misconduct")`` for a table, ``("unmarked", "marked")`` otherwise).

    Three views: counts, the marked stacked on the others (the default); ``density=True``, each group
    scaled to an area of 1 and overlaid, so a few dozen marked vectors among thousands show their
    shape; ``logy=True``, counts on a logarithmic axis, overlaid, so a bar of 3 is as visible as a
    bar of 3,000.
    """
    plt = pyplot()
    scores, threshold, marked, names = _scores_of(data, threshold, marked, names)
    if not scores:
        raise InvalidArgumentError("data", "no scores to plot")
    if marked is not None and len(marked) != len(scores):
        raise InvalidArgumentError("marked", f"{len(marked)} flags for {len(scores)} scores (give one per score)")
    fig, ax, made = _axes(plt, ax, (8, 4))
    lo, hi = min(scores), max(scores)
    if threshold is not None:
        lo, hi = min(lo, threshold), max(hi, threshold)
    edges = [lo + (hi - lo) * i / bins for i in range(bins + 1)] if hi > lo else bins
    overlaid = density or logy
    if marked is None:
        ax.hist(scores, bins=edges, color="tab:blue", alpha=0.8, density=density, log=logy,
                label=f"{len(scores)} scores")
    else:
        plain = [s for s, m in zip(scores, marked) if not m]
        hit = [s for s, m in zip(scores, marked) if m]
        a, b = names or ("unmarked", "marked")
        if overlaid:
            for group, color, label, kind in ((plain, "tab:blue", f"{a} ({len(plain)})", "stepfilled"),
                                              (hit, "tab:red", f"{b} ({len(hit)})", "step")):
                if group:
                    ax.hist(group, bins=edges, color=color, alpha=0.5 if kind == "stepfilled" else 1.0,
                            histtype=kind, linewidth=2, density=density, log=logy, label=label)
        else:
            ax.hist([plain, hit], bins=edges, stacked=True, color=["tab:blue", "tab:red"], alpha=0.8,
                    label=[f"{a} ({len(plain)})", f"{b} ({len(hit)})"])
    if threshold is not None:
        ax.axvline(threshold, color="black", linestyle="--", label=f"threshold {threshold:.3f}")
    ax.set_xlabel("anomaly score (higher is more abnormal)")
    ax.set_ylabel("density (each group's area is 1)" if density else
                  "vectors (log scale)" if logy else "vectors")
    ax.set_title(title or "anomaly scores")
    handles, labels = ax.get_legend_handles_labels()
    _legend_outside(fig, ax, handles, labels, made)
    if logy and not density:
        ax.set_ylim(bottom=0.5)
    if math.isfinite(lo) and math.isfinite(hi) and hi > lo:
        ax.set_xlim(lo - (hi - lo) * 0.02, hi + (hi - lo) * 0.02)
    return ax
