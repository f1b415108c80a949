"""Where cells are computed: in this process, in a local process pool, or as Ray tasks.

An executor gets the runnable cells, the runner's ``record(outcome)`` callback, the store (to
mark a cell ``running`` when it is handed out) and the progress display. Every executor computes
a cell with ``harness.cell.run_cell`` and hands the outcome to ``record`` in this process: the
store is written by this process alone, so resuming and stopping work the same whatever computes
the cells. A stopped run (KeyboardInterrupt) stops the executor's workers and propagates.

- ``InProcess``: one cell after another here, with frame progress.
- ``LocalPool(jobs)``: a spawn-based process pool of ``jobs`` workers, each with
  ``max(1, cores // jobs)`` torch and BLAS threads; workers send frame counts on a queue.
- ``RayTasks(cpus, address)``: one Ray task per cell asking ``cpus`` CPUs, which are its torch
  and BLAS threads; Ray runs as many side by side as the cluster's CPUs allow. Progress is one
  line per finished cell (no frame counts).
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

from harness.cell import (
    PROGRESS_INTERVAL,
    CellOutcome,
    WorkerContext,
    failure,
    frames_of,
    run_cell,
    throttled,
)
from harness.errors import TrackbenchError
from harness.experiment import Cell
from harness.progress import NoProgress
from harness.store import Store, utc_now

Record = Callable[[CellOutcome], None]

_POOL_WORKER = WorkerContext()
"""In a ``LocalPool`` worker process: its context, set once by ``_init_worker``."""


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

    parallel: int
    """Cells computed at once, as far as known here (the plan's time estimate divides by it)."""

    def run(self, cells: list[Cell], record: Record, store: Store, display: NoProgress) -> None:
        """Compute ``cells``, calling ``record`` with each outcome as it comes."""


def make_executor(name: str, jobs: int = 1, address: str | None = None) -> Executor:
    """The executor ``trackbench run --executor NAME --jobs JOBS [--address ADDRESS]`` uses."""
    if name == "ray":
        return RayTasks(jobs, address)
    if name != "local":
        raise TrackbenchError(f"unknown executor {name!r} (known: local, ray)")
    if address is not None:
        raise TrackbenchError("--address is the Ray cluster of --executor ray")
    return InProcess() if jobs <= 1 else LocalPool(jobs)


class InProcess:
    """Cells one after another in this process."""

    parallel = 1

    def run(self, cells: list[Cell], record: Record, store: Store, display: NoProgress) -> None:
        for cell in cells:
            store.mark_running(cell)
            display.cell_started(cell.config_hash, cell.label, frames_of(cell))
            started = time.perf_counter()

            def on_frames(done: int, cell=cell, started=started) -> None:
                display.frames_done(cell.config_hash, done, time.perf_counter() - started)

            record(run_cell(cell, on_frames=throttled(on_frames)))


class LocalPool:
    """Cells in a spawn-based pool of ``jobs`` worker processes.

    A cell is ``running`` from the moment it is handed to the pool. A worker that dies (killed,
    out of memory) fails the cells it leaves unfinished; they are recorded, not lost. Workers
    ignore SIGINT: the parent alone stops the run, and stops them. Workers are fresh
    interpreters: they know the methods that register on import (the ``trackers`` package and
    ``trackbench.trackers`` entry points), not ones registered at run time.
    """

    def __init__(self, jobs: int) -> None:
        self.parallel = jobs

    def run(self, cells: list[Cell], record: Record, store: Store, display: NoProgress) -> None:
        context = multiprocessing.get_context("spawn")
        frames = context.Queue()
        pool = ProcessPoolExecutor(
            max_workers=self.parallel,
            mp_context=context,
            initializer=_init_worker,
            initargs=(self.parallel, frames),
        )
        started: dict[str, float | None] = {}  # None: finished (a late frame count is dropped)
        try:
            pending = {}
            for cell in cells:
                store.mark_running(cell)
                pending[pool.submit(_run_cell_in_pool, cell)] = cell
            while pending:
                finished, _ = wait(pending, timeout=PROGRESS_INTERVAL, return_when=FIRST_COMPLETED)
                _show_frames(frames, display, started)
                for future in finished:
                    cell = pending.pop(future)
                    try:
                        outcome = future.result()
                    except Exception as exc:  # the worker died
                        outcome = failure(cell, exc, utc_now())
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
        start = started[key]
        if start is not None:
            display.frames_done(key, done, time.perf_counter() - start)


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
    global _POOL_WORKER
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _use_threads(worker_threads(jobs))
    _POOL_WORKER = WorkerContext(jobs=jobs, progress=frames)


def _run_cell_in_pool(cell: Cell) -> CellOutcome:
    """A pool worker's cell, in the context its initializer set."""
    return run_cell(cell, _POOL_WORKER)


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


class RayTasks:
    """Each cell a Ray task asking ``cpus`` CPUs; ``address`` (default ``$RAY_ADDRESS``) names an
    existing cluster (``auto``, ``ray://HOST:10001``), else a local one sized to this machine is
    started and shut down after the run. Where Ray is already initialized in this process, the
    run uses it.

    A task that raises, or whose worker dies, is a failed cell with its error (no retries: a
    cell that kills its worker would kill it again). Stopping the run cancels the outstanding
    tasks, killing their workers. Ray's workers must import trackbench and read the datasets at
    the paths this machine uses.
    """

    def __init__(self, cpus: int, address: str | None = None) -> None:
        try:
            import ray
        except ImportError:
            raise TrackbenchError(
                "--executor ray needs Ray: pip install 'trackbench[ray]'"
                " (in a checkout: pip install -e '.[ray]')"
            ) from None
        self.cpus, self.address = cpus, address or os.environ.get("RAY_ADDRESS")
        cores = available_cores()
        self.parallel = 1 if self.address else max(1, cores // cpus)  # a cluster's is unknown
        if self.address is None and not ray.is_initialized() and cpus > cores:
            raise TrackbenchError(
                f"--jobs {cpus}: a Ray task of {cpus} CPUs does not fit on this machine's"
                f" {cores} cores"
            )

    def run(self, cells: list[Cell], record: Record, store: Store, display: NoProgress) -> None:
        import ray

        if not cells:
            return
        started_here = not ray.is_initialized()
        try:
            if started_here:
                self._connect()
            task = ray.remote(num_cpus=self.cpus, max_retries=0)(_run_cell_on_ray)
            pending = {}
            for cell in cells:
                store.mark_running(cell)
                pending[task.remote(cell, self.cpus)] = cell
            try:
                while pending:
                    finished, _ = ray.wait(list(pending), timeout=PROGRESS_INTERVAL)
                    for ref in finished:
                        record(_ray_outcome(ref, pending.pop(ref)))
            except BaseException:
                for ref in pending:
                    ray.cancel(ref, force=True)
                raise
        finally:
            if started_here:
                ray.shutdown()

    def _connect(self) -> None:
        """Join the cluster at ``address``, or start a local one of this machine's cores.
        ``ray.init`` sets its own SIGTERM handler: the runner's (stop the run) is put back."""
        import ray

        sigterm = signal.getsignal(signal.SIGTERM)
        if self.address is None:
            ray.init(num_cpus=available_cores(), include_dashboard=False)
        else:
            try:
                ray.init(address=self.address)
            except ConnectionError as exc:
                raise TrackbenchError(f"Ray cluster {self.address}: {exc}") from None
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, sigterm)


def _run_cell_on_ray(cell: Cell, cpus: int) -> CellOutcome:
    """A Ray task: the cell computed with ``cpus`` threads; its timing records count as jobs
    the tasks of this size that fit side by side on this node."""
    import ray

    node = ray.get_runtime_context().get_node_id()
    node_cpus = next(n["Resources"]["CPU"] for n in ray.nodes() if n["NodeID"] == node)
    _use_threads(cpus)
    return run_cell(cell, WorkerContext(jobs=max(1, int(node_cpus // cpus))))


def _ray_outcome(ref, cell: Cell) -> CellOutcome:
    """The outcome a finished task returned, or a failed one for a task that raised (its
    cause's error and the remote traceback) or whose worker died."""
    import ray

    try:
        return ray.get(ref)
    except ray.exceptions.RayError as exc:
        return failure(cell, getattr(exc, "cause", None) or exc, utc_now())
