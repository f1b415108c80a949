"""A run as a person meets it: paths relative to the experiment file, progress on stderr, cells
that cannot run failing first, Ctrl-C/SIGTERM marking cells interrupted, threads per worker."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import pytest
import torch
from experiment_helpers import SMALL_SPRITES
from paths import ROOT, TESTS
from rich.console import Console

from harness import registry
from harness.data import TrackOutput
from harness.executors import _init_worker, worker_threads
from harness.experiment import load_experiment
from harness.progress import CellBars, CellLines, NoProgress
from harness.protocol import MultiObjectTracker
from harness.runner import run_experiment
from harness.store import Store
from trackers.tba import TBATracker


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def smoke_checkpoint(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("models") / "tba" / "last"
    TBATracker(smoke=True).save(path)
    return path


# ----------------------------------------------------------------------------- relative paths


def test_relative_paths_resolve_against_the_experiment_file(tmp_path, monkeypatch):
    path = write(
        tmp_path / "exps" / "e.yaml",
        """\
name: paths
datasets:
  - {name: mnist-mot, split: eval, root: ../cache, params: {mnist_dir: ../mnist}}
methods:
  - {method: "tba:TBA", config: {checkpoint: ../models/TBA/last}}
  - {method: "tba:TBAc", config: {checkpoint: /abs/TBAc/last}}
""",
    )
    monkeypatch.chdir(ROOT)  # anywhere but the experiment's folder
    experiment = load_experiment(path, check_methods=False)  # the checkpoints need not exist
    entry = experiment.datasets[0]
    assert entry.root == str(tmp_path / "cache")
    assert entry.params["mnist_dir"] == str(tmp_path / "mnist")
    checkpoints = [m.config["checkpoint"] for m in experiment.methods]
    assert checkpoints == [str(tmp_path / "models" / "TBA" / "last"), "/abs/TBAc/last"]


def test_run_from_another_folder_finds_the_experiments_checkpoint(
    tmp_path, monkeypatch, trackbench, smoke_checkpoint
):
    """``cd /tmp && trackbench run <repo>/experiments/x.yaml`` tracks with x's checkpoint."""
    models = tmp_path / "project" / "models"
    for suffix in (".pt", ".json"):
        (models / "TBA").mkdir(parents=True, exist_ok=True)
        source = smoke_checkpoint.with_name(smoke_checkpoint.name + suffix)
        (models / "TBA" / f"last{suffix}").write_bytes(source.read_bytes())
    path = write(
        tmp_path / "project" / "experiments" / "e.yaml",
        """\
name: elsewhere
datasets:
  - {name: sprites-mot, split: eval, root: ../cache, params: {eval_frames: 30}}
methods:
  - {method: "tba:TBA", config: {checkpoint: ../models/TBA/last, smoke: true}}
""",
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    code, _, err = trackbench("run", path, "--out", "out", "--no-report")
    assert code == 0, err
    assert (tmp_path / "project" / "cache").is_dir()  # the dataset root, relative to the file
    with Store(elsewhere / "out" / "results.sqlite", create=False) as store:
        (provenance,) = store.provenance_frame("elsewhere")["provenance"]
    assert provenance["checkpoint"] == str(models / "TBA" / "last")


# ----------------------------------------------------------------------------- progress


class Recorder(NoProgress):
    """Every display event, in order."""

    def __init__(self) -> None:
        self.events: list[tuple] = []

    def cell_started(self, key, label, frames):
        self.events.append(("started", label, frames))

    def frames_done(self, key, done, seconds):
        self.events.append(("frames", done))

    def cell_finished(self, key, label, result, seconds):
        self.events.append(("finished", label, result))


def test_cells_that_cannot_run_fail_before_any_cell_starts(tmp_path):
    """A checkpoint gone between loading the experiment (which refuses a missing one) and the
    run fails its cells first."""
    methods = 'ground-truth, {method: "tba:TBA", config: {checkpoint: missing/last}}'
    path = write(
        tmp_path / "e.yaml", SMALL_SPRITES.format(root=tmp_path / "cache", methods=methods)
    )
    display = Recorder()
    with Store(tmp_path / "r.sqlite") as store:
        experiment = load_experiment(path, check_methods=False)
        summary = run_experiment(experiment, store, progress=display)
    assert summary.done == 1 and len(summary.failed) == 1
    first = display.events[0]
    assert first[:2] == ("finished", "sprites-mot/eval/none tba:TBA seed 0")
    assert "TBA checkpoint not found" in first[2] and str(tmp_path / "missing") in first[2]
    assert display.events[1] == ("started", "sprites-mot/eval/none ground-truth:default seed 0", 40)


def test_online_cells_report_frames_while_they_run(tmp_path, monkeypatch):
    monkeypatch.setattr("harness.cell.PROGRESS_INTERVAL", 0.0)
    path = write(tmp_path / "e.yaml", SMALL_SPRITES.format(root=tmp_path / "cache", methods="sort"))
    display = Recorder()
    with Store(tmp_path / "r.sqlite") as store:
        run_experiment(load_experiment(path), store, progress=display)
    frames = [event[1] for event in display.events if event[0] == "frames"]
    assert frames == list(range(1, 41))
    assert display.events[-1][2].startswith("MOTA ")


@pytest.fixture
def mislabelled(monkeypatch) -> None:
    """A method registered unlike its class (SORT takes detections): its cells fail first."""
    registry.load_plugins()
    monkeypatch.setattr(registry, "_METHODS", dict(registry._METHODS))
    registry.register_method(
        "mislabelled", "trackers.baselines.sort:SORT", {}, kind="multi-object", inputs={"image"}
    )


def test_lines_say_each_finished_cell_with_its_headline(tmp_path, trackbench, mislabelled):
    methods = "ground-truth, sort, mislabelled"
    path = write(
        tmp_path / "e.yaml", SMALL_SPRITES.format(root=tmp_path / "cache", methods=methods)
    )
    code, _, err = trackbench("run", path, "--out", tmp_path / "out", "--no-report")
    assert code == 1
    lines = err.splitlines()
    # the plan: cells, the data to generate and cache first; then what runs
    assert lines[0].startswith("small: 3 cells, 3 to run")
    assert lines[1].startswith("  generates and caches 1 split first: about 2.0 MB")
    assert lines[2].startswith(
        "[1/3] sprites-mot/eval/none mislabelled:default seed 0: FAILED ConfigError: "
    )
    assert lines[3].startswith("trackbench: sprites-mot: generating and caching the 40-frame")
    assert "(128x128x3, about 2 MB) in " + str(tmp_path / "cache" / "sprites-mot") in lines[3]
    assert lines[4].startswith("trackbench: sprites-mot: cached ")
    assert lines[5].startswith("  80 frames to track (no timing yet of ground-truth:default")
    finished = [line for line in lines if line.startswith(("[2/3]", "[3/3]"))]
    assert [line.split(": ")[0] for line in finished] == [
        "[2/3] sprites-mot/eval/none ground-truth:default seed 0",
        "[3/3] sprites-mot/eval/clean sort:default seed 0",
    ]
    assert "MOTA 100.0% IDF1 100.0% HOTA 100.0% (" in finished[0]
    # the second use of the split reads the cache silently
    code, _, err = trackbench("run", path, "--out", tmp_path / "out2", "--no-report")
    assert "generating" not in err


def test_lines_heartbeat_for_a_long_cell():
    stream = io.StringIO()
    lines = CellLines(stream, heartbeat=0.0)
    lines.start(2)
    lines.cell_started("k", "a cell", 10_000)
    lines.frames_done("k", 4_000, 62.4)
    lines.cell_finished("k", "a cell", "MOTA 50.0%", 150.0)
    assert stream.getvalue().splitlines() == [
        "  a cell: 4,000/10,000 frames (62 s)",
        "[1/2] a cell: MOTA 50.0% (150.0 s)",
    ]


def test_bars_show_the_running_cell_and_its_frames():
    console = Console(file=io.StringIO(), force_terminal=True, width=120)
    with CellBars(console) as bars:
        bars.start(2)
        bars.cell_started("k", "sprites-mot/eval/none tba:TBA seed 0", 10_000)
        bars.frames_done("k", 2_500, 10.0)
        bars.progress.refresh()
        live = console.file.getvalue()
        bars.cell_finished("k", "sprites-mot/eval/none tba:TBA seed 0", "MOTA 23.9%", 40.0)
    assert "tba:TBA seed 0" in live and "2500/10000" in live and "0/2" in live
    assert "sprites-mot/eval/none tba:TBA seed 0: MOTA 23.9% (40.0 s)" in console.file.getvalue()


# ----------------------------------------------------------------------------- interruption


class SlowTracker(MultiObjectTracker):
    """Reports nothing, slowly when $SLOW_STEP says so (seconds per frame)."""

    def reset(self, info):
        self.delay = float(os.environ.get("SLOW_STEP", "0"))

    def step(self, frame):
        time.sleep(self.delay)
        return TrackOutput.empty()


STOPPED = """\
import sys
from harness import registry
from harness.cli import main
from test_run_lifecycle import SlowTracker

registry.register_method("slow", SlowTracker, {})  # pool workers import this file too
if __name__ == "__main__":
    main(sys.argv[1:])
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    "stop, jobs", [(signal.SIGTERM, 1), (signal.SIGINT, 1), (signal.SIGTERM, 2)]
)
def test_a_stopped_run_marks_unfinished_cells_interrupted_and_resumes(
    tmp_path, trackbench, stop, jobs, monkeypatch
):
    methods = "ground-truth, slow"
    path = write(
        tmp_path / "e.yaml", SMALL_SPRITES.format(root=tmp_path / "cache", methods=methods)
    )
    path.write_text(path.read_text().replace("seeds: [0]", "seeds: [0, 1]"))
    script = write(tmp_path / "stopped.py", STOPPED)
    out = tmp_path / "out"
    env = {
        **os.environ,
        "SLOW_STEP": "0.5",
        "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), str(TESTS), str(ROOT)]),
    }
    process = subprocess.Popen(
        [sys.executable, str(script), "run", str(path), "--out", str(out), "--jobs", str(jobs)],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen = []
    for line in process.stderr:  # wait until the ground-truth cells are done
        seen.append(line)
        if line.startswith("[2/4]"):
            break
    time.sleep(1.0)  # the slow cell is running
    process.send_signal(stop)
    _, rest = process.communicate(timeout=60)
    assert process.returncode == 130, "".join(seen) + rest
    assert "0 failed, 2 interrupted" in rest
    assert "leaked" not in rest  # the workers a stopped pool terminates leave nothing behind
    assert f"trackbench report --db {out / 'results.sqlite'}" in rest
    with Store(out / "results.sqlite", create=False) as store:
        statuses = store.cells("small").set_index(["method", "seed"])["status"].to_dict()
    assert statuses == {
        ("ground-truth", 0): "done",
        ("ground-truth", 1): "done",
        ("slow", 0): "interrupted",
        ("slow", 1): "interrupted",
    }
    assert not (out / "leaderboard.md").exists()  # no board is written for a stopped run

    code, _, err = trackbench("report", "--db", out / "results.sqlite", "--out", out)
    assert code == 0, err
    board = (out / "leaderboard.md").read_text(encoding="utf-8")
    assert "ground-truth" in board and "interrupted" in board

    registry.register_method("slow", SlowTracker, {})  # the rerun, in this process
    monkeypatch.setenv("SLOW_STEP", "0")
    with Store(out / "results.sqlite") as store:
        summary = run_experiment(load_experiment(path), store)
        assert set(store.cells("small")["status"]) == {"done"}
    assert (summary.skipped, summary.done, summary.failed) == (2, 2, [])


# ----------------------------------------------------------------------------- threads


def test_pool_cells_record_their_threads_and_jobs(tmp_path):
    path = write(tmp_path / "e.yaml", SMALL_SPRITES.format(root=tmp_path / "cache", methods="sort"))
    path.write_text(path.read_text().replace("seeds: [0]", "seeds: [0, 1]"))
    with Store(tmp_path / "r.sqlite") as store:
        run_experiment(load_experiment(path), store, jobs=2)
        pooled = store.timings_frame("small")
    assert pooled["jobs"].tolist() == [2, 2]
    assert pooled["threads"].tolist() == [worker_threads(2)] * 2
    path.write_text(path.read_text().replace("name: small", "name: alone"))
    with Store(tmp_path / "r.sqlite") as store:
        run_experiment(load_experiment(path), store)
        alone = store.timings_frame("alone")
    assert alone["jobs"].tolist() == [1, 1]
    assert alone["threads"].tolist() == [torch.get_num_threads()] * 2


def thread_counts() -> tuple[int, list[int]]:
    """This process's torch threads and the threads of each BLAS/OpenMP pool it has loaded."""
    import threadpoolctl

    pools = threadpoolctl.threadpool_info()
    return torch.get_num_threads(), [pool["num_threads"] for pool in pools]


@pytest.mark.parametrize("jobs", [1, 2, 64])
def test_a_worker_gets_its_share_of_the_cores(jobs):
    expected = max(1, len(os.sched_getaffinity(0)) // jobs)
    assert worker_threads(jobs) == expected
    context = get_context("spawn")
    queue = context.Queue()
    with ProcessPoolExecutor(1, context, initializer=_init_worker, initargs=(jobs, queue)) as pool:
        torch_threads, blas_threads = pool.submit(thread_counts).result()
    assert torch_threads == expected
    assert blas_threads and set(blas_threads) == {expected}
