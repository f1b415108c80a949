"""Appearance crops and offline track post-processing (trackers.common)."""

import numpy as np

from harness.data import BoxTable
from trackers.common.crops import appearance_crops
from trackers.common.tracks import drop_short_tracks, interpolate_gaps


def test_crop_keeps_the_aspect_and_pads_bottom_right_with_zeros():
    image = np.zeros((40, 60, 3), np.uint8)
    image[10:20, 20:40] = (200, 100, 50)  # a 20 x 10 (w x h) block at 0-based (20, 10)
    crop = appearance_crops(image, np.array([[21.0, 11.0, 20.0, 10.0]]), 16)[0]
    # the longer side (20) fills 16 columns, the shorter 10 -> 8 rows; the rest is zero padding
    np.testing.assert_array_equal(crop[:8, :16], np.broadcast_to([200, 100, 50], (8, 16, 3)))
    assert not crop[8:].any()


def test_crop_samples_the_box_content_in_order():
    image = np.zeros((8, 8, 3), np.uint8)
    image[:, :, 0] = np.arange(8)[None, :] * 30  # red grows to the right
    image[:, :, 1] = np.arange(8)[:, None] * 30  # green grows downwards
    crop = appearance_crops(image, np.array([[3.0, 1.0, 4.0, 4.0]]), 4)[0]
    np.testing.assert_array_equal(crop[0, :, 0], [60, 90, 120, 150])  # columns 2..5, scale 1
    np.testing.assert_array_equal(crop[:, 0, 1], [0, 30, 60, 90])


def test_crops_clip_to_the_image_and_empty_boxes_are_zero():
    image = np.full((10, 10, 3), 255, np.uint8)
    crops = appearance_crops(image, np.array([[-4.0, -4.0, 10.0, 10.0], [50, 50, 5, 5]]), 8)
    assert crops.shape == (2, 8, 8, 3)
    assert crops[0].all()  # the 5 x 5 part inside the image fills the whole crop
    assert not crops[1].any()


def track_table(rows):
    frame, track, left = np.array(rows, float).T
    return BoxTable.build(
        frame=frame, box=np.c_[left, left, [10.0] * len(left), [10.0] * len(left)], id=track
    )


def test_short_tracks_are_dropped_and_gaps_interpolated():
    table = track_table([(1, 1, 0), (3, 1, 20), (4, 1, 30), (6, 1, 50), (2, 2, 5), (3, 2, 5)])
    kept = drop_short_tracks(table, 4)
    assert set(kept.id) == {1}
    filled = interpolate_gaps(kept)
    np.testing.assert_array_equal(filled.frame, [1, 2, 3, 4, 5, 6])
    np.testing.assert_allclose(filled.box[:, 0], [0, 10, 20, 30, 40, 50])
