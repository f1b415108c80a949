"""Ground-truth visibility of the TBA synthetic videos, against a per-pixel recount, and crowded
Sprites-MOT scenes (``objects: 6``) through the training stream and the cached eval video."""

from __future__ import annotations

import numpy as np
import pytest

from harness.datasets import load_dataset
from harness.datasets.synthetic import Chunk, resize_bilinear, shape_templates

PAD = 32  # wider than any patch: masks sticking out of the frame are drawn on a padded canvas


def recounted_visibility(chunk: Chunk, mask_of) -> np.ndarray:
    """Each object's visible fraction counted pixel by pixel with plain loops: its mask (from
    ``mask_of(appearance, height, width)``) inside the frame and under no higher slot's mask."""
    obj = chunk.objects
    size = chunk.frames.shape[2] + 2 * PAD
    expected = np.empty(len(obj.id))
    for i in range(len(obj.id)):
        canvases = {}
        same_frame = np.flatnonzero((obj.stream == obj.stream[i]) & (obj.frame == obj.frame[i]))
        for j in same_frame:
            left, top, width, height = obj.box[j].astype(int) - [1 - PAD, 1 - PAD, 0, 0]
            canvas = np.zeros((size, size), bool)
            canvas[top : top + height, left : left + width] = mask_of(
                obj.appearance[j], height, width
            )
            canvases[j] = canvas
        covered = np.zeros((size, size), bool)
        for j in same_frame:
            if obj.slot[j] > obj.slot[i]:
                covered |= canvases[j]
        in_frame = np.zeros((size, size), bool)
        in_frame[PAD:-PAD, PAD:-PAD] = True
        own = canvases[i]
        expected[i] = (own & in_frame & ~covered).sum() / own.sum()
    return expected


def sprite_mask(appearance, height, width):
    return resize_bilinear(shape_templates(21)[appearance % 4], height, width) > 0


def crowded_chunk(**params) -> Chunk:
    """2 streams of Sprites-MOT with 6 slots, frames 21..30 (the slots have filled up by then)."""
    chunks = load_dataset("sprites-mot", objects=6, **params).generator.stream(2, 10, seed=3)
    next(chunks), next(chunks)
    return next(chunks)


def sticks_out(box: np.ndarray) -> np.ndarray:
    """Rows whose patch reaches outside the 128x128 frame."""
    return ((box[:, :2] < 1) | (box[:, :2] + box[:, 2:] - 1 > 128)).any(axis=1)


@pytest.mark.parametrize("margin", [10, 0])  # margin 0: sprites are born half outside the frame
def test_sprites_visibility_is_the_per_pixel_share_of_the_mask_left_uncovered(margin):
    chunk = crowded_chunk(margin=margin)
    visibility = chunk.objects.visibility
    assert np.array_equal(visibility, recounted_visibility(chunk, sprite_mask))
    # Fully visible, partly covered and (margin 0) cut by the border all occur.
    assert len(visibility) > 100 and (visibility == 1).any()
    assert ((visibility > 0) & (visibility < 0.5)).sum() > 3
    if margin == 0:
        assert sticks_out(chunk.objects.box).sum() > 5


def test_mnist_visibility_counts_the_nonzero_digit_pixels(mnist_dir):
    adapter = load_dataset("mnist-mot", mnist_dir=str(mnist_dir), objects=6)
    chunks = adapter.generator.stream(2, 10, seed=3)
    next(chunks), next(chunks)
    chunk = next(chunks)
    digits = adapter.digits.images
    expected = recounted_visibility(chunk, lambda appearance, h, w: digits[appearance] > 0)
    assert np.array_equal(chunk.objects.visibility, expected)
    assert (chunk.objects.visibility < 1).any()


def test_six_objects_crowd_the_training_stream():
    adapter = load_dataset("sprites-mot", objects=6)
    chunk = next(adapter.stream(batch=2, length=300, seed=1))
    assert chunk.frames.shape == (2, 300, 128, 128, 3)
    obj = chunk.objects
    per_frame = np.bincount(obj.stream * 300 + obj.frame - 1)
    assert per_frame.max() == 6 and set(obj.slot) == set(range(6))
    gt = chunk.gt(0)
    assert ((gt.visibility >= 0) & (gt.visibility <= 1)).all()
    assert (gt.visibility < 1).mean() > 0.1 and (gt.visibility < 0.5).any()
    # Look-alikes: two sprites of the same colour and shape in one frame.
    looks = np.stack([obj.stream, obj.frame, obj.appearance], axis=1)
    assert len(np.unique(looks, axis=0)) < len(looks)


def test_six_object_eval_video_caches_its_visibility(tmp_path):
    adapter = load_dataset("sprites-mot", tmp_path, objects=6, eval_frames=120)
    assert adapter.cache_dir != load_dataset("sprites-mot", tmp_path, eval_frames=120).cache_dir
    (sequence,) = adapter.sequences("eval")
    reference = next(adapter.generator.stream(1, 120, adapter.params["eval_seed"])).gt(0)
    assert sequence.gt.sorted().equals(reference.sorted())
    assert (sequence.gt.visibility < 1).any() and (sequence.gt.visibility < 0.5).any()
