"""The runner: expand an experiment into cells, skip finished ones, hand each to its task, store.

Before any cell runs, every cell's method config is checked (``check_config``: a missing
checkpoint fails its cells at once) and each dataset split is loaded once, as its task's units
(sequences, or single-object samples). Each cell then builds the tracker (a method whose config has
a ``seed`` key gets the cell's seed) and hands it to its task kind (``harness.tasks``), which
tracks, times, checks and scores; the tracker's ``provenance()`` (which weights ran) is stored with
the cell. A failing cell is recorded with its traceback and the sweep goes on.

Executors: in-process (``jobs=1``) or a local spawn-based process pool (``jobs>1``). Workers only
compute; the parent alone writes to the store and shows progress (workers send frame counts on a
queue). Each worker gets ``max(1, cores // jobs)`` torch and BLAS threads, so parallel cells do not
oversubscribe the CPU; the timing records say how many threads and jobs there were. Dataset splits
are loaded in the parent before the pool starts, so an on-disk cache (synthetic videos) is written
by one process only. Pool workers are fresh interpreters: they know the methods that register on
import (the ``trackers`` package and ``trackbench.trackers`` entry points), not ones registered at
run time.

Ctrl-C or SIGTERM stops the run: the cells it had not finished are marked ``interrupted`` and
``RunInterrupted`` propagates; a rerun computes them.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import queue
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from harness.datasets import load_dataset
from harness.experiment import Cell, Experiment, expand
from harness.progress import NoProgress, headline
from harness.registry import parse_method
from harness.store import Store, device_description, utc_now
from harness.tasks import task

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


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def worker_threads(jobs: int) -> int:
    """Torch and BLAS threads of each of ``jobs`` workers: the cores shared evenly."""
    return max(1, available_cores() // jobs)


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
    experiment: Experiment, store: Store, jobs: int = 1, progress: NoProgress | None = None
) -> RunSummary:
    """Run every cell of ``experiment`` not already done in ``store``; returns the summary.

    On Ctrl-C or SIGTERM the unfinished cells are marked ``interrupted`` and ``RunInterrupted``
    (a KeyboardInterrupt) is raised with the summary.
    """
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
            if jobs <= 1:
                for cell in runnable:
                    store.mark_running(cell)
                    display.cell_started(cell.config_hash, cell.label, _frames_of(cell))
                    started = time.perf_counter()

                    def on_frames(done: int, cell=cell, started=started) -> None:
                        display.frames_done(cell.config_hash, done, time.perf_counter() - started)

                    record(run_cell(cell, _throttled(on_frames)))
            else:
                _run_pool(runnable, jobs, store, record, display)
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


def _run_pool(cells: list[Cell], jobs: int, store: Store, record, display: NoProgress) -> None:
    """Compute ``cells`` in a spawn-based process pool; the parent records each outcome.

    A cell is ``running`` from the moment it is handed to the pool. A worker that dies (killed,
    out of memory) fails the cells it leaves unfinished; they are recorded, not lost. Workers
    ignore SIGINT: the parent alone stops the run, and stops them.
    """
    context = multiprocessing.get_context("spawn")
    frames = context.Queue()
    pool = ProcessPoolExecutor(
        max_workers=jobs, mp_context=context, initializer=_init_worker, initargs=(jobs, frames)
    )
    started: dict[str, float | None] = {}  # None: finished (a late frame count is dropped)
    try:
        pending = {}
        for cell in cells:
            store.mark_running(cell)
            pending[pool.submit(run_cell, cell)] = cell
        while pending:
            finished, _ = wait(pending, timeout=PROGRESS_INTERVAL, return_when=FIRST_COMPLETED)
            _show_frames(frames, display, started)
            for future in finished:
                cell = pending.pop(future)
                try:
                    outcome = future.result()
                except Exception as exc:  # the worker died
                    outcome = _failure(cell, exc, utc_now())
                started[cell.config_hash] = None
                record(outcome)
    except BaseException:
        _stop_workers(pool)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        frames.close()


def _show_frames(frames, display: NoProgress, started: dict[str, float | None]) -> None:
    """Hand the frame counts the workers sent to the display (``started``: when each cell's
    first count came, None once it finished)."""
    while True:
        try:
            key, label, done, total = frames.get_nowait()
        except queue.Empty:
            return
        if key not in started:
            started[key] = time.perf_counter()
            display.cell_started(key, label, total)
        if started[key] is not None:
            display.frames_done(key, done, time.perf_counter() - started[key])


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """Terminate the pool's worker processes (their cells are marked interrupted)."""
    workers = list((getattr(pool, "_processes", None) or {}).values())  # shutdown forgets them
    for process in workers:
        process.terminate()
    for process in workers:
        process.join()
    pool.shutdown(wait=False, cancel_futures=True)


def _init_worker(jobs: int, frames) -> None:
    """A pool worker: its share of the cores for torch and BLAS, SIGINT left to the parent, and
    tqdm (used by Hugging Face ``datasets``) on a thread lock: its default process-shared lock
    is a named semaphore that a worker terminated by a stopped run would leak."""
    import threadpoolctl
    import torch
    import tqdm

    tqdm.tqdm.set_lock(threading.RLock())
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threads = worker_threads(jobs)
    torch.set_num_threads(threads)
    threadpoolctl.threadpool_limits(threads)
    _WORKER.update(jobs=jobs, progress=frames)


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
