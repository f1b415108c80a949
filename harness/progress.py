"""What a person sees while ``trackbench run`` works: a line per finished cell, or live bars.

``CellLines`` (stderr is a file or a pipe: CI logs) prints one line per finished cell, ``[k/N]
cell: MOTA .. IDF1 .. HOTA .. (seconds)``, and a line for a cell still running every
``heartbeat`` seconds. ``CellBars`` (a terminal) shows a rich bar over the cells and one bar per
running cell with its frames. ``NoProgress`` shows nothing. The runner calls them the same way.
"""

from __future__ import annotations

import time
from typing import Any, TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)


class NoProgress:
    """The display the runner talks to; this one shows nothing (library use, tests)."""

    def __enter__(self) -> NoProgress:
        return self

    def __exit__(self, *exc: Any) -> None:
        pass

    def start(self, total: int) -> None:
        """``total`` cells are to run."""

    def cell_started(self, key: str, label: str, frames: int) -> None:
        """Cell ``key`` started tracking ``frames`` frames."""

    def frames_done(self, key: str, done: int, seconds: float) -> None:
        """Cell ``key`` has tracked ``done`` frames in ``seconds``."""

    def cell_finished(self, key: str, label: str, result: str, seconds: float) -> None:
        """Cell ``key`` finished: ``result`` is its headline metrics or ``FAILED error``."""


class CellLines(NoProgress):
    """One line per finished cell on ``stream``; running cells report every ``heartbeat`` s."""

    def __init__(self, stream: TextIO, heartbeat: float = 30.0) -> None:
        self.stream, self.heartbeat = stream, heartbeat
        self.total = self.finished = 0
        self._running: dict[str, tuple[str, int, float]] = {}  # hash -> label, frames, last line

    def start(self, total: int) -> None:
        self.total = total

    def cell_started(self, key: str, label: str, frames: int) -> None:
        self._running[key] = (label, frames, time.monotonic())

    def frames_done(self, key: str, done: int, seconds: float) -> None:
        label, frames, last = self._running[key]
        now = time.monotonic()
        if now - last >= self.heartbeat:
            self._running[key] = (label, frames, now)
            self._print(f"  {label}: {done:,}/{frames:,} frames ({seconds:.0f} s)")

    def cell_finished(self, key: str, label: str, result: str, seconds: float) -> None:
        self._running.pop(key, None)
        self.finished += 1
        self._print(f"[{self.finished}/{self.total}] {label}: {result} ({seconds:.1f} s)")

    def _print(self, line: str) -> None:
        print(line, file=self.stream, flush=True)


class CellBars(NoProgress):
    """A rich bar over the cells and one bar of frames per running cell, on stderr."""

    def __init__(self, console: Console | None = None) -> None:
        self.progress = Progress(
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[note]}", markup=False),
            TimeElapsedColumn(),
            console=console or Console(stderr=True),
        )
        self._cells: TaskID | None = None
        self._running: dict[str, TaskID] = {}
        self._failed = 0

    def __enter__(self) -> CellBars:
        self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.stop()

    def start(self, total: int) -> None:
        self._cells = self.progress.add_task("cells", total=total, note="")

    def cell_started(self, key: str, label: str, frames: int) -> None:
        self._running[key] = self.progress.add_task(f"  {label}", total=frames, note="frames")

    def frames_done(self, key: str, done: int, seconds: float) -> None:
        self.progress.update(self._running[key], completed=done)

    def cell_finished(self, key: str, label: str, result: str, seconds: float) -> None:
        task = self._running.pop(key, None)
        if task is not None:
            self.progress.remove_task(task)
        self._failed += result.startswith("FAILED")
        self.progress.console.print(
            f"{label}: {result} ({seconds:.1f} s)", markup=False, highlight=False
        )
        note = f"failed: {self._failed}" if self._failed else ""
        assert self._cells is not None  # set by start()
        self.progress.update(self._cells, advance=1, note=note)
