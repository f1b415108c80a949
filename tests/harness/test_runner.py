"""The runner end to end on a small Sprites-MOT video: storing, resuming, failing cells, pools,
and a run killed with SIGKILL (mid-transaction) then resumed."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pandas as pd
import pytest
from paths import FIXTURES

from harness import registry
from harness.data import TrackOutput
from harness.experiment import expand, load_experiment
from harness.protocol import MultiObjectTracker
from harness.runner import run_experiment
from harness.store import COMBINED, Store

EXPERIMENT = """\
name: runner-test
datasets:
  - name: sprites-mot
    split: eval
    root: {root}
    params: {{eval_frames: 300}}
    detections:
      clean: {{miss_rate: 0.0, jitter: 0.0, fp_rate: 0.0}}
      noisy: {{miss_rate: 0.2, jitter: 0.05, fp_rate: 0.5}}
methods: [{methods}]
seeds: [0, 1]
timing: {{warmup_frames: 5}}
"""
METHODS = 'sort, "sort:no-min-hits", iou, ground-truth'


def write_experiment(folder, methods: str = METHODS, root=None):
    path = folder / "experiment.yaml"
    path.write_text(
        EXPERIMENT.format(root=root or folder / "cache", methods=methods), encoding="utf-8"
    )
    return path


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted in-process run: (experiment file, its database, summary)."""
    folder = tmp_path_factory.mktemp("reference")
    path = write_experiment(folder)
    with Store(folder / "results.sqlite") as store:
        summary = run_experiment(load_experiment(path), store)
    return path, folder / "results.sqlite", summary


def metrics_of(db) -> pd.DataFrame:
    with Store(db, create=False) as store:
        return store.metrics_frame("runner-test")


def test_every_cell_is_done_with_metrics_and_timings(reference):
    path, db, summary = reference
    cells = expand(load_experiment(path))
    assert (summary.total, summary.skipped, summary.done, summary.failed) == (14, 0, 14, [])
    with Store(db, create=False) as store:
        assert set(store.cells("runner-test")["status"]) == {"done"}
        frame = store.metrics_frame("runner-test")
        timings = store.timings_frame("runner-test")
    combined = frame[frame["sequence"] == COMBINED].pivot_table(
        index=["method", "ablation", "detections", "seed"], columns="metric", values="value"
    )
    assert len(combined) == len(cells)
    assert (combined.loc["ground-truth", ["MOTA", "IDF1", "HOTA"]] == 1.0).all().all()
    assert (combined["GT_Dets"] == combined["GT_Dets"].iloc[0]).all()  # one video for every cell
    assert set(frame["sequence"]) == {COMBINED, "sprites-mot-eval"}
    online = timings[timings["method"] != "ground-truth"]
    assert len(timings) == len(cells) and (online["frames"] == 300 - 5).all()
    assert (timings["fps"] > 0).all()


def test_resume_skips_finished_cells(reference):
    path, db, _ = reference
    before = metrics_of(db)
    with Store(db) as store:
        summary = run_experiment(load_experiment(path), store)
        runs = store.runs()
    assert (summary.total, summary.skipped, summary.done) == (14, 14, 0)
    pd.testing.assert_frame_equal(metrics_of(db), before)
    assert len(runs) == 2


@pytest.mark.slow
def test_two_jobs_give_the_same_numbers_as_one(reference, tmp_path):
    path, db, _ = reference
    with Store(tmp_path / "pool.sqlite") as store:
        summary = run_experiment(load_experiment(path), store, jobs=2)
    assert summary.done == 14 and not summary.failed
    pd.testing.assert_frame_equal(metrics_of(tmp_path / "pool.sqlite"), metrics_of(db))


class BrokenTracker(MultiObjectTracker):
    """Returns a NaN box (invalid output) or raises on frame 3, as configured."""

    inputs = frozenset({"detections"})

    def __init__(self, failure: str):
        self.failure = failure

    def reset(self, info):
        pass

    def step(self, frame):
        if self.failure == "raise" and frame.number == 3:
            raise RuntimeError("tracker exploded")
        return TrackOutput(np.array([1]), np.array([[np.nan, 1.0, 5.0, 5.0]]), np.ones(1))


@pytest.fixture
def broken_method(monkeypatch):
    registry.load_plugins()
    monkeypatch.setattr(registry, "_METHODS", dict(registry._METHODS))
    registry.register_method(
        "broken",
        BrokenTracker,
        {"failure": "nan"},
        ablations={"raise": {"failure": "raise"}},
    )


def test_a_method_registered_unlike_its_class_fails_its_cells_first(monkeypatch, tmp_path):
    registry.load_plugins()
    monkeypatch.setattr(registry, "_METHODS", dict(registry._METHODS))
    registry.register_method(
        "mislabelled", "trackers.baselines.sort:SORT", {}, kind="multi-object", inputs={"image"}
    )
    path = write_experiment(tmp_path, "mislabelled")
    with Store(tmp_path / "results.sqlite") as store:
        summary = run_experiment(load_experiment(path), store)
        cells = store.cells("runner-test")
    assert (summary.done, len(summary.failed)) == (0, 2) and set(cells["status"]) == {"failed"}
    assert (
        cells["error"]
        .str.startswith(
            "ConfigError: method 'mislabelled' is registered as a multi-object tracker of inputs"
            " ['image'] but its factory trackers.baselines.sort:SORT declares"
        )
        .all()
    )
    assert not (tmp_path / "cache").exists()  # failed before any dataset was loaded


def test_failing_cells_are_recorded_and_the_sweep_goes_on(broken_method, reference, tmp_path):
    path = write_experiment(
        tmp_path, 'broken, "broken:raise", iou', root=reference[0].parent / "cache"
    )
    with Store(tmp_path / "results.sqlite") as store:
        summary = run_experiment(load_experiment(path), store)
        cells = (
            store.cells("runner-test")
            .set_index(["method", "ablation", "detections", "seed"])
            .sort_index()
        )
        frame = store.metrics_frame("runner-test")
    assert summary.done == 4 and len(summary.failed) == 8
    assert set(cells.loc["iou", "status"]) == {"done"}
    nan = cells.loc[("broken", "default")]
    assert set(nan["status"]) == {"failed"}
    assert nan["error"].str.contains("NaN or infinite box").all()
    assert nan["traceback"].str.contains("check_result").all()
    raised = cells.loc[("broken", "raise")]
    assert raised["error"].eq("RuntimeError: tracker exploded").all()
    assert raised["traceback"].str.contains('raise RuntimeError\\("tracker exploded"\\)').all()
    assert set(frame["method"]) == {"iou"}  # failed cells keep no results


def test_dataset_that_cannot_load_fails_its_cells(tmp_path):
    path = tmp_path / "mnist.yaml"
    path.write_text(
        textwrap.dedent(f"""\
        name: no-digits
        datasets:
          - name: mnist-mot
            split: eval
            root: {tmp_path / "cache"}
            params: {{eval_frames: 50, mnist_dir: {tmp_path / "missing"}}}
        methods: [ground-truth]
        seeds: [0, 1]
        """),
        encoding="utf-8",
    )
    with Store(tmp_path / "results.sqlite") as store:
        summary = run_experiment(load_experiment(path), store)
        cells = store.cells("no-digits")
    assert summary.done == 0 and len(summary.failed) == 2
    assert set(cells["status"]) == {"failed"} and cells["error"].str.contains("missing").all()


KILLER = """\
import os, signal, sys
from harness.experiment import load_experiment
from harness.runner import run_experiment
from harness.store import Store

calls = 0
insert_timing = Store._insert_timing

def insert_timing_or_die(self, *args):
    # SIGKILL this process inside the 4th cell's transaction (its metrics are already inserted)
    global calls
    calls += 1
    if calls == 4:
        os.kill(os.getpid(), signal.SIGKILL)
    return insert_timing(self, *args)

Store._insert_timing = insert_timing_or_die
run_experiment(load_experiment(sys.argv[1]), Store(sys.argv[2]))
"""


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_numbers(reference, tmp_path):
    path, db, _ = reference
    script = tmp_path / "killer.py"
    script.write_text(KILLER, encoding="utf-8")
    killed_db = tmp_path / "killed.sqlite"
    done = subprocess.run([sys.executable, str(script), str(path), str(killed_db)], timeout=300)
    assert done.returncode == -signal.SIGKILL

    with Store(killed_db) as store:
        statuses = store.cells("runner-test")["status"].value_counts().to_dict()
        assert statuses == {"done": 3, "running": 1, "pending": 10}
        orphans = store._db.execute(
            "SELECT COUNT(*) FROM metrics m JOIN cells c ON m.cell = c.id WHERE c.status != 'done'"
        ).fetchone()[0]
        assert orphans == 0
        summary = run_experiment(load_experiment(path), store)
    assert (summary.skipped, summary.done, summary.failed) == (3, 11, [])
    pd.testing.assert_frame_equal(metrics_of(killed_db), metrics_of(db))


def test_a_split_without_ground_truth_is_submitted_not_scored(tmp_path):
    """A MOTChallenge test split is tracked and zipped for the server, never scored against an
    empty ground truth; a second run skips the submitted cell."""
    root = FIXTURES / "mot" / "MOT17"
    path = tmp_path / "mot17-test.yaml"
    path.write_text(
        textwrap.dedent(f"""\
        name: mot17-test
        datasets:
          - name: mot17
            split: test
            root: {root}
            params: {{sequences: [MOT17-01], detectors: [SDP]}}
        methods: [sort]
        """),
        encoding="utf-8",
    )
    with Store(tmp_path / "results.sqlite") as store:
        summary = run_experiment(load_experiment(path), store)
        cells = store.cells("mot17-test")
        again = run_experiment(load_experiment(path), store)
        assert store.metrics_frame("mot17-test").empty
    zip_path = tmp_path / "submissions" / "mot17-test" / "mot17-test" / "sort-public-seed0.zip"
    assert (summary.done, summary.failed, summary.submitted) == (0, [], [zip_path])
    assert cells["status"].tolist() == ["submitted"] and cells["error"].isna().all()
    assert cells["submission"].tolist() == [str(zip_path)]
    assert zipfile.ZipFile(zip_path).namelist() == ["MOT17-01-SDP.txt"]
    assert (again.skipped, again.submitted) == (1, [])
