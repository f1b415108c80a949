"""The in-memory TrackEval engine, protocols and file evaluation on hand-made data."""

from __future__ import annotations

import numpy as np
import pytest

from harness.data import BoxTable
from harness.errors import ConfigError, FormatError
from harness.metrics import evaluate, evaluate_files
from harness.metrics.iou import FramePairs, box_iou, overlapping_pairs
from harness.metrics.mot import TRACKEVAL_METRICS
from harness.motchallenge import write_mot

REQUIRED = [
    "MOTA",
    "MOTP",
    "IDF1",
    "IDP",
    "IDR",
    "HOTA",
    "DetA",
    "AssA",
    "LocA",
    "DetRe",
    "DetPr",
    "AssRe",
    "AssPr",
    "FP",
    "FN",
    "IDSW",
    "Frag",
    "MT",
    "PT",
    "ML",
    "FAF",
    "GT_Dets",
    "GT_IDs",
    "Dets",
    "IDs",
    "HOTA(0)",
    "LocA(0)",
]


def table(rows, cls=None, conf=None) -> BoxTable:
    """Rows of (frame, id, left, top, width, height)."""
    rows = np.asarray(rows, dtype=float).reshape(-1, 6)
    return BoxTable.build(frame=rows[:, 0], id=rows[:, 1], box=rows[:, 2:6], cls_=cls, conf=conf)


def two_tracks() -> BoxTable:
    return table([(f, i, 20 * i, 0, 10, 10) for f in range(1, 5) for i in (1, 2)])


def test_box_iou_known_values_and_degenerate_boxes():
    a = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 0, 10]])
    b = np.array([[5, 0, 10, 10], [20, 20, 5, 5], [0, 0, 10, 10]])
    np.testing.assert_allclose(box_iou(a, b), [50 / 150, 0, 0])
    assert box_iou(a[:, None], b[None]).shape == (3, 3)


def test_frame_pairs_layout_and_overlapping_pairs_match_dense_iou():
    pairs = FramePairs(np.array([1, 1, 3]), np.array([1, 2, 3, 3]), 3)
    flat = pairs.dense(np.array([1, 2]), np.array([0, 3]), np.array([0.5, 0.25]))
    assert flat.tolist() == [0, 0.5, 0, 0.25]
    assert [m.shape for m in pairs.matrices(flat)] == [(2, 1), (0, 1), (1, 2)]

    rng = np.random.default_rng(0)
    for _ in range(20):
        n_a, n_b, frames = rng.integers(0, 30), rng.integers(0, 30), 4
        a_frames = np.sort(rng.integers(1, frames + 1, n_a))
        b_frames = np.sort(rng.integers(1, frames + 1, n_b))
        a_box = rng.uniform(0, 40, (n_a, 4)).round(rng.integers(0, 3))
        b_box = rng.uniform(0, 40, (n_b, 4)).round(rng.integers(0, 3))
        layout = FramePairs(a_frames, b_frames, frames)
        sparse = layout.matrices(layout.dense(*overlapping_pairs(a_frames, a_box, b_frames, b_box)))
        for t, matrix in enumerate(sparse, start=1):
            expected = box_iou(a_box[a_frames == t][:, None], b_box[b_frames == t][None])
            np.testing.assert_array_equal(matrix, expected)


def test_perfect_tracker_scores_one_and_types():
    gt = two_tracks()
    pred = BoxTable.build(frame=gt.frame, box=gt.box, id=gt.id + 10)
    res = evaluate({"a": gt}, {"a": pred})
    combined = res["combined"]
    assert set(REQUIRED) <= set(combined) and set(combined) == {m.name for m in TRACKEVAL_METRICS}
    for metric in ("MOTA", "MOTP", "IDF1", "HOTA", "DetA", "AssA", "LocA"):
        assert combined[metric] == pytest.approx(1.0)
    assert (combined["MT"], combined["FP"], combined["GT_Dets"], combined["IDs"]) == (2, 0, 8, 2)
    assert type(combined["FP"]) is int and type(combined["MOTA"]) is float
    assert res["sequences"]["a"] == combined


def test_empty_prediction_and_num_frames():
    gt = two_tracks()
    res = evaluate({"a": gt}, {"a": BoxTable.empty()}, num_frames={"a": 10})["combined"]
    # TrackEval's early return for a sequence without predictions leaves CLR_Frames at 0
    assert (res["FN"], res["ML"], res["MOTA"], res["HOTA"], res["Frames"]) == (8, 2, 0.0, 0.0, 0)
    fp = table([(1, 9, 90, 90, 5, 5)])
    assert evaluate({"a": gt}, {"a": fp}, num_frames={"a": 10})["combined"]["FAF"] == 0.1
    assert evaluate({"a": gt}, {"a": fp})["combined"]["Frames"] == 4


def test_id_switch_and_combined_sums():
    gt = two_tracks()
    pred = BoxTable.build(frame=gt.frame, box=gt.box, id=np.where(gt.frame > 2, 3 - gt.id, gt.id))
    res = evaluate({"a": gt, "b": gt}, {"a": pred, "b": gt})
    assert res["sequences"]["a"]["IDSW"] == 2 and res["sequences"]["b"]["IDSW"] == 0
    assert res["combined"]["IDSW"] == 2 and res["combined"]["GT_Dets"] == 16
    assert res["combined"]["MOTA"] == pytest.approx(1 - 2 / 16)


def test_errors():
    gt = two_tracks()
    with pytest.raises(ConfigError, match="unknown evaluation protocol 'mot18'"):
        evaluate({"a": gt}, {"a": gt}, "mot18")
    with pytest.raises(FormatError, match="without both gt and prediction: b"):
        evaluate({"a": gt, "b": gt}, {"a": gt})
    with pytest.raises(FormatError, match="frame 4 outside 1..3"):
        evaluate({"a": gt}, {"a": gt}, num_frames={"a": 3})
    twice = BoxTable.concat([gt, table([(2, 1, 0, 0, 5, 5)])])
    with pytest.raises(FormatError, match="prediction: id 1 appears twice in frame 2"):
        evaluate({"a": gt}, {"a": twice})
    with pytest.raises(FormatError, match="class -1 is not a MOTChallenge class"):
        evaluate({"a": gt}, {"a": gt}, "mot17")


def test_plain_drops_only_zero_consider_flags_mot15_truncates():
    gt = table(
        [(1, 1, 0, 0, 10, 10), (1, 2, 20, 0, 10, 10), (1, 3, 40, 0, 10, 10)], conf=[1, 0, 0.5]
    )
    pred = table([(1, 1, 0, 0, 10, 10)])
    assert evaluate({"a": gt}, {"a": pred}, "plain")["combined"]["GT_Dets"] == 2
    assert evaluate({"a": gt}, {"a": pred}, "mot15")["combined"]["GT_Dets"] == 1


def test_mot17_removes_predictions_on_distractors_and_keeps_pedestrians_only():
    # frame 1: pedestrian, static person (7, distractor), car (3), zero-marked pedestrian
    gt = table(
        [(1, 1, 0, 0, 10, 10), (1, 2, 20, 0, 10, 10), (1, 3, 40, 0, 10, 10), (1, 4, 60, 0, 10, 10)],
        cls=[1, 7, 3, 1],
        conf=[1, 1, 1, 0],
    )
    pred = table(
        [(1, 1, 0, 0, 10, 10), (1, 2, 21, 0, 10, 10), (1, 3, 40, 0, 10, 10), (1, 4, 60, 0, 10, 10)]
    )
    res = evaluate({"a": gt}, {"a": pred}, "mot17")["combined"]
    # distractor match removed; car and zero-marked matches stay as false positives
    assert (res["GT_Dets"], res["Dets"], res["TP"], res["FP"]) == (1, 3, 1, 2)
    assert evaluate({"a": gt}, {"a": pred}, "mot15")["combined"]["GT_Dets"] == 3


def test_mot20_also_treats_non_mot_vehicle_as_distractor():
    gt = table([(1, 1, 0, 0, 10, 10), (1, 2, 20, 0, 10, 10)], cls=[1, 6])
    pred = table([(1, 1, 0, 0, 10, 10), (1, 2, 20, 0, 10, 10)])
    assert evaluate({"a": gt}, {"a": pred}, "mot17")["combined"]["FP"] == 1
    assert evaluate({"a": gt}, {"a": pred}, "mot20")["combined"]["FP"] == 0


def test_distractor_removal_follows_the_hungarian_match():
    """Pred 1 overlaps the distractor (0.67) and the pedestrian (0.82); the assignment pairs it
    with the pedestrian and pred 2 with the distractor, so only pred 2 is removed."""
    gt = table([(1, 1, 0, 0, 10, 10), (1, 2, 2, 0, 10, 10)], cls=[1, 7])
    pred = table([(1, 1, 1, 0, 10, 10), (1, 2, 3, 0, 10, 10)])
    res = evaluate({"a": gt}, {"a": pred}, "mot17")["combined"]
    assert (res["Dets"], res["TP"], res["FP"]) == (1, 1, 0)


@pytest.mark.parametrize("layout", ["{seq}.txt", "{seq}/gt/gt.txt", "{seq}/gt.txt"])
def test_evaluate_files_layouts(tmp_path, layout):
    gt = two_tracks()
    for seq in ("s1", "s2"):
        write_mot(tmp_path / "gt" / layout.format(seq=seq), gt, "gt")
        write_mot(tmp_path / "pred" / f"{seq}.txt", gt, "result")
    if layout == "{seq}/gt/gt.txt":
        (tmp_path / "gt" / "s1" / "seqinfo.ini").write_text("[Sequence]\nseqLength=7\n")
    res = evaluate_files(tmp_path / "gt", tmp_path / "pred")
    assert sorted(res["sequences"]) == ["s1", "s2"]
    assert res["combined"]["MOTA"] == 1.0 and res["combined"]["GT_Dets"] == 16
    assert res["sequences"]["s1"]["Frames"] == (7 if layout == "{seq}/gt/gt.txt" else 4)
    single = evaluate_files(tmp_path / "gt" / layout.format(seq="s1"), tmp_path / "pred" / "s1.txt")
    assert single["combined"] == res["sequences"]["s1"]


def test_evaluate_files_errors(tmp_path):
    gt = two_tracks()
    write_mot(tmp_path / "gt" / "s1.txt", gt, "gt")
    write_mot(tmp_path / "gt" / "s2.txt", gt, "gt")
    write_mot(tmp_path / "pred" / "s1.txt", gt, "result")
    with pytest.raises(FormatError, match="no prediction file for sequence s2") as err:
        evaluate_files(tmp_path / "gt", tmp_path / "pred")
    assert err.value.path == str(tmp_path / "pred" / "s2.txt")
    write_mot(tmp_path / "pred" / "s2.txt", gt, "result")
    write_mot(tmp_path / "pred" / "s3.txt", gt, "result")
    with pytest.raises(FormatError, match="prediction files without ground truth: s3.txt"):
        evaluate_files(tmp_path / "gt", tmp_path / "pred")
    (tmp_path / "pred" / "s3.txt").unlink()
    (tmp_path / "pred" / "s2.txt").write_text(
        "1,1,0,0,10,10,1,-1,-1,-1\n2,1,0,0,abc,10,1,-1,-1,-1\n"
    )
    with pytest.raises(FormatError, match=r"s2.txt:2: column 5 is not a number"):
        evaluate_files(tmp_path / "gt", tmp_path / "pred")
    with pytest.raises(FormatError, match="no ground-truth sequences"):
        evaluate_files(tmp_path / "pred" / "..", tmp_path / "pred")
    with pytest.raises(FormatError, match="ground truth not found"):
        evaluate_files(tmp_path / "missing", tmp_path / "pred")
