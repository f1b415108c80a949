"""Resize and Subsample: consistent boxes, frames and fps; inverses and TBA's interpolation rule."""

import numpy as np
import pytest

from harness.data import BoxTable, Sequence
from harness.errors import FormatError
from harness.transforms import Resize, Subsample, restore


def make_sequence(num_frames=13, height=16, width=32, channels=3, seed=0):
    """Two tracks moving 1 px/frame (exact in binary), frames that encode their number."""
    rng = np.random.default_rng(seed)
    frames = np.arange(1, num_frames + 1)
    gt = BoxTable.concat(
        [
            BoxTable.build(
                frames,
                np.c_[frames, frames * 0.5, np.full((num_frames, 2), 4.0)],
                id=np.ones(num_frames),
            ),
            BoxTable.build(
                frames[2:],
                np.c_[20.0 - frames[2:], np.full((num_frames - 2, 3), 2.0)],
                id=np.full(num_frames - 2, 2),
                conf=rng.integers(0, 2, num_frames - 2),
            ),
        ]
    ).sorted()
    loads = []

    def load_frame(number):
        loads.append(number)
        return np.full((height, width, channels), number, dtype=np.uint8)

    sequence = Sequence(
        "toy", num_frames, width, height, 60.0, gt, load_frame, gt.select(gt.id == 1)
    )
    return sequence, loads


def test_resize_scales_boxes_size_and_frames_lazily():
    source, loads = make_sequence()
    resized = Resize(8, 64).apply(source)
    assert (resized.height, resized.width) == (8, 64)
    np.testing.assert_array_equal(resized.gt.box, source.gt.box * [2.0, 0.5, 2.0, 0.5])
    np.testing.assert_array_equal(resized.detections.box, source.detections.box * [2, 0.5, 2, 0.5])
    np.testing.assert_array_equal(resized.gt.frame, source.gt.frame)
    assert loads == []
    image = resized.frame(5)
    assert loads == [5]
    assert image.shape == (8, 64, 3) and image.dtype == np.uint8 and (image == 5).all()


def test_resize_keeps_grey_frames_hxwx1():
    source, _ = make_sequence(channels=1)
    assert Resize(4, 8).apply(source).frame(2).shape == (4, 8, 1)


def test_resize_round_trip_is_exact_for_power_of_two_factors():
    source, _ = make_sequence()
    resized = Resize(4, 128).apply(source)
    assert restore(resized.gt, resized).equals(source.gt)


def test_resize_round_trip_duke_factor_within_1e9():
    rng = np.random.default_rng(3)
    boxes = rng.uniform(0, 1900, (500, 4))
    source = Sequence("duke", 1, 1920, 1080, 60.0, BoxTable.build(np.ones(500), boxes))
    resized = Resize(108, 192).apply(source)
    np.testing.assert_allclose(resized.gt.box, boxes * 0.1, rtol=0, atol=1e-9)
    np.testing.assert_allclose(restore(resized.gt, resized).box, boxes, rtol=0, atol=1e-9)


@pytest.mark.parametrize("offset", [0, 3])
def test_subsample_keeps_every_step_th_frame_and_renumbers(offset):
    source, loads = make_sequence()
    sampled = Subsample(6, offset).apply(source)
    kept = np.arange(offset + 1, 14, 6)
    np.testing.assert_array_equal(sampled.meta["frame_map"], kept)
    assert sampled.num_frames == len(kept) and sampled.fps == 10.0
    expected = source.gt.select(np.isin(source.gt.frame, kept))
    np.testing.assert_array_equal(sampled.gt.box, expected.box)
    np.testing.assert_array_equal(sampled.gt.frame, (expected.frame - offset - 1) // 6 + 1)
    assert set(sampled.detections.frame) <= set(range(1, sampled.num_frames + 1))
    assert (sampled.frame(2) == kept[1]).all() and loads == [kept[1]]


def test_subsample_invert_without_interpolation_returns_source_rows_exactly():
    source, _ = make_sequence()
    transform = Subsample(6, 3)
    sampled = transform.apply(source)
    back = transform.invert(sampled.gt, source)
    assert back.equals(source.gt.select(np.isin(source.gt.frame, [4, 10])))


def test_interpolation_writes_six_lines_per_sample_and_one_for_a_first_sample():
    # track 1 in samples 1, 2, 3; track 2 in samples 1 and 3 only (a new track at sample 3)
    result = BoxTable.build(
        frame=[1, 2, 3, 1, 3],
        id=[1, 1, 1, 2, 2],
        box=[[0, 0, 6, 6], [6, 12, 12, 6], [12, 6, 6, 6], [50, 50, 5, 5], [70, 50, 5, 5]],
        conf=[0.9, 0.8, 0.7, 0.6, 0.6],
    )
    source = Sequence("s", 13, 100, 100, 60.0, BoxTable.empty())
    out = Subsample(6, 0, interpolate=True).invert(result, source)
    track1 = out.select(out.id == 1)
    assert len(track1) == 1 + 6 + 6
    np.testing.assert_array_equal(track1.frame, np.arange(1, 14))
    # b_k - i*(b_k - b_{k-1})/6 for i = 5..0
    expected = np.vstack(
        [[[0, 0, 6, 6]], [0, 0, 6, 6] + np.arange(1, 7)[:, None] * [1, 2, 1, 0]]
        + [[6, 12, 12, 6] + np.arange(1, 7)[:, None] * [1, -1, -1, 0]]
    )
    np.testing.assert_array_equal(track1.box, expected)
    np.testing.assert_array_equal(track1.conf, [0.9] + [0.8] * 6 + [0.7] * 6)
    track2 = out.select(out.id == 2)
    np.testing.assert_array_equal(track2.frame, [1, 13])
    np.testing.assert_array_equal(track2.box, [[50, 50, 5, 5], [70, 50, 5, 5]])


def test_subsample_then_resize_restores_linear_tracks_exactly():
    source, _ = make_sequence(num_frames=19)
    transformed = Resize(8, 64).apply(Subsample(6, 0, interpolate=True).apply(source))
    assert transformed.num_frames == 4 and (transformed.height, transformed.width) == (8, 64)
    back = restore(transformed.gt, transformed)
    # linear tracks: every frame from each track's first sample on is reproduced
    track1 = source.gt.select(source.gt.id == 1)
    np.testing.assert_array_equal(back.select(back.id == 1).box, track1.box)
    track2 = source.gt.select((source.gt.id == 2) & (source.gt.frame >= 7))
    np.testing.assert_array_equal(back.select(back.id == 2).frame, track2.frame)
    np.testing.assert_array_equal(back.select(back.id == 2).box, track2.box)


def test_invert_rejects_frames_outside_the_samples():
    source, _ = make_sequence()
    sampled = Subsample(6).apply(source)
    with pytest.raises(FormatError, match="result frame 4 outside the 3 samples"):
        Subsample(6).invert(BoxTable.build([4], [[0, 0, 1, 1]], id=1), source)
    assert sampled.num_frames == 3
    with pytest.raises(ValueError):
        Subsample(0)
