"""The runner: expand an experiment into cells, skip finished ones, track, check, evaluate, store.

Each cell loads its dataset split (sequences are cached per process), makes oracle detections from
the ground truth with the cell's seed when its variant has noise levels, builds the tracker (a
method whose config has a ``seed`` key gets the cell's seed), tracks every sequence with
``harness.timing.timed_track``, checks the output with ``check_result`` and evaluates it with the
experiment's protocol; the tracker's ``provenance()`` (which weights ran) is stored with the
cell. A failing cell is recorded with its traceback and the sweep goes on.

Executors: in-process (``jobs=1``) or a local spawn-based process pool (``jobs>1``). Workers only
compute; the parent alone writes to the store. Dataset splits are loaded once in the parent before
the pool starts, so an on-disk cache (synthetic videos) is written by one process only. Pool
workers are fresh interpreters: they know the methods that register on import (the ``trackers``
package and ``trackbench.trackers`` entry points), not ones registered at run time.
"""

from __future__ import annotations

import json
import multiprocessing
import traceback
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from harness.data import Sequence
from harness.datasets import load_dataset
from harness.detectors import OracleNoise, oracle_detections
from harness.experiment import Cell, Experiment, expand
from harness.metrics import evaluate
from harness.protocol import check_result
from harness.registry import parse_method
from harness.store import Store, device_description, utc_now
from harness.timing import timed_track

_SEQUENCES: dict[tuple, list[Sequence]] = {}


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


@dataclass
class RunSummary:
    run_id: int
    total: int
    skipped: int
    done: int = 0
    failed: list[CellOutcome] = field(default_factory=list)


def sequences_of(cell: Cell) -> list[Sequence]:
    """The cell's dataset split, loaded once per process."""
    key = _dataset_key(cell)
    if key not in _SEQUENCES:
        adapter = load_dataset(cell.dataset, cell.root, **cell.dataset_params)
        _SEQUENCES[key] = adapter.sequences(cell.split)
    return _SEQUENCES[key]


def _dataset_key(cell: Cell) -> tuple:
    return (cell.dataset, cell.split, cell.root, json.dumps(cell.dataset_params, sort_keys=True))


def run_cell(cell: Cell) -> CellOutcome:
    """Compute one cell; any exception becomes a failed outcome with its traceback."""
    started = utc_now()
    try:
        evaluation, timings, provenance = _track_and_evaluate(cell)
    except Exception as exc:  # a failing cell is data, not a crash of the sweep
        return _failure(cell, exc, started)
    return CellOutcome(cell, started, evaluation=evaluation, timings=timings, provenance=provenance)


def _failure(cell: Cell, exc: Exception, started: str) -> CellOutcome:
    """A failed outcome for the exception being handled."""
    return CellOutcome(
        cell, started, error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc()
    )


def _track_and_evaluate(
    cell: Cell,
) -> tuple[dict[str, Any], dict[str, dict[str, Any]], dict[str, Any] | None]:
    """The cell's evaluation, per-sequence timing records and tracker provenance."""
    spec, _ = parse_method(cell.method_ref)
    seed = {"seed": cell.seed} if "seed" in spec.config else {}
    tracker = spec.factory(**{**cell.method_config, **seed})
    gt, predictions, num_frames, timings = {}, {}, {}, {}
    for sequence in sequences_of(cell):
        if not sequence.meta.get("has_gt", True):
            raise ValueError(
                f"sequence {sequence.name} has no ground truth (a test split): only the"
                " benchmark's server can score it"
            )
        detections = None
        if cell.noise is not None:
            detections = oracle_detections(sequence, OracleNoise(**cell.noise), cell.seed)
        result, record = timed_track(
            tracker, sequence, detections, warmup_frames=cell.warmup_frames, device=cell.device
        )
        check_result(result, sequence.num_frames)
        gt[sequence.name] = sequence.gt
        predictions[sequence.name] = result
        num_frames[sequence.name] = sequence.num_frames
        timings[sequence.name] = asdict(record)
    evaluation = evaluate(gt, predictions, protocol=cell.protocol, num_frames=num_frames)
    return evaluation, timings, tracker.provenance()


def run_experiment(
    experiment: Experiment, store: Store, jobs: int = 1, progress: bool = True
) -> RunSummary:
    """Run every cell of ``experiment`` not already done in ``store``; returns the summary."""
    cells = expand(experiment)
    finished = store.done_hashes(experiment.name)
    todo = [cell for cell in cells if cell.config_hash not in finished]
    run_id = store.start_run(experiment.name, device_description(experiment.timing.device))
    summary = RunSummary(run_id=run_id, total=len(cells), skipped=len(cells) - len(todo))
    store.add_pending(run_id, todo)
    with _progress(progress) as bar:
        task = bar.add_task(experiment.name, total=len(todo), failed=0)

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
            bar.update(task, advance=1, failed=len(summary.failed))

        runnable = _load_datasets(todo, record)
        if jobs <= 1:
            for cell in runnable:
                store.mark_running(cell)
                record(run_cell(cell))
        else:
            _run_pool(runnable, jobs, store, record)
    store.finish_run(run_id)
    return summary


def _load_datasets(cells: list[Cell], record) -> list[Cell]:
    """Load each dataset split once here; cells whose split fails to load are recorded failed."""
    runnable, broken = [], {}
    for cell in cells:
        key = _dataset_key(cell)
        if key not in broken:
            try:
                sequences_of(cell)
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


def _run_pool(cells: list[Cell], jobs: int, store: Store, record) -> None:
    """Compute ``cells`` in a spawn-based process pool; the parent records each outcome.

    A cell is ``running`` from the moment it is handed to the pool. A worker that dies (killed,
    out of memory) fails the cells it leaves unfinished; they are recorded, not lost.
    """
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        pending = {}
        try:
            for cell in cells:
                store.mark_running(cell)
                pending[pool.submit(run_cell, cell)] = cell
            while pending:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    cell = pending.pop(future)
                    try:
                        outcome = future.result()
                    except Exception as exc:  # the worker died
                        outcome = _failure(cell, exc, utc_now())
                    record(outcome)
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def _progress(enabled: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("failed: {task.fields[failed]}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=not enabled,
    )
