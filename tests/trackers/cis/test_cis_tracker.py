"""The cis tracker: online steps, the offline post-processing, and its config."""

import numpy as np
import pytest

from harness.data import frame_inputs
from harness.datasets import load_dataset
from harness.detectors import OracleNoise, oracle_detections
from harness.errors import ConfigError
from harness.protocol import sequence_info
from trackers.cis.tracker import CISTracker, usable_detections
from trackers.common.tracks import drop_short_tracks, interpolate_gaps


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    adapter = load_dataset(
        "sprites-mot", tmp_path_factory.mktemp("sprites"), objects=4, eval_frames=30
    )
    sequence = adapter.sequences("eval")[0]
    return sequence, oracle_detections(sequence, OracleNoise(miss_rate=0.1, fp_rate=0.3), 0)


def stepped(tracker, sequence, detections):
    tracker.reset(sequence_info(sequence))
    return [tracker.step(f) for f in frame_inputs(sequence, tracker.inputs, detections)]


@pytest.mark.parametrize("scores", ["visual-spatial", "spatial", "visual"])
def test_offline_tracks_are_the_online_steps_post_processed(video, scores):
    sequence, detections = video
    online = CISTracker(dataset="sprites-mot", smoke=True, scores=scores, online=True)
    offline = CISTracker(dataset="sprites-mot", smoke=True, scores=scores)
    steps = online.track([sequence], [detections])[0]
    assert len(steps) > 0 and steps.frame.max() <= sequence.num_frames
    expected = interpolate_gaps(drop_short_tracks(steps, 4))
    assert offline.track([sequence], [detections])[0].equals(expected)


def test_every_detection_is_reported_once_per_processed_frame(video):
    sequence, detections = video
    tracker = CISTracker(dataset="sprites-mot", smoke=True, online=True, skip=2)
    outputs = stepped(tracker, sequence, detections)
    per_frame = detections.split_by_frame(sequence.num_frames)
    for number, output in enumerate(outputs, start=1):
        if number % 2 == 0:
            assert len(output.ids) == 0  # skipped frames report nothing online
            continue
        kept, _ = usable_detections(per_frame[number - 1].box, sequence.width, sequence.height)
        assert len(output.ids) == len(kept) == len(set(output.ids.tolist()))
        np.testing.assert_array_equal(output.boxes, kept)


def test_small_and_outside_detections_are_not_tracked():
    boxes = np.array([[-5.0, 1.0, 10.0, 10.0], [1.0, 1.0, 3.0, 10.0], [95.0, 95.0, 20.0, 20.0]])
    kept, mask = usable_detections(boxes, width=100, height=100)
    assert mask.tolist() == [True, False, True]
    np.testing.assert_array_equal(kept, [[1, 1, 4, 10], [95, 95, 6, 6]])


def test_unknown_settings_are_refused():
    with pytest.raises(ConfigError, match="scores must be one of"):
        CISTracker(dataset="sprites-mot", smoke=True, scores="both")
    with pytest.raises(ConfigError, match="no configuration for dataset"):
        CISTracker(dataset="sprites")
