"""The results store: transactions, statuses, provenance, frames."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import subprocess

import numpy as np
import pytest
from paths import ROOT

from harness.errors import TrackbenchError
from harness.experiment import Cell
from harness.results.sections import failure_lines, submission_lines
from harness.store import COMBINED, Store, key_of, utc_now


def make_cell(seed: int = 0, method: str = "sort", experiment: str = "exp") -> Cell:
    return Cell(
        experiment=experiment,
        dataset="sprites-mot",
        split="eval",
        detections="clean",
        method=method,
        ablation="default",
        seed=seed,
        method_config={"max_age": 1},
        dataset_params={"eval_frames": 300},
        noise={"miss_rate": 0.0, "jitter": 0.0, "fp_rate": 0.0},
        protocol="plain",
        warmup_frames=10,
        device="cpu",
    )


EVALUATION = {
    "sequences": {"seq-a": {"MOTA": 0.5, "IDSW": 3}, "seq-b": {"MOTA": 0.25, "IDSW": 1}},
    "combined": {"MOTA": 0.375, "IDSW": 4},
}
TIMING = {
    "frames": 290,
    "total_seconds": 0.5,
    "latency_p50_ms": np.float64(1.5),
    "latency_p95_ms": 2.5,
    "fps": 580.0,
    "peak_memory_bytes": np.int64(10**9),
    "device_name": "cpu (x86_64)",
    "cuda_version": None,
}
STARTED = utc_now()


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "results.sqlite") as store:
        yield store


def test_done_cell_has_its_metrics_and_timings(store):
    cell = make_cell()
    run = store.start_run("exp", "cpu")
    store.add_pending(run, [cell])
    store.record_done(
        cell, EVALUATION, {"seq-a": TIMING, "seq-b": {**TIMING, "frames": 100}}, STARTED
    )

    assert store.done_identities("exp") == {key_of(cell): (cell.config_hash, cell.identity())}
    frame = store.metrics_frame("exp")
    assert list(frame.columns) == [
        "experiment",
        "dataset",
        "split",
        "axes",
        "detections",
        "method",
        "ablation",
        "seed",
        "sequence",
        "metric",
        "value",
    ]
    values = frame.set_index(["sequence", "metric"])["value"]
    assert values[(COMBINED, "MOTA")] == 0.375
    assert values[("seq-b", "IDSW")] == 1.0
    assert len(frame) == 6
    timings = store.timings_frame("exp")
    assert list(timings["sequence"]) == ["seq-a", "seq-b"]
    assert list(timings["frames"]) == [290, 100]
    assert timings["peak_memory_bytes"].iloc[0] == 10**9
    assert timings["latency_p50_ms"].iloc[0] == 1.5
    assert timings["cuda_version"].isna().all()
    assert store.cells("exp")["started"].tolist() == [STARTED]


def test_failure_inside_the_transaction_leaves_the_cell_not_done(store):
    cell = make_cell()
    store.add_pending(store.start_run("exp", "cpu"), [cell])
    with pytest.raises(ValueError, match="not an identifier"):
        # metrics are inserted first, then the bad timing field aborts the transaction
        store.record_done(cell, EVALUATION, {"seq-a": {"bad field": 1}}, STARTED)
    assert store.done_identities("exp") == {}
    assert store.metrics_frame().empty
    assert store.cells("exp")["status"].tolist() == ["pending"]
    rows = sqlite3.connect(store.path).execute("SELECT COUNT(*) FROM metrics").fetchone()[0]
    assert rows == 0


def test_failed_cell_keeps_error_and_traceback_and_is_rerun(store):
    cell = make_cell()
    run = store.start_run("exp", "cpu")
    store.add_pending(run, [cell])
    store.mark_running(cell)
    assert store.cells("exp")["status"].tolist() == ["running"]
    store.record_failed(cell, "ValueError: boom", "Traceback (most recent call last): ...", STARTED)
    cells = store.cells("exp")
    assert cells[["status", "error"]].values.tolist() == [["failed", "ValueError: boom"]]
    assert cells["traceback"].iloc[0].startswith("Traceback")
    assert store.done_identities("exp") == {}

    store.add_pending(store.start_run("exp", "cpu"), [cell])  # a new run resets it
    cells = store.cells("exp")
    assert cells["status"].tolist() == ["pending"] and cells["error"].isna().all()
    assert cells["run"].tolist() == [2]


def test_submitted_cell_keeps_its_zip_and_timings_and_counts_as_finished(store):
    cell = make_cell()
    store.add_pending(store.start_run("exp", "cpu"), [cell])
    store.record_submitted(cell, "runs/exp/submissions/x.zip", {"seq-a": TIMING}, STARTED)
    cells = store.cells("exp")
    assert cells[["status", "submission"]].values.tolist() == [
        ["submitted", "runs/exp/submissions/x.zip"]
    ]
    assert store.done_identities("exp") == {key_of(cell): (cell.config_hash, cell.identity())}
    assert store.metrics_frame().empty
    assert failure_lines(cells) == []
    assert submission_lines(cells) == [
        "sprites-mot/eval/clean sort (seed 0): runs/exp/submissions/x.zip"
    ]
    frames = sqlite3.connect(store.path).execute("SELECT frames FROM timings").fetchall()
    assert frames == [(290,)]

    store.add_pending(store.start_run("exp", "cpu"), [cell])  # computed again: no stale zip
    assert store.cells("exp")[["status", "submission"]].values.tolist() == [["pending", None]]


def test_redone_cell_replaces_its_metrics(store):
    cell = make_cell()
    store.add_pending(store.start_run("exp", "cpu"), [cell])
    store.record_done(cell, EVALUATION, {}, STARTED)
    changed = {"sequences": {}, "combined": {"MOTA": 0.9}}
    store.record_done(cell, changed, {}, STARTED)
    frame = store.metrics_frame()
    assert frame[["sequence", "metric", "value"]].values.tolist() == [[COMBINED, "MOTA", 0.9]]


def test_a_cell_stored_under_another_hash_is_replaced_and_says_why(store):
    old, other = make_cell(seed=0), make_cell(seed=1)
    new = dataclasses.replace(old, method_config={"max_age": 2})  # the same key, another hash
    store.add_pending(store.start_run("exp", "cpu"), [old, other])
    for cell in (old, other):
        store.record_done(cell, EVALUATION, {"seq-a": TIMING}, STARTED)
    store.add_pending(store.start_run("exp", "cpu"), [new], {new.config_hash: "config changed"})
    cells = store.cells("exp").set_index("seed")
    assert cells.loc[0, ["config_hash", "status", "rerun"]].tolist() == [
        new.config_hash,
        "pending",
        "config changed",
    ]
    assert cells.loc[1, "status"] == "done" and cells["rerun"].isna().sum() == 1
    assert set(store.metrics_frame("exp")["seed"]) == {1}  # the stale results went with it
    assert len(store.timings_frame("exp")) == 1
    store.add_pending(store.start_run("exp", "cpu"), [new])  # resumed: it still says why
    assert store.cells("exp").set_index("seed").loc[0, "rerun"] == "config changed"


def test_frames_filter_by_experiment_and_hash(store):
    a, b, other = make_cell(0), make_cell(1), make_cell(0, experiment="other")
    run = store.start_run("exp", "cpu")
    store.add_pending(run, [a, b, other])
    for cell in (a, b, other):
        store.record_done(cell, EVALUATION, {"seq-a": TIMING}, STARTED)
    assert store.experiments() == ["exp", "other"]
    assert set(store.metrics_frame("exp")["seed"]) == {0, 1}
    assert set(store.metrics_frame("exp", [b.config_hash])["seed"]) == {1}
    assert store.metrics_frame("exp", []).empty
    assert set(store.metrics_frame()["experiment"]) == {"exp", "other"}
    assert len(store.timings_frame("other")) == 1


def test_run_provenance_and_wal(store):
    run = store.start_run("exp", "cpu (test)")
    store.finish_run(run)
    runs = store.runs()
    assert runs["experiment"].tolist() == ["exp"] and runs["finished"].notna().all()
    versions = json.loads(runs["versions"].iloc[0])
    assert list(versions)[:5] == ["torch", "numpy", "trackeval", "motmetrics", "trackbench"]
    assert versions["numpy"] == np.__version__
    head = subprocess.run(["git", "-C", ROOT, "rev-parse", "HEAD"], capture_output=True, text=True)
    commit = runs["git_commit"].iloc[0]
    if head.returncode == 0:  # a git checkout: the commit of this one
        assert commit.removesuffix("-dirty") == head.stdout.strip()
    else:
        assert commit is None
    mode = sqlite3.connect(store.path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_missing_or_foreign_database_is_a_user_error(tmp_path):
    with pytest.raises(TrackbenchError, match="results database not found"):
        Store(tmp_path / "none.sqlite", create=False)
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(TrackbenchError, match="not a results database"):
        Store(junk)


FIRST_SCHEMA = """
CREATE TABLE runs (
    id INTEGER PRIMARY KEY, experiment TEXT NOT NULL, started TEXT NOT NULL, finished TEXT,
    git_commit TEXT, versions TEXT NOT NULL, device TEXT NOT NULL, host TEXT NOT NULL
);
CREATE TABLE cells (
    id INTEGER PRIMARY KEY, experiment TEXT NOT NULL, config_hash TEXT NOT NULL,
    dataset TEXT NOT NULL, split TEXT NOT NULL, detections TEXT NOT NULL, method TEXT NOT NULL,
    ablation TEXT NOT NULL, seed INTEGER NOT NULL, config TEXT NOT NULL,
    run INTEGER REFERENCES runs(id),
    status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed')),
    error TEXT, traceback TEXT, started TEXT, finished TEXT, UNIQUE (experiment, config_hash)
);
CREATE TABLE metrics (
    cell INTEGER NOT NULL REFERENCES cells(id) ON DELETE CASCADE, sequence TEXT NOT NULL,
    metric TEXT NOT NULL, value REAL, PRIMARY KEY (cell, sequence, metric)
);
CREATE TABLE timings (
    cell INTEGER NOT NULL REFERENCES cells(id) ON DELETE CASCADE, sequence TEXT NOT NULL,
    PRIMARY KEY (cell, sequence)
);
"""
"""The store's first schema: no provenance, no run description, no ``interrupted`` status."""


def test_first_schema_database_is_upgraded_keeping_its_results(tmp_path):
    path = tmp_path / "old.sqlite"
    old = make_cell(seed=0)
    with sqlite3.connect(path) as db:
        db.executescript(FIRST_SCHEMA)
        db.execute(
            "INSERT INTO cells (experiment, config_hash, dataset, split, detections, method,"
            " ablation, seed, config, status) VALUES (?, ?, 'sprites-mot', 'eval', 'clean',"
            " 'sort', 'default', 0, '{}', 'done')",
            (old.experiment, old.config_hash),
        )
        db.execute("INSERT INTO metrics VALUES (1, 'COMBINED', 'MOTA', 0.5)")
    with Store(path, create=False) as store:
        assert store.provenance_frame("exp")["provenance"].tolist() == [None]
        assert store.metrics_frame("exp")["value"].tolist() == [0.5]  # not cascaded away
        run = store.start_run("exp", "cpu", "an upgraded database")
        new = make_cell(seed=1)
        store.add_pending(run, [new])
        assert store.mark_interrupted(run) == 1
        store.add_pending(run, [new])
        store.record_done(new, EVALUATION, {}, utc_now(), {"sha256": "ab" * 32})
        assert store.runs()["description"].tolist() == ["an upgraded database"]
        stored = store.provenance_frame("exp")["provenance"].tolist()
    assert stored == [None, {"sha256": "ab" * 32}]
    with Store(path, create=False) as store:  # reopening an upgraded database changes nothing
        cells = store.cells("exp")
        assert cells["status"].tolist() == ["done", "done"]
        assert cells["axes"].tolist() == ["", ""]  # the old cell had no axes
        assert cells["task"].tolist() == ["multi-object", "multi-object"]
        assert store.provenance_frame("exp")["provenance"].tolist()[1] == {"sha256": "ab" * 32}


def test_curves_are_stored_with_a_done_cell_and_dropped_when_it_fails(tmp_path):
    cell = make_cell(seed=0)
    curves = {COMBINED: {"success": {"x": [0.0, 0.5, 1.0], "y": [1.0, 0.25, 0.0]}}}
    with Store(tmp_path / "r.sqlite") as store:
        run = store.start_run("exp", "cpu")
        store.add_pending(run, [cell])
        store.record_done(cell, {**EVALUATION, "curves": curves}, {}, utc_now())
        frame = store.curves_frame("exp")
        assert frame[["sequence", "curve", "x", "y"]].values.tolist() == [
            [COMBINED, "success", 0.0, 1.0],
            [COMBINED, "success", 0.5, 0.25],
            [COMBINED, "success", 1.0, 0.0],
        ]
        store.add_pending(run, [cell])
        store.record_failed(cell, "ValueError: x", "tb", utc_now())
        assert store.curves_frame("exp").empty


def test_mark_interrupted_touches_only_the_runs_unfinished_cells(tmp_path):
    with Store(tmp_path / "r.sqlite") as store:
        first = store.start_run("exp", "cpu")
        done, failed = make_cell(seed=0), make_cell(seed=1)
        store.add_pending(first, [done, failed])
        store.record_done(done, EVALUATION, {}, utc_now(), None)
        store.record_failed(failed, "ValueError: x", "tb", utc_now())
        second = store.start_run("exp", "cpu")
        running, pending = make_cell(seed=2), make_cell(seed=3)
        store.add_pending(second, [running, pending])
        store.mark_running(running)
        assert store.mark_interrupted(first) == 0
        assert store.mark_interrupted(second) == 2
        statuses = store.cells("exp").set_index("seed")["status"].to_dict()
    assert statuses == {0: "done", 1: "failed", 2: "interrupted", 3: "interrupted"}
