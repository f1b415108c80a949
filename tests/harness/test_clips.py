"""Self-supervised clips: no identity reaches them, and the stream resumes where it stopped."""

import numpy as np
import pytest
from experiment_helpers import SMALL_SPRITES, write

from harness.clips import ClipStream
from harness.datasets import load_dataset
from harness.datasets.synthetic import SpritesMOT
from harness.detectors import OracleNoise
from harness.errors import ConfigError


def sprites(tmp_path):
    return load_dataset("sprites-mot", tmp_path, objects=4, eval_frames=20)


def clips_equal(a, b):
    return (
        all(np.array_equal(x.images, y.images) for x, y in zip(a, b))
        and all(np.array_equal(p, q) for x, y in zip(a, b) for p, q in zip(x.boxes, y.boxes))
        and all(np.array_equal(p, q) for x, y in zip(a, b) for p, q in zip(x.scores, y.scores))
    )


def test_clips_carry_no_identity(tmp_path, monkeypatch):
    """Renumbering every ground-truth id leaves the clips bit for bit the same."""
    adapter = sprites(tmp_path)
    noise = OracleNoise(miss_rate=0.1, jitter=0.05, fp_rate=0.5)
    plain = [ClipStream(adapter, "train", 6, noise, seed=3).next_batch() for _ in range(1)][0]
    chunk_class = type(
        adapter.generator.advance(adapter.generator.new_state(1), np.random.default_rng(0), 1)
    )
    original_gt = chunk_class.gt

    def scrambled_gt(self, stream=0):
        gt = original_gt(self, stream)
        object.__setattr__(gt, "id", gt.id * 7919 + 13)
        return gt

    monkeypatch.setattr(chunk_class, "gt", scrambled_gt)
    renamed = ClipStream(adapter, "train", 6, noise, seed=3).next_batch()
    assert clips_equal(plain, renamed)
    assert not hasattr(plain[0], "id") and plain[0].ids is None
    assert sum(len(b) for b in plain[0].boxes) > 0


def test_ground_truth_clips_carry_identities_only_when_asked(tmp_path):
    """``ground_truth``: the boxes are the ground truth's (score 1); ``identities`` adds their
    ids, and is refused without ground-truth boxes."""
    adapter = sprites(tmp_path)
    boxes = ClipStream(adapter, "train", 6, None, seed=3, ground_truth=True).next_batch()
    labelled = ClipStream(
        adapter, "train", 6, None, seed=3, ground_truth=True, identities=True
    ).next_batch()
    assert boxes[0].ids is None and labelled[0].ids is not None
    for clip, with_ids in zip(boxes, labelled):
        for t, frame_boxes in enumerate(clip.boxes):
            np.testing.assert_array_equal(frame_boxes, with_ids.boxes[t])
            assert len(with_ids.ids[t]) == len(frame_boxes) and (with_ids.ids[t] > 0).all()
            assert (clip.scores[t] == 1).all()
    with pytest.raises(ConfigError, match="identities"):
        ClipStream(adapter, "train", 6, None, seed=3, identities=True)


def test_a_batch_is_clips_of_different_videos_and_resumes(tmp_path):
    adapter = sprites(tmp_path)
    stream = ClipStream(adapter, "train", 5, OracleNoise(), seed=0, videos=2)
    stream.next_batch()  # the videos start empty: objects are born after the card's wait
    first = stream.next_batch()
    assert len(first) == 2 and first[0].images.shape == (5, 128, 128, 3)
    assert not np.array_equal(first[0].images, first[1].images)
    state = stream.state_dict()
    expected = [stream.next_batch() for _ in range(2)]
    resumed = ClipStream(adapter, "train", 5, OracleNoise(), seed=99, videos=2)
    resumed.load_state_dict(state)
    assert all(
        clips_equal(a, b) for a, b in zip(expected, [resumed.next_batch() for _ in range(2)])
    )


def test_clips_from_sequences_need_enough_frames(tmp_path):
    adapter = sprites(tmp_path)
    with pytest.raises(ConfigError, match="no sequence has the 50 frames"):
        ClipStream(adapter, "eval", 50, OracleNoise(), seed=0)


def test_clips_need_images(tmp_path, monkeypatch):
    adapter = sprites(tmp_path)
    sequences = adapter.sequences("eval")
    for sequence in sequences:
        sequence.load_frame = None
    monkeypatch.setattr(type(adapter), "sequences", lambda self, split: sequences)
    with pytest.raises(ConfigError, match="sequence sprites-mot-eval has no images"):
        ClipStream(adapter, "eval", 5, OracleNoise(), seed=0)


def test_a_run_refuses_images_it_lacks_before_any_cell(tmp_path, monkeypatch, trackbench):
    """An image-using method on a split without images: one line, exit 2, nothing computed;
    a detection-only method on it runs."""
    original = SpritesMOT.sequences

    def without_images(self, split):
        sequences = original(self, split)
        for sequence in sequences:
            sequence.load_frame = None
        return sequences

    monkeypatch.setattr(SpritesMOT, "sequences", without_images)
    text = SMALL_SPRITES.format(
        root=tmp_path / "cache",
        methods="{method: cis, config: {dataset: sprites-mot, smoke: true}}",
    )
    code, _, err = trackbench("run", write(tmp_path, text), "--out", tmp_path / "out")
    assert code == 2
    assert (
        "sprites-mot eval: sequence sprites-mot-eval has no images, and cis:default tracks" in err
    )
    text = SMALL_SPRITES.format(root=tmp_path / "cache", methods="sort")
    code, _, err = trackbench("run", write(tmp_path, text), "--out", tmp_path / "out2")
    assert code == 0, err
