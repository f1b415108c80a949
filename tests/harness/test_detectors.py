"""The oracle detector: parameter checks, miss / jitter / false-positive statistics, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from harness.data import BoxTable, Sequence
from harness.detectors import OracleNoise, oracle_detections
from harness.errors import ConfigError

FRAMES, PER_FRAME, WIDTH, HEIGHT = 2000, 5, 640, 480


@pytest.fixture(scope="module")
def sequence() -> Sequence:
    rng = np.random.default_rng(3)
    n = FRAMES * PER_FRAME
    size = rng.uniform(20, 80, (n, 2))
    left_top = 1 + rng.uniform(0, 1, (n, 2)) * ([WIDTH, HEIGHT] - size)
    gt = BoxTable.build(
        frame=np.repeat(np.arange(1, FRAMES + 1), PER_FRAME),
        box=np.concatenate([left_top, size], axis=1),
        id=np.tile(np.arange(1, PER_FRAME + 1), FRAMES),
    )
    return Sequence("toy", FRAMES, WIDTH, HEIGHT, 30.0, gt)


@pytest.mark.parametrize(
    "noise",
    [
        {"miss_rate": -0.1},
        {"miss_rate": 1.5},
        {"jitter": -1.0},
        {"fp_rate": -0.5},
        {"fp_rate": float("nan")},
        {"jitter": float("inf")},
        {"occlusion_miss": -0.1},
        {"occlusion_miss": 1.5},
        {"occlusion_miss": float("nan")},
    ],
)
def test_invalid_noise_is_a_config_error(noise):
    with pytest.raises(ConfigError, match="oracle"):
        OracleNoise(**noise)


def test_no_noise_gives_the_ground_truth(sequence):
    dets = oracle_detections(sequence, OracleNoise(), seed=0)
    assert np.array_equal(dets.frame, sequence.gt.frame)
    assert np.allclose(dets.box, sequence.gt.box)
    assert (dets.id == -1).all() and ((dets.conf > 0) & (dets.conf < 1)).all()


def test_zero_marked_gt_is_ignored(sequence):
    conf = np.where(sequence.gt.id == 1, 0.0, 1.0)
    gt = BoxTable.build(sequence.gt.frame, sequence.gt.box, id=sequence.gt.id, conf=conf)
    marked = Sequence("marked", FRAMES, WIDTH, HEIGHT, 30.0, gt)
    assert len(oracle_detections(marked, OracleNoise(), seed=0)) == FRAMES * (PER_FRAME - 1)


def test_miss_rate(sequence):
    n = len(sequence.gt)
    kept = len(oracle_detections(sequence, OracleNoise(miss_rate=0.3), seed=1))
    assert abs(kept / n - 0.7) < 4 * np.sqrt(0.21 / n)
    assert len(oracle_detections(sequence, OracleNoise(miss_rate=1.0), seed=1)) == 0


def test_higher_miss_rate_drops_a_superset(sequence):
    low = oracle_detections(sequence, OracleNoise(miss_rate=0.2), seed=5)
    high = oracle_detections(sequence, OracleNoise(miss_rate=0.4), seed=5)

    def as_rows(table):
        return {tuple(r) for r in np.column_stack([table.frame, table.box]).tolist()}

    assert as_rows(high) < as_rows(low)


def test_jitter_statistics(sequence):
    jitter = 0.1
    dets = oracle_detections(sequence, OracleNoise(jitter=jitter), seed=2)
    gt = sequence.gt.box
    centre_error = (dets.box[:, :2] + dets.box[:, 2:] / 2 - gt[:, :2] - gt[:, 2:] / 2) / gt[:, 2:]
    size_error = (dets.box[:, 2:] - gt[:, 2:]) / gt[:, 2:]
    n = len(gt)
    for error in (centre_error, size_error):
        assert np.abs(error.mean(axis=0)).max() < 4 * jitter / np.sqrt(n)
        assert np.abs(error.std(axis=0) / jitter - 1).max() < 0.05
    huge = oracle_detections(sequence, OracleNoise(jitter=3.0), seed=2)
    assert (huge.box[:, 2:] > 0).all()


def test_false_positives(sequence):
    rate = 0.8
    dets = oracle_detections(sequence, OracleNoise(fp_rate=rate), seed=4)
    fp = len(dets) - len(sequence.gt)
    assert abs(fp - rate * FRAMES) < 4 * np.sqrt(rate * FRAMES)
    assert np.all(np.diff(dets.frame) >= 0) and dets.frame.max() <= FRAMES
    # Every box lies inside the image (1-based pixels) and has a plausible size.
    left, top, width, height = dets.box.T
    assert left.min() >= 1 and top.min() >= 1
    assert (left + width - 1).max() <= WIDTH + 1e-9 and (top + height - 1).max() <= HEIGHT + 1e-9
    # Within a frame the kept ground truth comes first, in gt order, then the false positives.
    rank = np.arange(len(dets)) - np.searchsorted(dets.frame, dets.frame)
    tp_rows = rank < PER_FRAME
    assert np.allclose(dets.box[tp_rows], sequence.gt.box)
    assert dets.conf[tp_rows].mean() > dets.conf[~tp_rows].mean() + 0.3
    assert width[~tp_rows].min() >= 20 and width[~tp_rows].max() <= 80


def test_false_positives_without_ground_truth():
    empty = Sequence("empty", 500, WIDTH, HEIGHT, 30.0, BoxTable.empty())
    dets = oracle_detections(empty, OracleNoise(fp_rate=2.0), seed=0)
    assert len(dets) > 800 and np.allclose(dets.box[:, 2:], [WIDTH / 10, HEIGHT / 10])


def test_deterministic_by_seed(sequence):
    noise = OracleNoise(miss_rate=0.2, jitter=0.05, fp_rate=0.5)
    first = oracle_detections(sequence, noise, seed=11)
    assert first.equals(oracle_detections(sequence, noise, seed=11))
    assert not np.array_equal(first.box, oracle_detections(sequence, noise, seed=12).box)
