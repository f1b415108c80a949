"""The runner: expand an experiment into cells, skip finished ones, hand each to its task, store.

Before any cell runs, every cell's method config is checked (``check_config``: a missing
checkpoint fails its cells at once) and each dataset split is loaded once, as its task's units
(sequences, or single-object samples). Each cell then builds the tracker (a method whose config has
a ``seed`` key gets the cell's seed) and hands it to its task kind (``harness.tasks``), which
tracks, times, checks and scores; the tracker's ``provenance()`` (which weights ran) is stored with
the cell. A failing cell is recorded with its traceback and the sweep goes on.

Executors (``harness.executors``): in-process (``jobs=1``), a local spawn-based process pool
(``jobs>1``) or Ray tasks. They only compute; this process alone writes to the store and shows
progress. Each parallel cell gets its share of the cores as torch and BLAS threads, so parallel
cells do not oversubscribe the CPU; the timing records say how many threads and jobs there were.
Dataset splits are loaded here before any executor starts, so an on-disk cache (synthetic videos)
is written by one process only.

Ctrl-C or SIGTERM stops the run: the cells it had not finished are marked ``interrupted`` and
``RunInterrupted`` propagates; a rerun computes them.
"""

from __future__ import annotations

import json
import signal
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from harness.datasets import load_dataset
from harness.experiment import Cell, Experiment, expand
from harness.progress import NoProgress, headline
from harness.registry import parse_method
from harness.store import Store, device_description, utc_now
from harness.tasks import task

if TYPE_CHECKING:
    from harness.executors import Executor

PROGRESS_INTERVAL = 0.5
"""Seconds between two frame counts a cell reports while it runs."""

_UNITS: dict[tuple, list[Any]] = {}
_WORKER: dict[str, Any] = {"jobs": 1, "progress": None}
"""This process's executor settings: worker processes side by side, and where frame counts go."""


@dataclass
class CellOutcome:
    """What a worker sends back: the evaluation, timings and the tracker's provenance, or the
    error and its traceback."""

    cell: Cell
    started: str
    evaluation: dict[str, Any] | None = None
    timings: dict[str, dict[str, Any]] = field(default_factory=dict)
    provenance: dict[str, Any] | None = None
    error: str | None = None
    traceback: str | None = None
    seconds: float = 0.0

    def describe(self) -> str:
        """The result in a few words: the headline metrics, or the error."""
        if self.error is not None:
            return f"FAILED {self.error}"
        return headline(self.evaluation["combined"])


@dataclass
class RunSummary:
    experiment: str
    run_id: int
    total: int
    skipped: int
    done: int = 0
    failed: list[CellOutcome] = field(default_factory=list)
    interrupted: int = 0


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM stopped a run; ``summary`` says what it finished and interrupted."""

    def __init__(self, summary: RunSummary) -> None:
        super().__init__(f"{summary.experiment}: {summary.interrupted} cells interrupted")
        self.summary = summary


def units_of(cell: Cell) -> list[Any]:
    """The cell's dataset split as its task's units (sequences or samples), loaded once per
    process."""
    key = _dataset_key(cell)
    if key not in _UNITS:
        adapter = load_dataset(cell.dataset, cell.root, **cell.dataset_params)
        _UNITS[key] = task(cell.task).load(adapter, cell.split)
    return _UNITS[key]


def _dataset_key(cell: Cell) -> tuple:
    params = json.dumps(cell.dataset_params, sort_keys=True)
    return (cell.task, cell.dataset, cell.split, cell.root, params)


def run_cell(cell: Cell, on_frames: Callable[[int], None] | None = None) -> CellOutcome:
    """Compute one cell; any exception becomes a failed outcome with its traceback.
    ``on_frames(frames done)`` follows the tracking (all sequences of the cell together)."""
    started, clock = utc_now(), time.perf_counter()
    try:
        evaluation, timings, provenance = _track_and_evaluate(
            cell, on_frames or _queue_reporter(cell)
        )
    except Exception as exc:  # a failing cell is data, not a crash of the sweep
        outcome = _failure(cell, exc, started)
    else:
        outcome = CellOutcome(
            cell, started, evaluation=evaluation, timings=timings, provenance=provenance
        )
    outcome.seconds = time.perf_counter() - clock
    return outcome


def _failure(cell: Cell, exc: Exception, started: str) -> CellOutcome:
    """A failed outcome for the exception being handled."""
    return CellOutcome(
        cell, started, error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc()
    )


def _track_and_evaluate(
    cell: Cell, on_frames: Callable[[int], None] | None
) -> tuple[dict[str, Any], dict[str, dict[str, Any]], dict[str, Any] | None]:
    """The cell's evaluation, timing records and tracker provenance (its task does the work)."""
    spec, _ = parse_method(cell.method_ref)
    seed = {"seed": cell.seed} if "seed" in spec.config else {}
    tracker = spec.factory(**{**cell.method_config, **seed})
    evaluation, timings = task(cell.task).run(cell, tracker, units_of(cell), on_frames)
    timings = {name: {**record, "jobs": _WORKER["jobs"]} for name, record in timings.items()}
    return evaluation, timings, tracker.provenance()


def run_experiment(
    experiment: Experiment,
    store: Store,
    jobs: int = 1,
    progress: NoProgress | None = None,
    executor: Executor | None = None,
) -> RunSummary:
    """Run every cell of ``experiment`` not already done in ``store``; returns the summary.
    The cells are computed by ``executor`` (default: the local one for ``jobs``).

    On Ctrl-C or SIGTERM the unfinished cells are marked ``interrupted`` and ``RunInterrupted``
    (a KeyboardInterrupt) is raised with the summary.
    """
    from harness.executors import make_executor  # the executors run this module's run_cell

    executor = executor or make_executor("local", jobs)
    cells = expand(experiment)
    finished = store.done_hashes(experiment.name)
    todo = [cell for cell in cells if cell.config_hash not in finished]
    run_id = store.start_run(
        experiment.name, device_description(experiment.timing.device), experiment.description
    )
    summary = RunSummary(experiment.name, run_id, total=len(cells), skipped=len(cells) - len(todo))
    store.add_pending(run_id, todo)
    display = progress or NoProgress()

    def record(outcome: CellOutcome) -> None:
        if outcome.error is None:
            store.record_done(
                outcome.cell,
                outcome.evaluation,
                outcome.timings,
                outcome.started,
                outcome.provenance,
            )
            summary.done += 1
        else:
            store.record_failed(outcome.cell, outcome.error, outcome.traceback, outcome.started)
            summary.failed.append(outcome)
        display.cell_finished(
            outcome.cell.config_hash, outcome.cell.label, outcome.describe(), outcome.seconds
        )

    try:
        with _signals_interrupt(), display:
            display.start(len(todo))
            runnable = _load_datasets(_check_configs(todo, record), record)
            executor.run(runnable, record, store, display)
    except KeyboardInterrupt:
        summary.interrupted = store.mark_interrupted(run_id)
        raise RunInterrupted(summary) from None
    finally:
        store.finish_run(run_id)
    return summary


def _check_configs(cells: list[Cell], record) -> list[Cell]:
    """Cells whose method config passes the tracker's ``check_config``; the others are recorded
    failed before anything runs (e.g. a missing checkpoint)."""
    runnable = []
    for cell in cells:
        spec, _ = parse_method(cell.method_ref)
        check = getattr(spec.factory, "check_config", None)
        try:
            if check is not None:
                check(cell.method_config)
        except Exception as exc:
            record(_failure(cell, exc, utc_now()))
        else:
            runnable.append(cell)
    return runnable


def _load_datasets(cells: list[Cell], record) -> list[Cell]:
    """Load each dataset split once here; cells whose split fails to load are recorded failed."""
    runnable, broken = [], {}
    for cell in cells:
        key = _dataset_key(cell)
        if key not in broken:
            try:
                units_of(cell)
            except Exception as exc:
                broken[key] = _failure(cell, exc, utc_now())
        if key in broken:
            failure = broken[key]
            record(
                CellOutcome(cell, failure.started, error=failure.error, traceback=failure.traceback)
            )
        else:
            runnable.append(cell)
    return runnable


def _frames_of(cell: Cell) -> int:
    return task(cell.task).frames(units_of(cell))


def _queue_reporter(cell: Cell) -> Callable[[int], None] | None:
    """In a pool worker: a throttled sender of the cell's frame counts to the parent."""
    frames = _WORKER["progress"]
    if frames is None:
        return None
    total = _frames_of(cell)
    frames.put((cell.config_hash, cell.label, 0, total))
    return _throttled(lambda done: frames.put((cell.config_hash, cell.label, done, total)))


def _throttled(report: Callable[[int], None]) -> Callable[[int], None]:
    """``report`` called at most every ``PROGRESS_INTERVAL`` seconds."""
    last = [0.0]

    def call(done: int) -> None:
        now = time.monotonic()
        if now - last[0] >= PROGRESS_INTERVAL:
            last[0] = now
            report(done)

    return call


@contextmanager
def _signals_interrupt() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt here, as Ctrl-C does (main thread only)."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread: signals stay as they are
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
