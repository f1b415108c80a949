"""KITTI tracking: label parsing, TrackEval Kitti2DBox parity, the adapter, HART samples, checks."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import trackeval
from paths import FIXTURES

from harness.data import BoxTable
from harness.datasets import load_dataset
from harness.datasets.kitti import hart_parts, object_runs, window_samples, windows
from harness.errors import ConfigError, FormatError
from harness.metrics import evaluate, evaluate_files
from harness.metrics.crosscheck import trackeval_reference
from harness.metrics.kitti import parse_kitti, read_kitti, write_kitti

FIXTURE = FIXTURES / "kitti"
LABELS = FIXTURE / "training" / "label_02"
RESULTS = FIXTURE / "results"
ROW = "0 3 Car 0 1 -1.57 10.5 20 110.5 80 1.5 1.6 3.9 1.0 1.7 20.0 -1.5"


def test_parse_converts_to_one_based_ltwh():
    labels = parse_kitti(ROW + "\n", "gt")
    assert labels.table.frame.tolist() == [1]
    np.testing.assert_array_equal(labels.table.box, [[10.5, 20, 100, 60]])
    assert labels.table.cls.tolist() == [1] and labels.occluded.tolist() == [1]
    assert labels.pose[0].tolist() == [-1.57, 1.5, 1.6, 3.9, 1.0, 1.7, 20.0, -1.5]


def test_write_then_read_round_trips(tmp_path):
    original = read_kitti(RESULTS / "0000.txt", "result")
    write_kitti(tmp_path / "0000.txt", original)
    again = read_kitti(tmp_path / "0000.txt", "result")
    assert again.has_score and again.table.frame.tolist() == original.table.frame.tolist()
    np.testing.assert_allclose(again.table.box, original.table.box, atol=1e-6)
    np.testing.assert_array_equal(again.table.conf, original.table.conf)


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (ROW + "\n" + ROW.replace(" -1.5", ""), 2, "columns"),
        (ROW.replace("Car", "Bus"), 1, "unknown class 'Bus'"),
        (ROW.replace("10.5", "x"), 1, "not a number: 'x'"),
        (ROW.replace("110.5", "5"), 1, "x2 must be greater than x1"),
        (ROW.replace(" 80 ", " 20 "), 1, "y2 must be greater than y1"),
        (ROW.replace("0 3 Car", "0 -1 Car"), 1, "only for DontCare"),
        (ROW.replace("0 3 Car", "-1 3 Car"), 1, "frame must be an integer"),
        (ROW.replace("Car 0 1", "Car 0 4"), 1, "occluded must be"),
        (ROW.replace("Car 0 1", "Car 3 1"), 1, "truncated must be"),
        (ROW + "\n\n" + ROW, 3, "track id 3 appears twice in frame 0"),
        ("", None, "empty label file"),
    ],
)
def test_malformed_labels_name_file_and_line(text, line, message):
    with pytest.raises(FormatError) as error:
        parse_kitti(text, "gt", "seq.txt")
    assert error.value.line == line and message in error.value.message
    assert str(error.value).startswith("seq.txt")


def test_dontcare_rows_share_id_minus_one():
    dontcare = ROW.replace("0 3 Car 0 1", "0 -1 DontCare -1 -1")
    labels = parse_kitti("\n".join([ROW, dontcare, dontcare]), "gt")
    assert labels.dontcare.tolist() == [False, True, True]


def _trackeval_kitti(tmp_path: Path) -> dict:
    """TrackEval's Evaluator + Kitti2DBox on the fixture, in its own folder layout."""
    shutil.copytree(LABELS, tmp_path / "gt" / "label_02")
    (tmp_path / "gt" / "evaluate_tracking.seqmap.training").write_text(
        "0000 empty 000000 000010\n0001 empty 000000 000008\n"
    )
    shutil.copytree(RESULTS, tmp_path / "trackers" / "ours" / "data")
    dataset = trackeval.datasets.Kitti2DBox(
        {
            "GT_FOLDER": str(tmp_path / "gt"),
            "TRACKERS_FOLDER": str(tmp_path / "trackers"),
            "PRINT_CONFIG": False,
        }
    )
    return trackeval_reference(dataset)


def _assert_same(ours: dict, theirs: dict) -> None:
    for key, value in theirs.items():
        assert ours[key] == pytest.approx(value, abs=1e-9, nan_ok=True), key


def test_kitti_protocol_matches_trackeval_kitti2dbox(tmp_path):
    theirs = _trackeval_kitti(tmp_path)
    from_files = evaluate_files(LABELS, RESULTS, "kitti")
    from_adapter = load_dataset("kitti-tracking", FIXTURE).evaluate(RESULTS)
    for cls in ("car", "pedestrian"):
        for ours in (from_files["classes"][cls], from_adapter["classes"][cls]):
            _assert_same(ours["combined"], theirs[cls]["combined"])
            for seq in ("0000", "0001"):
                _assert_same(ours["sequences"][seq], theirs[cls]["sequences"][seq])
    car = from_files["classes"]["car"]["sequences"]["0000"]
    assert car["IDSW"] == 2 and car["Frames"] == 10  # id switches; frame count from image_02


def test_single_class_protocols_and_plain_tables():
    both = evaluate_files(LABELS, RESULTS, "kitti")["classes"]
    car = evaluate_files(LABELS, RESULTS, "kitti-car")["classes"]
    assert list(car) == ["car"] and car["car"] == both["car"]
    assert list(evaluate_files(LABELS, RESULTS, "kitti-pedestrian")["classes"]) == ["pedestrian"]
    table = BoxTable.build([1], [[0, 0, 1, 1]], id=[1])
    with pytest.raises(ConfigError, match="needs KITTI labels"):
        evaluate({"s": table}, {"s": table}, "kitti")


def test_prediction_frame_past_the_sequence_is_an_error(tmp_path):
    shutil.copytree(FIXTURE, tmp_path / "kitti")
    results = tmp_path / "kitti" / "results" / "0001.txt"
    results.write_text(results.read_text() + ROW.replace("0 3 Car 0 1", "8 9 Car -1 -1") + " 0.5\n")
    with pytest.raises(FormatError, match="outside the sequence's 8 frames"):
        evaluate_files(tmp_path / "kitti/training/label_02", results.parent, "kitti")


def test_adapter_sequences_are_lazy_rgb_and_one_based():
    kitti = load_dataset("kitti-tracking", FIXTURE)
    first, second = kitti.sequences("training")
    assert (first.name, first.num_frames, first.width, first.height) == ("0000", 10, 12, 8)
    assert first.meta["kitti"].dontcare.sum() == 15  # DontCare rows kept in meta only
    assert (first.gt.cls != 9).all() and first.gt.frame.min() == 1
    bgr = cv2.imread(str(FIXTURE / "training/image_02/0000/000002.png"))
    np.testing.assert_array_equal(first.frame(3), bgr[..., ::-1])
    assert second.num_frames == 8 and second.gt.frame.max() == 6
    (test,) = kitti.sequences("testing")
    assert test.num_frames == 3 and len(test.gt) == 0
    with pytest.raises(ConfigError, match="samples"):
        kitti.sequences("hart-test")


def test_windows_follow_hart_split_seq():
    assert windows(1, 60, 60, 0.5) == [(1, 61)]
    assert windows(1, 100, 60, 0.5) == [(1, 61), (31, 91)]  # the 10-frame tail is dropped
    assert windows(1, 120, 60, 0.5) == [(1, 61), (31, 91), (61, 121)]
    assert windows(5, 7, 60, 0.5) == [(5, 8)]


def test_hart_parts_split_runs_80_20_with_remainder_rule():
    frames = np.r_[1:11, 13:19, 30:32]  # runs of 10, 6 and 2 labelled frames
    parts = hart_parts(frames, 0.8)
    # 10 -> 8 + 2; 6 -> int(5.3) = 5 leaves 1, so all 6 train; 2 frames -> train
    assert parts["hart-train"] == [(1, 8), (13, 18), (30, 31)]
    assert parts["hart-test"] == [(9, 10)]


def test_reappearing_object_gets_a_new_id_and_samples_stop_at_absence():
    frame = [1, 2, 3, 5, 6, 1, 2]
    ids = [7, 7, 7, 7, 7, 9, 9]
    tracks = object_runs(BoxTable.build(frame, np.zeros((7, 4)), id=ids))
    assert sorted(zip(tracks.frame.tolist(), tracks.id.tolist())) == [
        (1, 0),
        (1, 1),
        (2, 0),
        (2, 1),
        (3, 0),
        (5, 2),
        (6, 2),
    ]
    samples = window_samples(None, tracks, 1, 7)
    assert [(s.object_id, s.frames.tolist()) for s in samples] == [(0, [1, 2, 3]), (1, [1, 2])]
    assert window_samples(None, tracks, 3, 7) == []  # object 0 only in frame 3: length 1


def test_hart_samples_on_fixture():
    kitti = load_dataset("kitti-tracking", FIXTURE, hart_window=4)
    train, test = kitti.samples("hart-train"), kitti.samples("hart-test")
    assert all(len(s.frames) >= 2 and np.all(np.diff(s.frames) == 1) for s in train + test)
    # seq 0000: 10 labelled frames -> train 1..8 (windows 1-4, 3-6, 5-8), test 9..10
    starts = sorted({(s.sequence.name, int(s.frames[0])) for s in train})
    assert starts == [("0000", 1), ("0000", 3), ("0000", 5), ("0001", 1), ("0001", 5)]
    assert {int(s.frames[0]) for s in test} == {9}
    # truncated Car 1 (truncated 1) kept, occluded-3 Pedestrian and occluded-2 Car dropped
    assert len([s for s in train if s.sequence.name == "0000" and s.frames[0] == 1]) == 5


def test_check_reports_every_problem(tmp_path):
    root = tmp_path / "kitti"
    shutil.copytree(FIXTURE, root)
    assert load_dataset("kitti-tracking", root).check() == []
    label = root / "training/label_02/0000.txt"
    lines = label.read_text().splitlines()
    lines[1] = lines[1].replace("Car", "Bus")
    lines[4] = " ".join(lines[4].split()[:10])
    label.write_text("\n".join(lines) + "\n")
    (root / "training/label_02/0001.txt").unlink()
    (root / "training/image_02/0000/000004.png").unlink()
    shutil.rmtree(root / "testing")
    problems = [str(p) for p in load_dataset("kitti-tracking", root).check()]
    assert any("testing/image_02: missing folder" in p for p in problems)
    assert any(p.endswith("0001.txt: missing label file") for p in problems)
    assert any("image_02/0000: frames must be" in p and "000005.png" in p for p in problems)
    assert any("0000.txt:2: unknown class 'Bus'" in p for p in problems)
    assert any("0000.txt:5: expected 17 columns" in p for p in problems)


def test_check_reports_labels_beyond_last_image(tmp_path):
    root = tmp_path / "kitti"
    shutil.copytree(FIXTURE, root)
    for frame in (6, 7):
        (root / f"training/image_02/0001/00000{frame}.png").unlink()
    (root / "training/image_02/0001/000005.png").unlink()
    problems = [str(p) for p in load_dataset("kitti-tracking", root).check()]
    assert any("0001.txt:10: frame 5 but image_02/0001 has 5 frames" in p for p in problems)
