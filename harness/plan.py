"""What a run will do, said before it does it: its cells, the paper tables it serves, the data it
will generate and cache, the frames it will track and how long that should take.

``plan_run`` needs no data loaded (cache sizes come from the cards' parameters);
``estimate`` follows once the splits are loaded and every cell's frame count is known. The time
estimate divides each cell's frames by its method's measured throughput: frames per second of
whole cells (tracking, scoring, loading) already done in the results database on the same device.
Methods never run there have no estimate until their first cell finishes (the live ETA then
weighs the remaining frames by the rate seen so far).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from harness.cell import dataset_key
from harness.checkpoints import checkpoint_files
from harness.datasets import load_card, load_dataset
from harness.detection_sources import source_folder
from harness.errors import TrackbenchError
from harness.experiment import Cell, expand, load_experiment
from harness.papers import paper_tables, tables_for
from harness.progress import format_duration
from harness.registry import adapter, parse_method


@dataclass(frozen=True)
class CacheWrite:
    """A generated split the run will write to the cache first."""

    dataset: str
    split: str
    axes: str
    bytes: int


@dataclass(frozen=True)
class RunPlan:
    """The cells of a run, what they serve and the data they will cache."""

    experiment: str
    cells: int
    todo: int
    tables: tuple[str, ...]
    cache: tuple[CacheWrite, ...]
    reruns: tuple[str, ...] = ()  # why each done cell is computed again

    @property
    def cache_bytes(self) -> int:
        return sum(write.bytes for write in self.cache)

    def lines(self) -> list[str]:
        """The plan in a few lines of text."""
        reruns = (
            f" ({len(self.reruns)} re-run: {count_reasons(self.reruns)})" if self.reruns else ""
        )
        lines = [f"{self.experiment}: {self.cells} cells, {self.todo} to run{reruns}"]
        if self.tables:
            lines.append(f"  paper tables served: {', '.join(self.tables)}")
        if self.cache:
            splits = len(self.cache)
            lines.append(
                f"  generates and caches {splits} split{'s' * (splits > 1)} first: "
                f"about {format_bytes(self.cache_bytes)} ($TRACKBENCH_CACHE, or the dataset root)"
            )
        return lines


@dataclass(frozen=True)
class Estimate:
    """Frames to track and the time they should take (``seconds``: of the estimated part)."""

    frames: int
    seconds: float
    jobs: int
    unestimated: tuple[str, ...]  # method:ablation with no throughput measured yet

    def line(self) -> str:
        """The estimate in one line."""
        line = f"  {self.frames:,} frames to track"
        if self.seconds:
            line += f", about {format_duration(self.seconds / self.jobs)}"
            if self.jobs > 1:
                line += f" on {self.jobs} jobs"
        if self.unestimated:
            line += f" (no timing yet of {', '.join(self.unestimated)})"
        return line


def plan_run(
    experiment: str, cells: list[Cell], todo: list[Cell], reruns: dict[str, str] | None = None
) -> RunPlan:
    """The plan of running ``todo`` out of an experiment's ``cells``; ``reruns`` says why each
    done cell among them is computed again (by config hash)."""
    keys = pd.DataFrame([cell.key for cell in cells]) if cells else pd.DataFrame()
    tables = tuple(table.id for table in tables_for(keys)) if cells else ()
    why = tuple((reruns or {}).values())
    return RunPlan(experiment, len(cells), len(todo), tables, _cache_writes(todo), why)


def count_reasons(reasons: Iterable[str]) -> str:
    """Reasons counted, in order of first appearance: ``2 code changed, 1 forced by --rerun``."""
    return ", ".join(f"{n} {reason}" for reason, n in Counter(reasons).items())


def estimate(
    todo: list[Cell],
    frames_of: Callable[[Cell], int],
    throughput: dict[tuple[str, str], float],
    jobs: int = 1,
) -> Estimate:
    """The frames of ``todo`` and the seconds they should take at ``throughput`` (frames per
    second of a whole cell, by method and ablation), ``jobs`` cells at a time."""
    frames = seconds = 0.0
    unestimated: dict[str, None] = {}
    for cell in todo:
        count = frames_of(cell)
        frames += count
        rate = throughput.get((cell.method, cell.ablation))
        if rate:
            seconds += count / rate
        else:
            unestimated[cell.method_ref] = None
    return Estimate(int(frames), seconds, jobs, tuple(unestimated))


def _cache_writes(cells: list[Cell]) -> tuple[CacheWrite, ...]:
    """The generated splits the cells read that are not cached yet."""
    writes, seen = [], set()
    for cell in cells:
        key = dataset_key(cell)
        if key in seen:
            continue
        seen.add(key)
        try:
            adapter = load_dataset(cell.dataset, cell.root, **cell.dataset_params)
            size = 0 if adapter.cached(cell.split) else adapter.cache_bytes(cell.split)
        except TrackbenchError:  # its inputs are missing: its cells fail at loading, saying why
            continue
        if size:
            writes.append(CacheWrite(cell.dataset, cell.split, cell.axes_label, size))
    return tuple(writes)


def format_bytes(count: float) -> str:
    """``count`` bytes as kB, MB or GB (decimal units)."""
    for unit in ("bytes", "kB", "MB"):
        if count < 1000:
            return f"{count:.0f} {unit}" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1000
    return f"{count:.1f} GB"


@dataclass(frozen=True)
class TableNeeds:
    """What reproducing one paper table takes (``trackbench reproduce --help``, the README)."""

    tables: tuple[str, ...]  # the ids served by one experiment
    experiment: str  # its file, relative to the working directory
    cells: int
    obtain: tuple[str, ...]  # datasets to obtain (their cards say from where)
    generated: tuple[tuple[str, str], ...]  # datasets generated here, with their inputs
    checkpoints: int  # checkpoint files the methods read
    missing: int  # of those, the ones not there (to train first)
    device: str
    cache_bytes: int

    @property
    def laptop(self) -> bool:
        """Runs on a laptop as shipped: on the CPU, no dataset to obtain, every checkpoint there,
        at most 10 GB of cache."""
        return (
            not self.device.startswith("cuda")
            and not self.obtain
            and not self.missing
            and self.cache_bytes <= 10e9
        )

    def lines(self) -> list[str]:
        """What the tables need, in three lines."""
        data = [f"obtain {name}" for name in self.obtain]
        for inputs, names in _by_inputs(self.generated).items():
            data.append(f"{', '.join(names)} generated" + (f" from {inputs}" if inputs else ""))
        checkpoints = f"{self.checkpoints} checkpoint{'s' * (self.checkpoints > 1)}" + (
            f" ({self.missing} to train first)" if self.missing else ""
        )
        cache = f", caches {format_bytes(self.cache_bytes)}" if self.cache_bytes else ""
        return [
            f"{', '.join(self.tables)}: {self.experiment}, {self.cells} cells on {self.device}"
            f"{cache}; laptop: {'yes' if self.laptop else 'no'}",
            f"  data: {'; '.join(data)}",
            f"  methods: {checkpoints}" if self.checkpoints else "  methods: no checkpoints",
        ]


def table_needs(directory: str | Path | None = None) -> list[TableNeeds]:
    """What each experiment that reproduces paper tables needs, in table order."""
    by_experiment: dict[Path, list[str]] = {}
    for table in paper_tables(directory).values():
        if table.experiment is not None:
            by_experiment.setdefault(table.experiment_path().resolve(), []).append(table.id)
    return [_needs(path, tables) for path, tables in by_experiment.items()]


def _needs(path: Path, tables: list[str]) -> TableNeeds:
    experiment = load_experiment(path, check_methods=False)
    cells = expand(experiment)
    obtain: dict[str, None] = {}
    generated: dict[tuple[str, str], None] = {}
    checkpoints: set[str] = set()
    cache, seen = 0, set()
    for name in dict.fromkeys(cell.dataset for cell in cells):
        card = load_card(name)
        if getattr(adapter(card["adapter"]), "generated", False):
            generated[name, ", ".join(card.get("layout") or {})] = None
        else:
            obtain[name] = None
    for cell in cells:
        folder = source_folder((cell.detection_source or {}).get("source", ""))
        if folder is not None and not folder.is_dir():
            obtain[f"detections {os.path.relpath(folder)}"] = None
        spec, _ = parse_method(cell.method_ref)
        paths = (cell.method_config[key] for key in spec.path_config & set(cell.method_config))
        checkpoints |= {path for path in paths if path is not None}
        if dataset_key(cell) not in seen:
            seen.add(dataset_key(cell))
            dataset = load_dataset(cell.dataset, cell.root, **cell.dataset_params)
            cache += dataset.cache_bytes(cell.split)
    return TableNeeds(
        tables=tuple(tables),
        experiment=os.path.relpath(path),
        cells=len(cells),
        obtain=tuple(obtain),
        generated=tuple(generated),
        checkpoints=len(checkpoints),
        missing=sum(not checkpoint_files(name)[0].is_file() for name in checkpoints),
        device=experiment.timing.device,
        cache_bytes=cache,
    )


def _by_inputs(generated: tuple[tuple[str, str], ...]) -> dict[str, list[str]]:
    """Generated datasets grouped by the inputs they are generated from."""
    groups: dict[str, list[str]] = {}
    for name, inputs in generated:
        groups.setdefault(inputs, []).append(name)
    return groups
