"""A progress bar for long scans, on stderr, only when stderr is a terminal (never in pipes, files, tests).

It follows the blocks the intake takes (:func:`hrguard.ingest.watch_blocks`): for a file of JSON Lines
the bytes of its lines, for a Parquet file its rows out of the rows its footer counts, so the share
done is known; for stdin only the count and the rate. Nothing shows for the first ``delay`` seconds
(a short scan never draws), it redraws at most ``every`` seconds, and the line is cleared when the
scan ends, so that what follows (the findings, the summary line) starts on a clean line.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from ..ingest import Block, is_parquet_path


def wanted(stream: TextIO) -> bool:
    """Whether to draw on ``stream``: a terminal, and not a dumb one."""
    try:
        return stream.isatty() and os.environ.get("TERM", "") != "dumb"
    except (AttributeError, ValueError):  # a closed or a fake stream
        return False


class Progress:
    """``progress(block)`` after each block taken; :meth:`close` at the end. ``paths`` are the inputs
    (``"-"`` for stdin) whose sizes make the total."""

    def __init__(self, stream: TextIO, paths: list[str], *, delay: float = 1.0, every: float = 0.2,
                 clock: Callable[[], float] = time.monotonic):
        self.stream = stream
        self.delay, self.every, self.clock = delay, every, clock
        self.sizes: dict[str, float] = {}  # source -> its weight in the total (bytes)
        self.rows: dict[str, int] = {}  # a Parquet file's rows
        for p in paths:
            if p == "-":
                continue
            self.sizes[p] = float(Path(p).stat().st_size)
            if is_parquet_path(p):
                self.rows[p] = _parquet_rows(p)
        self.total = sum(self.sizes.values()) if "-" not in paths else None
        self.done: dict[str, float] = {}  # source -> bytes done (its share of its size, for Parquet)
        self.events = 0
        self.began = clock()
        self.last = -1e9
        self.drawn = False
        self.closed = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __call__(self, block: Block) -> None:
        """Count a block taken; redraw when it is time."""
        src = block.source
        n = len(block.values)
        self.events += n
        if block.lines_are_json:
            self.done[src] = self.done.get(src, 0.0) + sum(map(len, block.values))
        elif src in self.rows and self.rows[src] > 0:
            self.done[src] = self.done.get(src, 0.0) + self.sizes[src] * n / self.rows[src]
        self.tick()

    def tick(self) -> None:
        """Redraw if it is time (after each block, and from :meth:`start`'s thread while the rules judge)."""
        with self._lock:
            now = self.clock()
            if not self.closed and now - self.began >= self.delay and now - self.last >= self.every:
                self.last = now
                self.draw(now)

    def start(self) -> Progress:
        """Keep redrawing from a daemon thread too, so the bar moves while no block arrives (the rules judging
        after everything was read)."""
        def run() -> None:
            while not self._stop.wait(self.every):
                self.tick()

        self._thread = threading.Thread(target=run, name="hrguard-progress", daemon=True)
        self._thread.start()
        return self

    def fraction(self) -> float | None:
        if not self.total:
            return None
        return min(1.0, sum(self.done.values()) / self.total)

    def line(self, now: float, width: int) -> str:
        elapsed = max(now - self.began, 1e-9)
        rate = self.events / elapsed
        head = f"{self.events:,} records, {rate:,.0f}/s"
        frac = self.fraction()
        if frac is None:
            return f"reading {head}"[:width]
        if frac >= 1:  # everything read: a plain scan's rules judge now
            return f"{self.events:,} records read; judging..."[:width]
        left = elapsed * (1 - frac) / frac if frac > 0 else None
        tail = f" {frac * 100:3.0f}% {head}" + (f", {_clock(left)} left" if left is not None and frac < 1 else "")
        room = max(0, width - len(tail) - 3)
        bar = min(room, 30)
        fill = int(round(bar * frac))
        return f"[{'#' * fill}{'.' * (bar - fill)}]{tail}"[:width] if bar >= 5 else tail.strip()[:width]

    def draw(self, now: float) -> None:
        width = shutil.get_terminal_size((80, 24)).columns - 1
        self.stream.write("\r" + self.line(now, width).ljust(width) + "\r")
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        """Stop redrawing and clear the line."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            self.closed = True
            self._clear()

    def _clear(self) -> None:
        if self.drawn:
            width = shutil.get_terminal_size((80, 24)).columns - 1
            self.stream.write("\r" + " " * width + "\r")
            self.stream.flush()
            self.drawn = False


def _clock(seconds: float) -> str:
    s = int(seconds + 0.5)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def _parquet_rows(path: str) -> int:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        return 0  # the scan itself says pyarrow is missing
    try:
        return int(pq.ParquetFile(path).metadata.num_rows)
    except (OSError, ValueError):  # not a Parquet file (pyarrow's ArrowInvalid): the scan reports it
        return 0

