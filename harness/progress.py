"""What a person sees while ``trackbench run`` works: a line per finished cell, or live bars.

``CellLines`` (stderr is a file or a pipe: CI logs) prints the run's plan, then one line per
finished cell, ``[k/N] cell: MOTA .. IDF1 .. HOTA .. (seconds) ETA ..``, and a line for a cell
still running every ``heartbeat`` seconds. ``CellBars`` (a terminal) prints the plan and shows a
rich bar over the cells (with the ETA) and one bar per running cell with its frames.
``NoProgress`` shows nothing. The runner calls them the same way.

The ETA weighs the work by frames: the frames still to track at the rate tracked so far
(``FrameClock``), so a long cell counts for more than a short one.
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


def format_duration(seconds: float) -> str:
    """``seconds`` as s, min or h."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class FrameClock:
    """The time left to a run, from the frames tracked so far: of ``total`` frames, the finished
    cells' and the running cells' done ones, since ``start``."""

    def __init__(self) -> None:
        self.total = self.finished = 0
        self.running: dict[str, tuple[int, int]] = {}  # key -> frames done, frames in all
        self.started = time.monotonic()

    def plan(self, total: int) -> None:
        self.total, self.started = total, time.monotonic()

    def cell_started(self, key: str, frames: int) -> None:
        self.running[key] = (0, frames)

    def frames_done(self, key: str, done: int) -> None:
        self.running[key] = (done, self.running.get(key, (0, done))[1])

    def cell_finished(self, key: str) -> None:
        _, frames = self.running.pop(key, (0, 0))
        self.finished += frames

    def seconds_left(self) -> float | None:
        """Seconds to the end at the rate so far (None before any frame or without a plan)."""
        done = self.finished + sum(done for done, _ in self.running.values())
        if not self.total or not done:
            return None
        return (time.monotonic() - self.started) * max(self.total - done, 0) / done

    def eta(self) -> str:
        """``ETA 12 min``, or empty while unknown."""
        left = self.seconds_left()
        return "" if left is None else f"ETA {format_duration(left)}"


class NoProgress:
    """The display the runner talks to; this one shows nothing (library use, tests)."""

    def __enter__(self) -> NoProgress:
        return self

    def __exit__(self, *exc: Any) -> None:
        pass

    def announce(self, line: str) -> None:
        """Say ``line`` of the run's plan."""

    def start(self, total: int) -> None:
        """``total`` cells are to run."""

    def planned(self, frames: int) -> None:
        """The cells to run track ``frames`` frames in all (known once their data are loaded)."""

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
        self.clock = FrameClock()
        self._running: dict[str, tuple[str, int, float]] = {}  # hash -> label, frames, last line

    def announce(self, line: str) -> None:
        self._print(line)

    def start(self, total: int) -> None:
        self.total = total

    def planned(self, frames: int) -> None:
        self.clock.plan(frames)

    def cell_started(self, key: str, label: str, frames: int) -> None:
        self._running[key] = (label, frames, time.monotonic())
        self.clock.cell_started(key, frames)

    def frames_done(self, key: str, done: int, seconds: float) -> None:
        self.clock.frames_done(key, done)
        label, frames, last = self._running[key]
        now = time.monotonic()
        if now - last >= self.heartbeat:
            self._running[key] = (label, frames, now)
            eta = self.clock.eta()
            self._print(
                f"  {label}: {done:,}/{frames:,} frames ({seconds:.0f} s)"
                + (f" {eta}" if eta else "")
            )

    def cell_finished(self, key: str, label: str, result: str, seconds: float) -> None:
        self._running.pop(key, None)
        self.clock.cell_finished(key)
        self.finished += 1
        eta = self.clock.eta() if self.finished < self.total else ""
        self._print(
            f"[{self.finished}/{self.total}] {label}: {result} ({seconds:.1f} s)"
            + (f" {eta}" if eta else "")
        )

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
        self.clock = FrameClock()

    def __enter__(self) -> CellBars:
        self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.stop()

    def announce(self, line: str) -> None:
        self.progress.console.print(line, markup=False, highlight=False)

    def start(self, total: int) -> None:
        self._cells = self.progress.add_task("cells", total=total, note="")

    def planned(self, frames: int) -> None:
        self.clock.plan(frames)

    def cell_started(self, key: str, label: str, frames: int) -> None:
        self._running[key] = self.progress.add_task(f"  {label}", total=frames, note="frames")
        self.clock.cell_started(key, frames)

    def frames_done(self, key: str, done: int, seconds: float) -> None:
        self.progress.update(self._running[key], completed=done)
        self.clock.frames_done(key, done)
        self._update_cells()

    def cell_finished(self, key: str, label: str, result: str, seconds: float) -> None:
        task = self._running.pop(key, None)
        if task is not None:
            self.progress.remove_task(task)
        self.clock.cell_finished(key)
        self._failed += result.startswith("FAILED")
        self.progress.console.print(
            f"{label}: {result} ({seconds:.1f} s)", markup=False, highlight=False
        )
        self._update_cells(advance=1)

    def _update_cells(self, advance: int = 0) -> None:
        """The cells bar's note: failures so far and the ETA."""
        note = " ".join(
            part
            for part in (f"failed: {self._failed}" if self._failed else "", self.clock.eta())
            if part
        )
        assert self._cells is not None  # set by start()
        self.progress.update(self._cells, advance=advance, note=note)
