"""Where cells are computed: in this process or in a local process pool.

An executor gets the runnable cells, the runner's ``record(outcome)`` callback, the store (to
mark a cell ``running`` when it is handed out) and the progress display. Every executor computes
a cell with ``harness.runner.run_cell`` and hands the outcome to ``record`` in this process: the
store is written by this process alone, so resuming and stopping work the same whatever computes
the cells. A stopped run (KeyboardInterrupt) stops the executor's workers and propagates.

- ``InProcess``: one cell after another here, with frame progress.
- ``LocalPool(jobs)``: a spawn-based process pool of ``jobs`` workers, each with
  ``max(1, cores // jobs)`` torch and BLAS threads; workers send frame counts on a queue.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Protocol

from harness.errors import TrackbenchError
from harness.experiment import Cell
from harness.progress import NoProgress
from harness.runner import (
    _WORKER,
    PROGRESS_INTERVAL,
    CellOutcome,
    _failure,
    _frames_of,
    _throttled,
    run_cell,
)
from harness.store import Store, utc_now

Record = Callable[[CellOutcome], None]


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def worker_threads(jobs: int) -> int:
    """Torch and BLAS threads of each of ``jobs`` workers: the cores shared evenly."""
    return max(1, available_cores() // jobs)


class Executor(Protocol):
    """What the runner hands the runnable cells to."""

    def run(self, cells: list[Cell], record: Record, store: Store, display: NoProgress) -> None:
        """Compute ``cells``, calling ``record`` with each outcome as it comes."""


def make_executor(name: str, jobs: int = 1) -> Executor:
    """The executor ``trackbench run --jobs JOBS`` uses."""
    if name != "local":
        raise TrackbenchError(f"unknown executor {name!r} (known: local)")
    return InProcess() if jobs <= 1 else LocalPool(jobs)


class InProcess:
    """Cells one after another in this process."""

    def run(self, cells: list[Cell], record: Record, store: Store, display: NoProgress) -> None:
        for cell in cells:
            store.mark_running(cell)
            display.cell_started(cell.config_hash, cell.label, _frames_of(cell))
            started = time.perf_counter()

            def on_frames(done: int, cell=cell, started=started) -> None:
                display.frames_done(cell.config_hash, done, time.perf_counter() - started)

            record(run_cell(cell, _throttled(on_frames)))


class LocalPool:
    """Cells in a spawn-based pool of ``jobs`` worker processes.

    A cell is ``running`` from the moment it is handed to the pool. A worker that dies (killed,
    out of memory) fails the cells it leaves unfinished; they are recorded, not lost. Workers
    ignore SIGINT: the parent alone stops the run, and stops them. Workers are fresh
    interpreters: they know the methods that register on import (the ``trackers`` package and
    ``trackbench.trackers`` entry points), not ones registered at run time.
    """

    def __init__(self, jobs: int) -> None:
        self.jobs = jobs

    def run(self, cells: list[Cell], record: Record, store: Store, display: NoProgress) -> None:
        context = multiprocessing.get_context("spawn")
        frames = context.Queue()
        pool = ProcessPoolExecutor(
            max_workers=self.jobs,
            mp_context=context,
            initializer=_init_worker,
            initargs=(self.jobs, frames),
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
    """A pool worker: its share of the cores, SIGINT left to the parent, frame counts to
    ``frames``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _use_threads(worker_threads(jobs))
    _WORKER.update(jobs=jobs, progress=frames)


def _use_threads(threads: int) -> None:
    """``threads`` torch and BLAS threads in this worker process, and tqdm (used by Hugging
    Face ``datasets``) on a thread lock: its default process-shared lock is a named semaphore
    that a worker killed by a stopped run would leak."""
    import threadpoolctl
    import torch
    import tqdm

    tqdm.tqdm.set_lock(threading.RLock())
    torch.set_num_threads(threads)
    threadpoolctl.threadpool_limits(threads)
