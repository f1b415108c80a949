"""The runner: expand an experiment into cells, skip finished ones, hand each to its task, store.

A cell is finished when a done result of its key has its config hash, i.e. its identity
(``Cell.identity``: config, tracker code, checkpoint files, dataset card and generator). A done
result of another hash is stale: the cell is computed again and replaces it, and the summary and
the store (``rerun``) say which part changed; ``rerun`` (``METHOD[:ABLATION]``) and ``force``
compute finished cells again too.

A run first says its plan (``harness.plan``: cells, paper tables served, data to generate and
cache; once the data are loaded, frames to track and the time that should take). Before any cell
runs, every cell's method config is checked (``check_config``: a missing
checkpoint fails its cells at once) and each dataset split is loaded once, as its task's units
(sequences, or single-object samples); a file detection source must then hold a well-formed file
for each of its split's sequences (else a ``FormatError`` stops the run). Each cell then
(``harness.cell``) builds the tracker (a method whose config has a ``seed`` key gets the cell's
seed) and hands it to its task kind (``harness.tasks``), which tracks, times, checks and scores;
the tracker's ``provenance()`` (which weights ran) is stored with the cell. A failing cell is
recorded with its traceback and the sweep goes on. A test split's cell is tracked, not scored: its
submission zip is written beside the results database (``submission_path``), the cell is stored
``submitted`` with that path, and the run ends by listing the zips it wrote.

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

import re
import signal
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.cell import SUBMITTED, CellOutcome, dataset_key, failure, frames_of, units_of
from harness.checkpoints import atomic_write
from harness.detection_sources import check_sequences
from harness.errors import ConfigError, FormatError, did_you_mean
from harness.executors import Executor, make_executor
from harness.experiment import Cell, Experiment, changed_parts, expand
from harness.plan import estimate, plan_run
from harness.progress import NoProgress
from harness.provenance import device_description
from harness.registry import parse_method
from harness.store import Store, key_of, utc_now
from harness.tasks import REID


@dataclass
class RunSummary:
    experiment: str
    run_id: int
    total: int
    skipped: int
    done: int = 0
    failed: list[CellOutcome] = field(default_factory=list)
    interrupted: int = 0
    reruns: dict[str, str] = field(default_factory=dict)
    """Why cells (by config hash) with a done result were computed again."""
    submitted: list[Path] = field(default_factory=list)
    """The submission zips written for test splits' cells (tracked, not scored)."""


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM stopped a run; ``summary`` says what it finished and interrupted."""

    def __init__(self, summary: RunSummary) -> None:
        super().__init__(f"{summary.experiment}: {summary.interrupted} cells interrupted")
        self.summary = summary


def run_experiment(
    experiment: Experiment,
    store: Store,
    jobs: int = 1,
    progress: NoProgress | None = None,
    executor: Executor | None = None,
    rerun: Collection[str] = (),
    force: bool = False,
) -> RunSummary:
    """Run every cell of ``experiment`` not already done in ``store``; returns the summary.
    The cells are computed by ``executor`` (default: the local one for ``jobs``). Done cells are
    computed again when their identity changed, when ``rerun`` names their method
    (``METHOD[:ABLATION]``; a ConfigError if no cell has it) or with ``force``.

    On Ctrl-C or SIGTERM the unfinished cells are marked ``interrupted`` and ``RunInterrupted``
    (a KeyboardInterrupt) is raised with the summary.
    """
    executor = executor or make_executor("local", jobs)
    cells = expand(experiment)
    todo, reruns = to_compute(cells, store.done_identities(experiment.name), rerun, force)
    device = device_description(experiment.timing.device)
    run_id = store.start_run(experiment.name, device, experiment.description)
    summary = RunSummary(
        experiment.name, run_id, total=len(cells), skipped=len(cells) - len(todo), reruns=reruns
    )
    store.add_pending(run_id, todo, reruns)
    display = progress or NoProgress()

    def record(outcome: CellOutcome) -> None:
        result = outcome.describe()
        if outcome.submission is not None:
            path = submission_path(store, outcome.cell)
            path.parent.mkdir(parents=True, exist_ok=True)
            archive = outcome.submission
            atomic_write(path, lambda file: file.write(archive))
            store.record_submitted(
                outcome.cell,
                path,
                outcome.timings,
                outcome.started,
                outcome.provenance,
                outcome.frames,
            )
            summary.submitted.append(path)
            result = f"{result}: {path}"
        elif outcome.error is None:
            assert outcome.evaluation is not None  # set on success
            store.record_done(
                outcome.cell,
                outcome.evaluation,
                outcome.timings,
                outcome.started,
                outcome.provenance,
                outcome.frames,
            )
            summary.done += 1
        else:
            store.record_failed(outcome.cell, outcome.error, outcome.traceback, outcome.started)
            summary.failed.append(outcome)
        display.cell_finished(outcome.cell.config_hash, outcome.cell.label, result, outcome.seconds)

    try:
        with _signals_interrupt(), display:
            for line in plan_run(experiment.name, cells, todo, reruns).lines():
                display.announce(line)
            display.start(len(todo))
            runnable = _load_datasets(_check_configs(todo, record), record)
            rates = store.throughput(device)
            forecast = estimate(runnable, frames_of, rates, executor.parallel)
            display.announce(forecast.line())
            display.planned(forecast.frames)
            executor.run(runnable, record, store, display)
            for path in summary.submitted:
                display.announce(f"{SUBMITTED}: {path}")
    except KeyboardInterrupt:
        summary.interrupted = store.mark_interrupted(run_id)
        raise RunInterrupted(summary) from None
    finally:
        store.finish_run(run_id)
    return summary


def submission_path(store: Store, cell: Cell) -> Path:
    """Where a test split's cell writes its submission zip: ``submissions/<experiment>/
    <dataset>-<split>[-<axes>]/<method>[-<ablation>]-<detections>-seed<k>.zip`` beside the
    results database (each part a file name, other characters as ``_``)."""
    where = "-".join(part for part in (cell.dataset, cell.split, cell.axes_label) if part)
    ablation = "" if cell.ablation == "default" else f"-{cell.ablation}"
    name = f"{cell.method}{ablation}-{cell.detections}-seed{cell.seed}"
    parts = ("submissions", cell.experiment, where, name)
    *folders, stem = [re.sub(r"[^\w.=+-]+", "_", part).lstrip(".") or "_" for part in parts]
    return store.path.parent.joinpath(*folders, f"{stem}.zip")


def to_compute(
    cells: list[Cell],
    done: dict[tuple, tuple[str, dict[str, Any]]],
    rerun: Collection[str] = (),
    force: bool = False,
) -> tuple[list[Cell], dict[str, str]]:
    """The cells to compute, given the ``done`` ones (``Store.done_identities``), and why those
    with a done result are computed again, by config hash: the parts of their identity that
    changed (``changed_parts``), or ``--rerun`` / ``--force``."""
    _check_rerun(cells, rerun)
    done_hashes = {config_hash for config_hash, _ in done.values()}
    todo, reasons = [], {}
    for cell in cells:
        stored = done.get(key_of(cell))
        if stored is not None and stored[0] != cell.config_hash:
            parts = changed_parts(stored[1], cell.identity())
            reasons[cell.config_hash] = f"{', '.join(parts)} changed"
        elif cell.config_hash in done_hashes:
            if force:
                reasons[cell.config_hash] = "forced by --force"
            elif any(_names(ref, cell) for ref in rerun):
                reasons[cell.config_hash] = "forced by --rerun"
            else:
                continue
        todo.append(cell)
    return todo, reasons


def _names(ref: str, cell: Cell) -> bool:
    """Whether ``METHOD[:ABLATION]`` reference ``ref`` names ``cell``'s method (a bare method
    names every ablation of it)."""
    method, _, ablation = ref.partition(":")
    return cell.method == method and ablation in ("", cell.ablation)


def _check_rerun(cells: list[Cell], rerun: Collection[str]) -> None:
    """A ConfigError for a ``--rerun`` reference that names no cell's method."""
    for ref in rerun:
        if not any(_names(ref, cell) for cell in cells):
            known = sorted({c.method for c in cells} | {c.method_ref for c in cells})
            raise ConfigError(
                f"--rerun {ref!r}: the experiment runs no such method" + did_you_mean(ref, known)
            )


def _check_configs(cells: list[Cell], record) -> list[Cell]:
    """Cells whose tracker class loads, as registered, and whose method config passes its
    ``check_config``; the others are recorded failed before anything runs (e.g. a missing
    checkpoint)."""
    runnable = []
    for cell in cells:
        spec, _ = parse_method(cell.method_ref)
        try:
            check = getattr(spec.factory, "check_config", None)
            if check is not None:
                check(cell.method_config)
        except Exception as exc:
            record(failure(cell, exc, utc_now()))
        else:
            runnable.append(cell)
    return runnable


def _load_datasets(cells: list[Cell], record) -> list[Cell]:
    """Load each dataset split once here; cells whose split fails to load are recorded failed.
    A malformed data file (``FormatError``, e.g. a sample whose first box is empty, or a file
    detection source without a well-formed file for a sequence) and a split without images for a
    method that takes them are input errors: they stop the run before any cell is computed."""
    runnable, broken, checked = [], {}, set()
    for cell in cells:
        key = dataset_key(cell)
        if key not in broken:
            try:
                units = units_of(cell)
            except FormatError:
                raise
            except Exception as exc:
                broken[key] = failure(cell, exc, utc_now())
            else:
                _check_images(cell, units)
                source = cell.detection_source
                if source is not None and (key, *source.values()) not in checked:
                    check_sequences(source, units)
                    checked.add((key, *source.values()))
        if key in broken:
            failed = broken[key]
            record(
                CellOutcome(cell, failed.started, error=failed.error, traceback=failed.traceback)
            )
        else:
            runnable.append(cell)
    return runnable


def _check_images(cell: Cell, units: list[Any]) -> None:
    """A ConfigError when ``cell``'s method takes images (or embeds boxes: a reid cell) and a
    sequence of its split has none."""
    if cell.task != REID and "image" not in parse_method(cell.method_ref)[0].inputs:
        return
    uses = "embeds boxes in images" if cell.task == REID else "tracks images"
    for unit in units:
        sequence = getattr(unit, "sequence", unit)
        if getattr(sequence, "load_frame", True) is None:
            raise ConfigError(
                f"{cell.dataset} {cell.split}: sequence {sequence.name} has no images, and"
                f" {cell.method_ref} {uses}"
            )


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
