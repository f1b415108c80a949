"""Executors: Ray tasks give the local executor's numbers, resume, fail cells with their errors,
stop on an interrupt and take their CPUs as threads; options that cannot work fail up front."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pandas as pd
import pytest

from harness import executors
from harness.executors import make_executor
from harness.experiment import load_experiment
from harness.progress import NoProgress
from harness.runner import RunInterrupted, run_experiment
from harness.store import Store

EXPERIMENT = """\
name: executors
datasets:
  - name: sprites-mot
    split: eval
    root: {root}
    params: {{eval_frames: 40}}
    detections:
      clean: {{miss_rate: 0.0, jitter: 0.0, fp_rate: 0.0}}
      noisy: {{miss_rate: 0.2, jitter: 0.05, fp_rate: 0.5}}
methods: [{methods}]
seeds: [0, 1]
timing: {{warmup_frames: 2}}
"""
METHODS = "sort, iou, ground-truth"  # 10 cells: 2 seeds of (2 variants each of 2, ground truth)


@pytest.fixture(scope="module")
def ray_cluster():
    """A local Ray of 2 CPUs for the module; runs in this process use it and leave it up."""
    ray = pytest.importorskip("ray")
    sigterm = signal.getsignal(signal.SIGTERM)  # ray.init replaces the handler
    ray.init(num_cpus=2, include_dashboard=False)
    yield ray
    ray.shutdown()
    signal.signal(signal.SIGTERM, sigterm)


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cache")


def write_experiment(folder: Path, cache: Path, methods: str = METHODS) -> Path:
    path = folder / "experiment.yaml"
    path.write_text(EXPERIMENT.format(root=cache, methods=methods), encoding="utf-8")
    return path


def run_into(db: Path, path: Path, **options):
    with Store(db) as store:
        return run_experiment(load_experiment(path), store, **options)


def cells_of(db: Path) -> pd.DataFrame:
    with Store(db, create=False) as store:
        return store.cells("executors").set_index(["method", "detections", "seed"]).sort_index()


def metrics_of(db: Path) -> pd.DataFrame:
    with Store(db, create=False) as store:
        return store.metrics_frame("executors")


def timings_of(db: Path) -> pd.DataFrame:
    with Store(db, create=False) as store:
        return store.timings_frame("executors")


def test_ray_gives_the_local_numbers_and_a_rerun_skips_done_cells(
    ray_cluster, cache, tmp_path, trackbench
):
    path = write_experiment(tmp_path, cache)
    local = run_into(tmp_path / "local.sqlite", path)
    assert (local.done, local.failed) == (10, [])

    ray_db = tmp_path / "ray.sqlite"
    code, _, err = trackbench("run", path, "--db", ray_db, "--executor", "ray", "--no-report")
    assert code == 0, err
    assert "executors: 10 cells, 0 already done, 10 done now, 0 failed" in err
    pd.testing.assert_frame_equal(metrics_of(ray_db), metrics_of(tmp_path / "local.sqlite"))
    timings = timings_of(ray_db)
    assert (timings["threads"] == 1).all()  # --jobs 1: one CPU, one thread per task
    assert (timings["jobs"] == 2).all()  # two such tasks fit side by side on the 2-CPU node

    code, _, err = trackbench("run", path, "--db", ray_db, "--executor", "ray", "--no-report")
    assert code == 0, err
    assert "executors: 10 cells, 10 already done, 0 done now, 0 failed" in err
    with Store(ray_db, create=False) as store:
        assert len(store.runs()) == 2


def test_a_task_of_two_cpus_tracks_with_two_threads(ray_cluster, cache, tmp_path):
    path = write_experiment(tmp_path, cache, methods="sort")
    summary = run_into(tmp_path / "r.sqlite", path, executor=make_executor("ray", jobs=2))
    assert summary.done == 4
    timings = timings_of(tmp_path / "r.sqlite")
    assert timings["threads"].tolist() == [2] * 4 and timings["jobs"].tolist() == [1] * 4


def test_a_cell_that_raises_in_its_task_fails_with_its_error(ray_cluster, cache, tmp_path):
    methods = 'ground-truth, {method: iou, config: {report: "sideways"}}'
    path = write_experiment(tmp_path, cache, methods=methods)
    summary = run_into(tmp_path / "r.sqlite", path, executor=make_executor("ray"))
    assert summary.done == 2 and len(summary.failed) == 4
    cells = cells_of(tmp_path / "r.sqlite")
    assert set(cells.loc["ground-truth", "status"]) == {"done"}
    failed = cells.loc["iou"]
    assert set(failed["status"]) == {"failed"}
    assert (
        failed["error"]
        .eq("ValueError: iou tracker report must be 'online' or 'offline', got 'sideways'")
        .all()
    )
    assert failed["traceback"].str.contains("in iou_tracker").all()


def test_a_task_whose_worker_dies_fails_its_cell(ray_cluster, cache, tmp_path, monkeypatch):
    compute = executors._run_cell_on_ray

    def die_on_seed_1(cell, cpus):  # pickled by value: the worker runs this
        if cell.seed == 1:
            os._exit(1)
        return compute(cell, cpus)

    monkeypatch.setattr(executors, "_run_cell_on_ray", die_on_seed_1)
    path = write_experiment(tmp_path, cache, methods="ground-truth")
    summary = run_into(tmp_path / "r.sqlite", path, executor=make_executor("ray"))
    assert summary.done == 1 and len(summary.failed) == 1
    cells = cells_of(tmp_path / "r.sqlite").droplevel(["method", "detections"])
    assert cells.loc[0, "status"] == "done" and cells.loc[1, "status"] == "failed"
    assert cells.loc[1, "error"].startswith("WorkerCrashedError: The worker died")


class StopAfterFirstCell(NoProgress):
    """Ctrl-C as the first finished cell is shown."""

    def cell_finished(self, key, label, result, seconds):
        raise KeyboardInterrupt


def test_an_interrupted_ray_run_marks_the_rest_interrupted_and_resumes(
    ray_cluster, cache, tmp_path
):
    path = write_experiment(tmp_path, cache, methods="sort")
    db = tmp_path / "r.sqlite"
    with pytest.raises(RunInterrupted) as stopped:
        run_into(db, path, executor=make_executor("ray"), progress=StopAfterFirstCell())
    assert (stopped.value.summary.done, stopped.value.summary.interrupted) == (1, 3)
    assert cells_of(db)["status"].value_counts().to_dict() == {"interrupted": 3, "done": 1}

    summary = run_into(db, path, executor=make_executor("ray"))
    assert (summary.skipped, summary.done, summary.failed) == (1, 3, [])
    assert set(cells_of(db)["status"]) == {"done"}


@pytest.mark.parametrize(
    "options, message",
    [
        (["--executor", "ray"], "--executor ray needs Ray: pip install 'trackbench[ray]'"),
        (["--address", "auto"], "--address is the Ray cluster of --executor ray"),
    ],
)
def test_executor_options_that_cannot_work_fail_before_the_run(
    options, message, tmp_path, cache, trackbench, monkeypatch
):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    path = write_experiment(tmp_path, cache)
    code, _, err = trackbench("run", path, "--out", tmp_path / "out", *options)
    assert code == 2
    assert len(err.splitlines()) == 1 and err.startswith(f"trackbench: error: {message}")
    assert not (tmp_path / "out").exists()
