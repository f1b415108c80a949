"""The tracker contract: default ``track`` == a manual step loop, ``check_result``, the registry."""

from __future__ import annotations

import numpy as np
import pytest

from harness.data import BoxTable, Sequence, frame_inputs, outputs_to_table
from harness.errors import ConfigError
from harness.protocol import check_result, sequence_info
from harness.registry import methods, parse_method
from trackers.baselines.iou_tracker import IOUTracker, OfflineIOUTracker


def random_sequence(name: str, seed: int, num_frames: int = 60, objects: int = 5) -> Sequence:
    """Objects moving at constant velocity plus box noise and spurious boxes, as detections."""
    rng = np.random.default_rng(seed)
    start = rng.uniform(0, 400, (objects, 2))
    velocity = rng.uniform(-4, 4, (objects, 2))
    t = np.arange(1, num_frames + 1)
    centres = start[None] + velocity[None] * t[:, None, None]  # (T, objects, 2)
    boxes = np.concatenate([centres, np.full_like(centres, 30.0)], axis=2).reshape(-1, 4)
    boxes[:, :2] += rng.normal(0, 1.5, (len(boxes), 2))
    keep = rng.random(len(boxes)) > 0.1
    frames = np.repeat(t, objects)[keep]
    spurious = rng.integers(1, num_frames + 1, 20)
    detections = BoxTable.build(
        frame=np.concatenate([frames, spurious]),
        box=np.concatenate([boxes[keep], rng.uniform(0, 400, (20, 4)) + [0, 0, 10, 10]]),
        conf=np.concatenate([rng.uniform(0.4, 1.0, keep.sum()), rng.uniform(0.0, 0.6, 20)]),
    )
    return Sequence(name, num_frames, 640, 480, 30.0, gt=BoxTable.empty(), detections=detections)


@pytest.mark.parametrize("ref", ["sort", "sort:no-min-hits", "sort:max-age-30", "iou"])
def test_default_track_equals_manual_step_loop(ref):
    spec, ablation = parse_method(ref)
    sequences = [random_sequence("a", 0), random_sequence("b", 1)]
    batched = spec.build(ablation).track(sequences)
    tracker = spec.build(ablation)
    for sequence, result in zip(sequences, batched):
        tracker.reset(sequence_info(sequence))
        manual = outputs_to_table([tracker.step(f) for f in frame_inputs(sequence, tracker.inputs)])
        assert len(manual) > 0 and manual.equals(result)
        check_result(result, sequence.num_frames)


def test_offline_trackers_only_track_whole_sequences():
    sequence = random_sequence("a", 2)
    spec, ablation = parse_method("iou:offline")
    tracker = spec.build(ablation)
    assert isinstance(tracker, OfflineIOUTracker) and not tracker.online
    result = tracker.track([sequence])[0]
    check_result(result, sequence.num_frames)
    with pytest.raises(NotImplementedError):
        tracker.step(next(frame_inputs(sequence, tracker.inputs)))


def table(frame, ids, boxes) -> BoxTable:
    return BoxTable.build(frame=frame, id=ids, box=np.array(boxes, float).reshape(-1, 4))


@pytest.mark.parametrize(
    "bad, message",
    [
        (table([1, 2], [1, 1], [[0, 0, 5, 5], [0, np.nan, 5, 5]]), "frame 2: .*NaN"),
        (table([1, 1], [3, 3], [[0, 0, 5, 5], [9, 9, 5, 5]]), "twice in one frame"),
        (table([1, 3], [1, 2], [[0, 0, 5, 5], [0, 0, 0, 5]]), "frame 3: .*<= 0"),
        (table([1], [0], [[0, 0, 5, 5]]), "positive"),
        (table([1, 11], [1, 1], [[0, 0, 5, 5], [0, 0, 5, 5]]), "outside 1..10"),
    ],
)
def test_check_result_catches_invalid_output(bad, message):
    with pytest.raises(ValueError, match=message):
        check_result(bad, num_frames=10)
    check_result(table([1, 1, 2], [1, 2, 1], [[0, 0, 5, 5]] * 3), num_frames=10)  # valid


def test_registry_lists_baselines_with_their_metadata():
    registered = methods()
    assert {"sort", "iou", "ground-truth"} <= set(registered)
    assert registered["sort"].inputs == {"detections"}
    assert registered["ground-truth"].inputs == frozenset()
    assert all(registered[name].paper and registered[name].table for name in ("sort", "iou"))


def test_unknown_ablation_names_the_known_ones():
    with pytest.raises(ConfigError) as error:
        parse_method("sort:unknown")
    assert "no-min-hits" in str(error.value) and "max-age-30" in str(error.value)
    with pytest.raises(ConfigError, match="did you mean 'sort'"):
        parse_method("sortt")


def test_ablation_overrides_are_applied():
    spec, _ = parse_method("sort")
    assert spec.build().min_hits == 3 and spec.build("no-min-hits").min_hits == 0
    assert spec.build("max-age-30").max_age == 30
    assert spec.build(iou_threshold=0.5).iou_threshold == 0.5
    with pytest.raises(ConfigError, match="no config keys"):
        spec.build(sigma=1)
    iou, _ = parse_method("iou")
    assert isinstance(iou.build(), IOUTracker)
    sdp = iou.build("mot17-sdp")
    assert isinstance(sdp, OfflineIOUTracker)
    assert (sdp.sigma_l, sdp.sigma_h, sdp.sigma_iou, sdp.t_min) == (0.4, 0.5, 0.2, 2)
    with pytest.raises(ValueError, match="online' or 'offline"):
        iou.build(report="later")
