"""Running one cell: build its tracker, hand it to its task kind, return the outcome.

Whatever computes a cell (the runner's executors: in this process, a pool worker, a Ray task)
calls ``run_cell`` with a ``WorkerContext`` saying how many cells run side by side (recorded with
the timings) and where frame counts go. A failing cell is an outcome with its error and
traceback, never an exception; a test split's cell is an outcome with the zip of its submission
(``harness.tasks.multi_object.SubmissionResult``) and no evaluation. Each process loads a dataset
split once (``units_of``).
"""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness.datasets import load_dataset
from harness.experiment import Cell
from harness.metrics.catalogue import headline
from harness.registry import parse_method
from harness.store import utc_now
from harness.tasks import TaskResult, task
from harness.tasks.multi_object import SubmissionResult

SUBMITTED = "submitted, not scored"
"""What a test split's cell is: tracked, its submission written, never scored here."""
PROGRESS_INTERVAL = 0.5
"""Seconds between two frame counts a cell reports while it runs."""

_UNITS: dict[tuple, list[Any]] = {}


@dataclass(frozen=True)
class WorkerContext:
    """Where a cell runs: ``jobs`` cells side by side (each timing record says so), and
    ``progress``, a queue taking ``(config hash, label, frames done, frames in all)`` for the
    parent process (None: nobody is told; in-process cells report through ``on_frames``)."""

    jobs: int = 1
    progress: Any = None


IN_PROCESS = WorkerContext()
"""The context of cells computed in the process that runs the sweep."""


@dataclass
class CellOutcome:
    """What a worker sends back: the evaluation (or a test split's ``submission``, the zip's
    bytes), timings, the tracker's provenance and the frames tracked, or the error and its
    traceback."""

    cell: Cell
    started: str
    evaluation: dict[str, Any] | None = None
    timings: dict[str, dict[str, Any]] = field(default_factory=dict)
    provenance: dict[str, Any] | None = None
    frames: int = 0
    error: str | None = None
    traceback: str | None = None
    seconds: float = 0.0
    submission: bytes | None = None

    def describe(self) -> str:
        """The result in a few words: the headline metrics (and the task's notes), the error, or
        that it was tracked for a submission."""
        if self.error is not None:
            return f"FAILED {self.error}"
        if self.submission is not None:
            return SUBMITTED
        assert self.evaluation is not None  # set on success
        return "; ".join([headline(self.evaluation["combined"]), *self.evaluation.get("notes", [])])


def run_cell(
    cell: Cell,
    context: WorkerContext = IN_PROCESS,
    on_frames: Callable[[int], None] | None = None,
) -> CellOutcome:
    """Compute one cell; any exception becomes a failed outcome with its traceback.
    ``on_frames(frames done)`` follows the tracking (all sequences of the cell together); without
    it, frame counts go to ``context.progress``, if any."""
    started, clock = utc_now(), time.perf_counter()
    try:
        result, timings, provenance = _track_and_evaluate(
            cell, context, on_frames or _queue_reporter(cell, context.progress)
        )
    except Exception as exc:  # a failing cell is data, not a crash of the sweep
        outcome = failure(cell, exc, started)
    else:
        archive = result.archive if isinstance(result, SubmissionResult) else None
        outcome = CellOutcome(
            cell,
            started,
            evaluation=result.evaluation if archive is None else None,
            timings=timings,
            provenance=provenance,
            frames=frames_of(cell),
            submission=archive,
        )
    outcome.seconds = time.perf_counter() - clock
    return outcome


def failure(cell: Cell, exc: Exception, started: str) -> CellOutcome:
    """A failed outcome for the exception being handled."""
    return CellOutcome(
        cell, started, error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc()
    )


def _track_and_evaluate(
    cell: Cell, context: WorkerContext, on_frames: Callable[[int], None] | None
) -> tuple[TaskResult, dict[str, dict[str, Any]], dict[str, Any] | None]:
    """The cell's task result, timing records and tracker provenance (its task does the
    work)."""
    spec, _ = parse_method(cell.method_ref)
    seed = {"seed": cell.seed} if "seed" in spec.config else {}
    tracker = spec.factory(**{**cell.method_config, **seed})
    result = task(cell.task).run(cell, tracker, units_of(cell), on_frames)
    timings = {name: {**record, "jobs": context.jobs} for name, record in result.timings.items()}
    return result, timings, tracker.provenance()


def units_of(cell: Cell) -> list[Any]:
    """The cell's dataset split as its task's units (sequences or samples), loaded once per
    process."""
    key = dataset_key(cell)
    if key not in _UNITS:
        adapter = load_dataset(cell.dataset, cell.root, **cell.dataset_params)
        _UNITS[key] = task(cell.task).load(adapter, cell.split)
    return _UNITS[key]


def dataset_key(cell: Cell) -> tuple:
    """What identifies the cell's loaded split: cells with the same key share its units."""
    params = json.dumps(cell.dataset_params, sort_keys=True)
    return (cell.task, cell.dataset, cell.split, cell.root, params)


def frames_of(cell: Cell) -> int:
    """How many frames tracking the cell takes (its progress total)."""
    return task(cell.task).frames(units_of(cell))


def _queue_reporter(cell: Cell, frames: Any) -> Callable[[int], None] | None:
    """A throttled sender of the cell's frame counts on the queue ``frames`` (None: none)."""
    if frames is None:
        return None
    total = frames_of(cell)
    frames.put((cell.config_hash, cell.label, 0, total))
    return throttled(lambda done: frames.put((cell.config_hash, cell.label, done, total)))


def throttled(report: Callable[[int], None]) -> Callable[[int], None]:
    """``report`` called at most every ``PROGRESS_INTERVAL`` seconds."""
    last = [0.0]

    def call(done: int) -> None:
        now = time.monotonic()
        if now - last[0] >= PROGRESS_INTERVAL:
            last[0] = now
            report(done)

    return call
