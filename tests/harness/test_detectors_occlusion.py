"""Oracle occlusion misses: boxes below a visibility threshold are never detected, and nothing else
changes; the experiment's noise levels carry the threshold; a crowded Sprites-MOT run end to end."""

from __future__ import annotations

import numpy as np
import pytest
from experiment_helpers import run, write

from harness.data import BoxTable, Sequence
from harness.detectors import OracleNoise, oracle_detections
from harness.errors import ConfigError
from harness.experiment import NoiseLevel, expand, load_experiment
from harness.results.summary import COMBINED

FRAMES, PER_FRAME, SIDE = 300, 4, 200


def toy(visibility: np.ndarray | None = None) -> Sequence:
    """PER_FRAME whole-pixel boxes in every frame (unjittered, they come back exactly);
    ``visibility`` per row (default: uniform, a few unknown)."""
    rng = np.random.default_rng(0)
    n = FRAMES * PER_FRAME
    if visibility is None:
        visibility = np.where(rng.random(n) < 0.1, -1.0, rng.random(n))
    gt = BoxTable.build(
        frame=np.repeat(np.arange(1, FRAMES + 1), PER_FRAME),
        box=np.concatenate([rng.integers(1, 150, (n, 2)), rng.integers(10, 40, (n, 2))], 1),
        id=np.tile(np.arange(1, PER_FRAME + 1), FRAMES),
        visibility=visibility,
    )
    return Sequence("toy", FRAMES, SIDE, SIDE, 30.0, gt)


def test_boxes_below_the_threshold_are_never_detected():
    visibility = np.tile([1.0, 0.5, 0.49, -1.0], FRAMES)
    sequence = toy(visibility)

    # Strictly below the threshold; -1 (unknown) is always kept.
    for threshold, kept in [(0.0, [1, 0.5, 0.49, -1]), (0.5, [1, 0.5, -1]), (1.0, [1, -1])]:
        detections = oracle_detections(sequence, OracleNoise(occlusion_miss=threshold), seed=0)
        assert np.array_equal(detections.box, sequence.gt.box[np.isin(visibility, kept)])


@pytest.mark.parametrize("miss_rate, jitter", [(0.0, 0.1), (0.3, 0.0)])
def test_only_the_occluded_boxes_differ_from_the_variant_without(miss_rate, jitter):
    sequence = toy()
    gt = sequence.gt
    levels = {"miss_rate": miss_rate, "jitter": jitter, "fp_rate": 0.5}
    plain = oracle_detections(sequence, OracleNoise(**levels), seed=7)
    occluded = oracle_detections(sequence, OracleNoise(**levels, occlusion_miss=0.4), seed=7)
    hidden = (gt.visibility >= 0) & (gt.visibility < 0.4)
    if jitter:  # no random misses: the first PER_FRAME rows of a frame are its gt rows, in order
        rank = np.arange(len(plain)) - np.searchsorted(plain.frame, plain.frame)
        source = np.flatnonzero(rank < PER_FRAME)
        drop = np.zeros(len(plain), bool)
        drop[source] = hidden
    else:  # exact boxes: a detection is an occluded gt box when its frame and box are one
        occluded_rows = {(f, *b) for f, b in zip(gt.frame[hidden], gt.box[hidden].tolist())}
        drop = np.array([(f, *b) in occluded_rows for f, b in zip(plain.frame, plain.box.tolist())])
        assert 0 < drop.sum() < hidden.sum()  # some occluded boxes were missed at random anyway
    assert drop.sum() > 100
    assert occluded.equals(plain.select(~drop))


def test_without_visibility_the_threshold_is_a_config_error():
    sequence = toy(np.full(FRAMES * PER_FRAME, -1.0))
    assert len(oracle_detections(sequence, OracleNoise(), seed=0)) == FRAMES * PER_FRAME
    with pytest.raises(ConfigError, match="sequence toy has none"):
        oracle_detections(sequence, OracleNoise(occlusion_miss=0.5), seed=0)
    empty = Sequence("empty", 10, SIDE, SIDE, 30.0, BoxTable.empty())
    assert len(oracle_detections(empty, OracleNoise(occlusion_miss=0.5), seed=0)) == 0


def test_noise_levels_carry_the_threshold_only_when_set():
    assert NoiseLevel().model_dump() == {"miss_rate": 0.0, "jitter": 0.0, "fp_rate": 0.0}
    assert NoiseLevel(occlusion_miss=0.5).model_dump()["occlusion_miss"] == 0.5
    assert OracleNoise(**NoiseLevel(occlusion_miss=1).model_dump()).occlusion_miss == 1.0


EXPERIMENT = """\
name: crowded
datasets:
  - name: sprites-mot
    split: eval
    root: {root}
    params: {{objects: 6, eval_frames: 60}}
    detections:
      clean: {{}}
      occlusion: {{occlusion_miss: {threshold}}}
methods: [iou]
seeds: [0]
timing: {{warmup_frames: 2}}
"""


def test_an_out_of_range_threshold_is_an_error_at_its_line(tmp_path):
    path = write(tmp_path, EXPERIMENT.format(root=tmp_path, threshold=1.5))
    with pytest.raises(ConfigError, match="less than or equal to 1") as info:
        load_experiment(path)
    assert info.value.line == 9


def test_six_sprites_with_occlusion_misses_run_end_to_end(tmp_path):
    path = write(tmp_path, EXPERIMENT.format(root=tmp_path / "cache", threshold=0.5))
    cells = {cell.detections: cell for cell in expand(load_experiment(path))}
    assert cells["clean"].noise == {"miss_rate": 0.0, "jitter": 0.0, "fp_rate": 0.0}
    assert cells["occlusion"].noise == {**cells["clean"].noise, "occlusion_miss": 0.5}
    store = run(path, tmp_path)
    metrics = store.metrics_frame("crowded")
    combined = metrics[metrics.sequence == COMBINED]
    frame = combined.set_index(["detections", "metric"])["value"]
    assert frame["occlusion", "FN"] > frame["clean", "FN"]
