"""Test splits (no ground truth): tracked, zipped for the server, stored as submitted."""

from __future__ import annotations

import io
import textwrap
import zipfile

import numpy as np
import pytest
from mot_layout import still_object, write_sequence
from paths import FIXTURES

from harness.data import BoxTable
from harness.errors import ConfigError
from harness.experiment import load_experiment
from harness.metrics.kitti import read_kitti
from harness.runner import run_experiment
from harness.store import Store
from harness.tasks.multi_object import submission_archive

OBJECT, CLUTTER = "10,12,8,16", "40,20,6,12"
TINY_TEST = """\
name: tiny
datasets:
{datasets}
methods: ["sort:no-min-hits"]
timing: {{warmup_frames: 0}}
"""
TEST_SPLIT = """\
  - name: mot16
    split: test
    root: data
    params: {sequences: {test: [TINY-01, TINY-02]}}
    detections:
      sdp60: {source: public, min_score: 0.6}
"""


def write_test_split(tmp_path):
    """Two 3-frame test sequences (no gt/): a still object scored 0.9 and, in frame 2, clutter
    scored 0.3 that the ``sdp60`` variant drops."""
    for name in ("TINY-01", "TINY-02"):
        detections = still_object(3, OBJECT, 0.9) + f"2,-1,{CLUTTER},0.3,-1,-1,-1\n"
        write_sequence(tmp_path / "data" / "test", name, detections)


def mot_rows(text: str) -> np.ndarray:
    return np.array([[float(v) for v in line.split(",")] for line in text.splitlines()])


def test_a_test_split_run_writes_the_motchallenge_zip(trackbench, tmp_path):
    write_test_split(tmp_path)
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY_TEST.format(datasets=TEST_SPLIT), encoding="utf-8")
    code, _, err = trackbench("run", path, "--out", tmp_path / "out")

    assert code == 0, err
    zip_path = tmp_path / "out/submissions/tiny/mot16-test/sort-no-min-hits-sdp60-seed0.zip"
    assert f"submitted, not scored: {zip_path}" in err
    assert "0 done now, 1 submitted, 0 failed" in err
    assert "no scored cells (1 submission zips), no report written" in err
    archive = zipfile.ZipFile(zip_path)
    assert archive.namelist() == ["TINY-01.txt", "TINY-02.txt"]  # at the zip's root
    for name in archive.namelist():
        rows = mot_rows(archive.read(name).decode())
        assert rows.shape == (3, 10)  # the clutter (score 0.3) was filtered out: one track
        np.testing.assert_array_equal(rows[:, :2], [[1, 1], [2, 1], [3, 1]])
        np.testing.assert_allclose(rows[:, 2:6], [[10, 12, 8, 16]] * 3)
        np.testing.assert_array_equal(rows[:, 6:], [[0.9, -1, -1, -1]] * 3)
    with Store(tmp_path / "out" / "results.sqlite") as store:
        cells = store.cells("tiny")
        assert store.metrics_frame("tiny").empty
    assert cells[["status", "submission"]].values.tolist() == [["submitted", str(zip_path)]]


def test_the_board_of_a_mixed_experiment_lists_the_submission(trackbench, tmp_path):
    """A train split is scored and a test split submitted in one run; the board says where the
    zip is, and nothing failed."""
    write_test_split(tmp_path)
    gt = "".join(f"{frame},1,{OBJECT},1,1,1.0\n" for frame in (1, 2, 3))
    write_sequence(tmp_path / "data" / "train", "TRAIN-01", still_object(3, OBJECT, 0.9), gt=gt)
    train = TEST_SPLIT.replace("split: test", "split: train").replace(
        "{test: [TINY-01, TINY-02]}", "{train: [TRAIN-01]}"
    )
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY_TEST.format(datasets=train + TEST_SPLIT), encoding="utf-8")
    code, _, err = trackbench("run", path, "--out", tmp_path / "out")

    assert code == 0, err
    board = (tmp_path / "out" / "leaderboard.md").read_text(encoding="utf-8")
    assert "Submissions (test splits, not scored here)" in board
    assert "mot16-test/sort-no-min-hits-sdp60-seed0.zip" in board
    assert "Failed or unfinished" not in board


def test_a_kitti_test_split_zips_label_files_of_the_protocols_class(tmp_path):
    """KITTI: ``data/<seq>.txt`` label lines, 0-based frames, every track a Car, read back as
    KITTI results; the detections come from a file source."""
    (tmp_path / "dets").mkdir()
    (tmp_path / "dets" / "0000.txt").write_text(still_object(3, "2,2,4,3", 0.8))
    path = tmp_path / "kitti.yaml"
    path.write_text(
        textwrap.dedent(f"""\
        name: kitti
        protocol: kitti-car
        datasets:
          - name: kitti-tracking
            split: testing
            root: {FIXTURES / "kitti"}
            detections: {{mine: {{source: "file:dets"}}}}
        methods: ["sort:no-min-hits"]
        """),
        encoding="utf-8",
    )
    with Store(tmp_path / "results.sqlite") as store:
        summary = run_experiment(load_experiment(path), store)
    assert summary.failed == [] and len(summary.submitted) == 1
    archive = zipfile.ZipFile(summary.submitted[0])
    assert archive.namelist() == ["data/0000.txt"]
    lines = archive.read("data/0000.txt").decode().splitlines()
    assert [line.split()[:3] for line in lines] == [
        ["0", "1", "Car"],
        ["1", "1", "Car"],
        ["2", "1", "Car"],
    ]
    archive.extractall(tmp_path / "unzipped")
    labels = read_kitti(tmp_path / "unzipped" / "data" / "0000.txt", "result", 3)
    np.testing.assert_allclose(labels.table.box, [[2, 2, 4, 3]] * 3)
    np.testing.assert_allclose(labels.table.conf, [0.8] * 3)


def test_a_labelled_kitti_split_fails_its_cells_and_two_classes_are_refused(tmp_path):
    text = f"""\
name: kitti
protocol: kitti-car
datasets: [{{name: kitti-tracking, split: training, root: {FIXTURES / "kitti"}}}]
methods: [sort]
"""
    path = tmp_path / "kitti.yaml"
    path.write_text(text, encoding="utf-8")
    with Store(tmp_path / "results.sqlite") as store:
        summary = run_experiment(load_experiment(path), store)
    assert "scored from KITTI-format results files" in summary.failed[0].error
    path.write_text(text.replace("protocol: kitti-car\n", ""), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"kitti.yaml:2: .*one class: protocol kitti-car"):
        load_experiment(path)


def test_the_motchallenge_archive_lines_and_bytes_are_fixed():
    tracks = BoxTable.build(
        frame=[2, 1], box=[[10.5, 12, 8, 16], [10, 12, 8, 16]], id=[1, 1], conf=[0.9, 0.75]
    )
    archive = submission_archive({"S": tracks}, "mot17")
    assert submission_archive({"S": tracks}, "mot17") == archive  # no timestamps inside
    text = zipfile.ZipFile(io.BytesIO(archive)).read("S.txt").decode()
    assert text == "1,1,10,12,8,16,0.75,-1,-1,-1\n2,1,10.5,12,8,16,0.9,-1,-1,-1\n"
    with pytest.raises(ValueError, match="one-class protocol"):
        submission_archive({"S": tracks}, "kitti")
