"""Baselines on hand-made detections: SORT (and its Kalman filter), IOU tracker, GT double."""

from __future__ import annotations

import numpy as np
import pytest

from harness.data import BoxTable, Sequence
from harness.motchallenge import read_mot
from trackers.baselines.ground_truth import GroundTruthTracker
from trackers.baselines.iou_tracker import IOUTracker, OfflineIOUTracker
from trackers.baselines.sort import SORT
from trackers.common.kalman import (
    INITIAL_COVARIANCE,
    MEASUREMENT,
    MEASUREMENT_NOISE,
    PROCESS_NOISE,
    TRANSITION,
    BoxKalmanFilter,
    box_to_measurement,
    state_to_box,
)


def make_sequence(rows: list[tuple[int, list[float], float]], num_frames: int) -> Sequence:
    """A sequence without images whose public detections are ``rows`` of (frame, ltwh, score)."""
    detections = BoxTable.build(
        frame=[r[0] for r in rows],
        box=np.array([r[1] for r in rows]).reshape(-1, 4),
        conf=[r[2] for r in rows],
    )
    return Sequence("hand", num_frames, 640, 480, 30.0, gt=BoxTable.empty(), detections=detections)


def moving(
    start: tuple[float, float],
    velocity: tuple[float, float],
    frames,
    size=(20.0, 40.0),
    score: float = 0.9,
) -> list[tuple[int, list[float], float]]:
    """Detections of one object moving at constant velocity over ``frames``."""
    return [
        (t, [start[0] + velocity[0] * t, start[1] + velocity[1] * t, *size], score) for t in frames
    ]


def ids_by_frame(result: BoxTable) -> dict[int, list[int]]:
    return {int(f): sorted(result.id[result.frame == f].tolist()) for f in np.unique(result.frame)}


# --- Kalman filter -------------------------------------------------------------------------------


def test_measurement_round_trip():
    boxes = np.array([[10.0, 20.0, 30.0, 60.0], [0.0, 0.0, 5.0, 2.0]])
    z = box_to_measurement(boxes)
    np.testing.assert_allclose(z[0], [25.0, 50.0, 1800.0, 0.5])
    np.testing.assert_allclose(state_to_box(z), boxes, atol=1e-9)
    assert np.isnan(state_to_box(np.array([[0.0, 0.0, 0.0, 1.0]]))).any()


def test_kalman_predict_algebra():
    kf = BoxKalmanFilter()
    kf.add(np.array([[10.0, 20.0, 30.0, 60.0], [100.0, 100.0, 10.0, 10.0]]))
    np.testing.assert_array_equal(kf.covariance[1], INITIAL_COVARIANCE)
    kf.mean[:, 4:] = [[2.0, -1.0, 5.0], [0.0, 3.0, -200.0]]  # track 1's area would go negative
    mean, cov = kf.mean.copy(), kf.covariance.copy()
    kf.predict()
    np.testing.assert_allclose(kf.mean[0], TRANSITION @ mean[0])
    np.testing.assert_allclose(kf.mean[0, :3], mean[0, :3] + [2.0, -1.0, 5.0])
    assert kf.mean[1, 6] == 0.0 and kf.mean[1, 2] == mean[1, 2]  # area velocity zeroed first
    np.testing.assert_allclose(kf.covariance[0], TRANSITION @ cov[0] @ TRANSITION.T + PROCESS_NOISE)


def test_kalman_update_matches_textbook_per_track():
    rng = np.random.default_rng(3)
    kf = BoxKalmanFilter()
    kf.add(np.column_stack([rng.uniform(0, 100, (4, 2)), rng.uniform(10, 50, (4, 2))]))
    for _ in range(3):
        kf.predict()
    mean, cov = kf.mean.copy(), kf.covariance.copy()
    index = np.array([0, 2, 3])
    observed = np.column_stack([rng.uniform(0, 100, (3, 2)), rng.uniform(10, 50, (3, 2))])
    kf.update(index, observed)
    for row, track in enumerate(index):
        P, x, z = cov[track], mean[track], box_to_measurement(observed[row])[0]
        S = MEASUREMENT @ P @ MEASUREMENT.T + MEASUREMENT_NOISE
        K = P @ MEASUREMENT.T @ np.linalg.inv(S)
        np.testing.assert_allclose(kf.mean[track], x + K @ (z - MEASUREMENT @ x), rtol=1e-9)
        np.testing.assert_allclose(
            kf.covariance[track], (np.eye(7) - K @ MEASUREMENT) @ P, rtol=1e-6, atol=1e-6
        )
    np.testing.assert_array_equal(kf.mean[1], mean[1])  # not updated
    np.testing.assert_array_equal(kf.covariance[1], cov[1])


# --- SORT ----------------------------------------------------------------------------------------


def test_sort_constant_velocity_object_keeps_one_id():
    seq = make_sequence(moving((10, 100), (6, 2), range(1, 51)), 50)
    result = SORT().track([seq])[0]
    assert len(result) == 50 and set(result.id) == {1}
    truth = np.array([r[1] for r in moving((10, 100), (6, 2), range(1, 51))])
    assert np.abs(result.box - truth).max() < 1.0  # the filtered state stays on the detections


def test_sort_min_hits_delay():
    # object 1 from frame 1 (reported at once: frame_count <= min_hits); object 2 appears at 10
    rows = moving((10, 10), (3, 0), range(1, 21)) + moving((300, 200), (0, 3), range(10, 21))
    result = SORT(min_hits=3).track([make_sequence(rows, 20)])[0]
    ids = ids_by_frame(result)
    assert ids[1] == [1] and ids[9] == [1] and ids[12] == [1]
    assert ids[13] == [1, 2]  # created at 10, three consecutive matches at 11, 12, 13
    immediate = ids_by_frame(SORT(min_hits=0).track([make_sequence(rows, 20)])[0])
    assert immediate[10] == [1, 2]


def test_sort_max_age():
    frames_one_gap = [t for t in range(1, 31) if t != 15]
    frames_two_gap = [t for t in range(1, 31) if t not in (15, 16)]
    one_gap = SORT().track([make_sequence(moving((10, 10), (4, 1), frames_one_gap), 30)])[0]
    assert set(one_gap.id) == {1}  # survives one missed frame (max_age=1) ...
    assert 16 not in one_gap.frame and 17 not in one_gap.frame  # ... needs 3 hits again ...
    assert 18 in one_gap.frame
    two_gap = SORT().track([make_sequence(moving((10, 10), (4, 1), frames_two_gap), 30)])[0]
    assert set(two_gap.id) == {1, 2}  # deleted after two missed frames
    kept = SORT(max_age=2).track([make_sequence(moving((10, 10), (4, 1), frames_two_gap), 30)])[0]
    assert set(kept.id) == {1}


def test_sort_two_crossing_objects_keep_their_ids():
    rows = moving((10, 100), (8, 0), range(1, 41)) + moving((330, 110), (-8, 0), range(1, 41))
    result = SORT().track([make_sequence(rows, 40)])[0]
    assert len(result) == 80
    upper = np.zeros(len(result), bool)  # object 1 is the one with the smaller top (y = 100)
    for frame in range(1, 41):
        here = np.flatnonzero(result.frame == frame)
        upper[here[np.argmin(result.box[here, 1])]] = True
    assert set(result.id[upper]) == {1} and set(result.id[~upper]) == {2}


def test_sort_min_score_drops_detections():
    weak = moving((10, 10), (3, 0), range(1, 11), score=0.2)
    rows = weak + moving((300, 300), (0, 3), range(1, 11))
    result = SORT(min_score=0.5).track([make_sequence(rows, 10)])[0]
    assert len(result) == 10 and (result.box[:, 0] > 200).all()


# --- IOU tracker ---------------------------------------------------------------------------------


def test_iou_tracker_sigma_l_and_sigma_h():
    low = moving((10, 10), (2, 0), range(1, 11), score=0.1)  # below sigma_l: dropped
    medium = moving((200, 10), (2, 0), range(1, 11), score=0.4)  # never reaches sigma_h
    mixed = moving((400, 10), (2, 0), range(1, 11), score=0.4)
    mixed[6] = (mixed[6][0], mixed[6][1], 0.8)  # one strong detection at frame 7 validates all
    seq = make_sequence(low + medium + mixed, 10)
    offline = OfflineIOUTracker(sigma_l=0.3, sigma_h=0.5, sigma_iou=0.3, t_min=2).track([seq])[0]
    assert len(offline) == 10 and (offline.box[:, 0] >= 400).all()
    assert np.allclose(offline.conf, 0.8)  # the track's best score, as the reference writes
    online = IOUTracker(sigma_l=0.3, sigma_h=0.5, sigma_iou=0.3, t_min=2).track([seq])[0]
    assert online.frame.tolist() == [7, 8, 9, 10]  # reported once valid


def test_iou_tracker_t_min_and_sigma_iou():
    short = moving((10, 10), (2, 0), range(1, 4))  # 3 boxes
    jumpy = moving((300, 10), (15, 0), range(1, 9))  # 20 px wide, 15 px/frame: IoU 1/7 < 0.3
    seq = make_sequence(short + jumpy, 8)
    assert len(OfflineIOUTracker(0.0, 0.5, 0.3, t_min=4).track([seq])[0]) == 0
    kept = OfflineIOUTracker(0.0, 0.5, 0.3, t_min=3).track([seq])[0]
    assert len(kept) == 3 and set(kept.id) == {1}
    linked = OfflineIOUTracker(0.0, 0.5, sigma_iou=0.1, t_min=3).track([seq])[0]
    assert len(linked) == 11 and len(set(linked.id)) == 2


def test_iou_tracker_greedy_best_match_per_track():
    # track at x=100; next frame two candidates: IoU 0.6 (x=105) and 0.82 (x=102): best wins
    rows = [(1, [100, 10, 20, 40], 0.9), (2, [105, 10, 20, 40], 0.9), (2, [102, 10, 20, 40], 0.9)]
    result = OfflineIOUTracker(0.0, 0.5, 0.5, t_min=1).track([make_sequence(rows, 2)])[0]
    first = result.id[(result.frame == 1)][0]
    assert result.box[(result.frame == 2) & (result.id == first), 0].tolist() == [102.0]


def test_iou_online_is_offline_minus_unconfirmed_prefix():
    rng = np.random.default_rng(7)
    rows = []
    for k in range(6):
        start = rng.integers(1, 30)
        frames = range(start, start + rng.integers(2, 25))
        rows += moving((60.0 * k, 20.0), (2.0, 1.5), frames, score=float(rng.uniform(0.3, 1.0)))
    seq = make_sequence(rows, 60)
    params = {"sigma_l": 0.3, "sigma_h": 0.5, "sigma_iou": 0.3, "t_min": 5}
    offline = OfflineIOUTracker(**params).track([seq])[0]
    online = IOUTracker(**params).track([seq])[0]
    assert 0 < len(online) < len(offline)
    offline_rows = {(f, tuple(b)) for f, b in zip(offline.frame, offline.box)}
    assert {(f, tuple(b)) for f, b in zip(online.frame, online.box)} <= offline_rows
    for track in np.unique(offline.id):  # each offline track loses at most its first t_min - 1
        mine = offline.select(offline.id == track)
        reported = np.isin(mine.frame, online.frame)  # objects are disjoint in this scene
        assert reported[4:].all() and (~reported).sum() <= 4


# --- ground-truth double -------------------------------------------------------------------------


def test_ground_truth_double_replays_considered_gt(motmetrics_data):
    gt = read_mot(motmetrics_data / "TUD-Campus" / "gt.txt", "gt")
    gt = BoxTable(
        gt.frame, gt.id, gt.box, np.where(gt.id == gt.id[0], 0.0, gt.conf), gt.cls, gt.visibility
    )  # mark one track as ignored
    seq = Sequence("TUD-Campus", int(gt.frame.max()), 640, 480, 25.0, gt=gt)
    result = GroundTruthTracker().track([seq])[0]
    considered = gt.select(gt.conf != 0).sorted()
    assert len(result) == len(considered) < len(gt)
    np.testing.assert_array_equal(result.id, considered.id)
    np.testing.assert_array_equal(result.box, considered.box)
    assert (result.conf == 1).all()
    with pytest.raises(NotImplementedError):
        GroundTruthTracker().reset({})


def test_ground_truth_double_scores_perfectly(motmetrics_data):
    from harness.metrics import evaluate

    gt = read_mot(motmetrics_data / "TUD-Stadtmitte" / "gt.txt", "gt")
    seq = Sequence("TUD-Stadtmitte", int(gt.frame.max()), 640, 480, 25.0, gt=gt)
    result = GroundTruthTracker().track([seq])[0]
    metrics = evaluate({seq.name: gt}, {seq.name: result}, num_frames={seq.name: seq.num_frames})
    assert [metrics["combined"][k] for k in ("MOTA", "IDF1", "HOTA")] == [1.0, 1.0, 1.0]
