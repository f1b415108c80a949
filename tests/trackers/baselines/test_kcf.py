"""KerCorrTracker (trackers/baselines/kcf.py): the kernel correlation against a direct computation,
the learned filter's peak, translations recovered (integer, sub-pixel, near the border) and, where
opencv-contrib is installed, agreement with ``cv2.TrackerKCF``."""

from __future__ import annotations

import numpy as np
import pytest
from workloads import BOX, render_scene

from harness.errors import ConfigError
from harness.registry import methods
from trackers.baselines.kcf import (
    KerCorrTracker,
    gaussian_correlation,
    gaussian_labels,
    peak_offset,
)


def follow(tracker: KerCorrTracker, positions: np.ndarray) -> np.ndarray:
    """Track the patch rendered at each (left, top) of ``positions``; the boxes of frames 2..T."""
    tracker.init(render_scene(*positions[0]), np.array([*positions[0], BOX, BOX]))
    return np.array([tracker.update(render_scene(*position)) for position in positions[1:]])


def test_gaussian_correlation_equals_the_direct_sum_over_cyclic_shifts():
    rng = np.random.default_rng(1)
    x, z = rng.normal(size=(2, 5, 4))
    sigma = 0.7
    direct = np.empty((5, 4))
    for dy in range(5):
        for dx in range(4):  # k_d = exp(-||x - P^-d z||^2 / (sigma^2 n)), P^-d z: z moved back by d
            moved_back = np.roll(z, (-dy, -dx), axis=(0, 1))
            direct[dy, dx] = np.exp(-np.sum((x - moved_back) ** 2) / (sigma**2 * x.size))
    kernel_f = gaussian_correlation(np.fft.fft2(x), np.fft.fft2(z), sigma)
    np.testing.assert_allclose(np.fft.ifft2(kernel_f).real, direct, rtol=1e-10)


def test_the_learned_filter_peaks_at_the_training_target():
    tracker = KerCorrTracker()
    tracker.init(render_scene(30, 40), np.array([30.0, 40.0, BOX, BOX]))
    response = np.fft.ifft2(
        tracker.alpha_f * gaussian_correlation(tracker.template_f, tracker.template_f, 0.2)
    ).real
    assert np.unravel_index(np.argmax(response), response.shape) == (0, 0)
    labels = gaussian_labels(tracker.cells, sigma=BOX * 0.1)
    np.testing.assert_allclose(
        response, labels, atol=0.02
    )  # ridge regression fits y (lambda small)


def test_peak_offset_wraps_past_half_the_size_and_refines_a_parabola():
    response = np.zeros((10, 11))
    response[8, 2] = 1.0  # row 8 of 10 is a displacement of -2
    np.testing.assert_array_equal(peak_offset(response, subpixel=False), [-2, 2])
    response[9, 2] = 0.5  # a neighbour: the vertex moves towards it
    refined = peak_offset(response, subpixel=True)
    assert -2 < refined[0] < -1.5 and refined[1] == 2


@pytest.mark.parametrize(
    "start, steps",
    [
        ((36, 36), [(3, 0), (0, -2), (-4, 3), (2, 2), (5, -1), (-3, -4), (1, 5)]),
        ((3, 50), [(-1, 2), (2, 3), (-1, 3), (3, 2), (0, 4)]),  # window past the left border
        ((60, 70), [(3, 0), (2, -1), (4, 0), (1, 1), (0, 0)]),  # patch reaches the right border
    ],
    ids=["centre", "left-border", "right-border"],
)
def test_integer_shifts_are_recovered_over_several_frames(start, steps):
    positions = np.cumsum([start, *steps], axis=0).astype(float)
    boxes = follow(KerCorrTracker(), positions)
    np.testing.assert_allclose(boxes[:, :2], positions[1:], atol=1.0)
    np.testing.assert_array_equal(boxes[:, 2:], BOX)  # KCF keeps the initial size


def test_subpixel_peaks_recover_fractional_shifts():
    positions = 40 + np.cumsum([(0.0, 0.0), *[(0.4, -0.3)] * 6], axis=0)
    whole = follow(KerCorrTracker(), positions)
    refined = follow(KerCorrTracker(subpixel=True), positions)
    error = np.abs(refined[:, :2] - positions[1:]).max()
    assert error < 0.1 < 0.25 < np.abs(whole[:, :2] - positions[1:]).max()


def test_registered_config_builds_the_tracker_and_bad_values_are_rejected():
    spec = methods()["kcf"]
    assert spec.kind == "single-object" and spec.factory is KerCorrTracker
    assert spec.config["padding"] == 1.5 and spec.config["regularization"] == 1e-4
    with pytest.raises(ConfigError, match="kernel_sigma"):
        spec.build(kernel_sigma=0)


def test_cells_average_pixels_and_move_the_box_by_whole_cells():
    positions = np.cumsum([(36, 36), (4, -2), (2, 4)], axis=0).astype(float)
    boxes = follow(KerCorrTracker(cell_size=2), positions)
    np.testing.assert_allclose(boxes[:, :2], positions[1:], atol=1.0)


def test_agrees_with_opencv_kcf_after_its_one_frame_lag():
    cv2 = pytest.importorskip("cv2", reason="opencv-contrib-python-headless is not installed")
    if not hasattr(cv2, "TrackerKCF"):
        pytest.skip("cv2 has no TrackerKCF (install opencv-contrib-python-headless)")
    params = cv2.TrackerKCF_Params()
    # Grey in both of OpenCV's feature slots (it fails with either empty; its projection, unused
    # uncompressed, still asserts a size <= 1 channel): two equal channels give our kernel, as
    # its squared distance is divided by the number of elements.
    params.desc_npca = params.desc_pca = cv2.TrackerKCF_GRAY
    params.compress_feature, params.compressed_size, params.resize = False, 1, False
    params.output_sigma_factor, params.detect_thresh = 0.1, 0.0
    theirs = cv2.TrackerKCF.create(params)
    positions = np.cumsum([(36, 36), *[(2, 1), (1, -2), (-2, 2), (3, 0), (0, 3)] * 2], axis=0)
    frames = [np.repeat(render_scene(*position), 3, axis=2) for position in positions]
    ours = follow(KerCorrTracker(), positions.astype(float))
    theirs.init(frames[0], (int(positions[0][0]) - 1, int(positions[0][1]) - 1, BOX, BOX))
    # OpenCV's first update trains without detecting (else its boxes keep the first move as an
    # offset): it sees frame 1 twice, then the frames ours sees.
    theirs.update(frames[0])
    opencv = np.array([theirs.update(frame)[1] for frame in frames[1:]], float)
    opencv[:, :2] += 1  # 0-based pixels to our 1-based boxes
    # Both move by whole pixels; OpenCV's window (padding 1), its features (grey - 0.5, not minus
    # the mean) and its label grid differ, which can move an equal peak by one pixel, no more.
    np.testing.assert_allclose(opencv[:, :2], ours[:, :2], atol=1.0)
    np.testing.assert_allclose(opencv[:, :2], positions[1:], atol=1.0)
