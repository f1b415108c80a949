"""The Gan et al. (2015) MNIST tracking datasets against the paper's §4 definitions: the motion
equations, bouncing, scale change, clutter layers under and over the digits, intensities, MNIST-2
shapes, the tight box, the topmost target, seeds, the split's digits, the cache and a run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from experiment_helpers import run, write

from harness.datasets import load_dataset
from harness.datasets.gan_mnist import (
    FRAME_SIZE,
    GENERATOR_PARAMS,
    GanMnist,
    GanMnistGenerator,
    mnist2_shapes,
)
from harness.datasets.mnist_idx import HOW_TO_FIX, load_mnist
from harness.datasets.synthetic import resize_bilinear
from harness.errors import ConfigError
from harness.store import COMBINED

STILL = {"scale_change": 0.0, "clutter_fragments": 0, "draw_threshold": 0.0}
"""28x28 patches, no clutter, every nonzero pixel drawn."""


@pytest.fixture
def dataset(mnist_dir, tmp_path):
    """``dataset(name, **params)``: a card's adapter over the stand-in digits, cached in tmp."""

    def make(name: str = "mnist-single-same", **params) -> GanMnist:
        return load_dataset(name, tmp_path / "cache", mnist_dir=str(mnist_dir), **params)

    return make


def scene(adapter: GanMnist, split: str = "train", count: int = 8, length: int = 20, seed=0):
    return adapter.generator(split).scene(np.random.default_rng(seed), count, length)


def reference_tight_box(patch: np.ndarray) -> np.ndarray:
    """(left, top, width, height), 0-based, of the pixels above a quarter of the maximum."""
    rows, cols = np.nonzero(patch > patch.max() / 4)
    return np.array([cols.min(), rows.min(), np.ptp(cols) + 1, np.ptp(rows) + 1])


@pytest.mark.parametrize("variance", [0.01, 0.1])  # the code's std 0.1 (default), the paper's v'
def test_motion_is_p_plus_k_v_with_velocity_noise_of_variance_v_prime(dataset, variance):
    assert dataset().params["velocity_noise_var"] == 0.01  # the card: the released code's noise
    adapter = dataset(velocity_noise_var=variance)
    made = scene(adapter, count=200, length=20)
    p, v = made.positions[..., 0, :], made.velocities[..., 0, :]
    before, after = p[:, :-1], p[:, 1:]
    predicted = before + 0.1 * v[:, :-1]
    free = ((predicted >= 0) & (predicted <= 1)).all(axis=-1)  # no bounce in this step
    assert free.mean() > 0.8
    np.testing.assert_allclose(after[free], predicted[free], atol=1e-12)
    step = after[free] - before[free]
    k = (step * v[:, :-1][free]).sum() / (v[:, :-1][free] ** 2).sum()
    assert k == pytest.approx(0.1, abs=1e-9)  # k recovered from consecutive positions
    change = (v[:, 1:] - v[:, :-1])[free]
    assert change.var() == pytest.approx(variance, rel=0.1) and abs(change.mean()) < 0.02
    sides = made.sides[..., 0]
    corners = np.floor(p[..., ::-1] * (FRAME_SIZE - sides[..., None]))
    np.testing.assert_array_equal(made.corners[..., 0, :], corners)


def test_bouncing_keeps_every_patch_and_box_inside_the_frame(dataset):
    made = scene(dataset("mnist-multi-same", speed_std=8.0), count=16, length=80)
    p, v = made.positions, made.velocities
    predicted = p[:, :-1] + 0.1 * v[:, :-1]
    bounced = (predicted < 0) | (predicted > 1)
    assert bounced.sum() > 50
    # a bounce reverses the velocity component (before the noise, variance 0.01)
    flipped = np.sign(v[:, 1:][bounced]) == -np.sign(v[:, :-1][bounced])
    assert flipped.mean() > 0.9
    assert (made.corners >= 0).all()
    assert (made.corners + made.sides[..., None] <= FRAME_SIZE).all()
    left, top, width, height = np.moveaxis(made.boxes, -1, 0)
    assert (left >= 1).all() and (top >= 1).all()
    assert (left + width - 1 <= FRAME_SIZE).all() and (top + height - 1 <= FRAME_SIZE).all()


def test_scale_changes_every_frame_by_a_cumulative_factor_within_its_bounds(dataset):
    made = scene(dataset(scale_min=0.8, scale_max=1.25), count=20, length=160)
    ratio = made.scales[:, 1:] / made.scales[:, :-1]
    unclipped = (made.scales[:, 1:] > 0.8) & (made.scales[:, 1:] < 1.25)
    assert (np.abs(np.log(ratio[unclipped])) <= 0.05 + 1e-12).all()  # exp(0.1 U(-0.5, 0.5))
    assert (ratio[unclipped] != 1).all()
    assert made.scales.min() == 0.8 and made.scales.max() == 1.25  # drifts to both bounds
    np.testing.assert_array_equal(made.sides, np.rint(28 * made.scales))


def test_foreground_clutter_hides_the_digits_and_background_clutter_is_under_them(dataset):
    made = scene(dataset("mnist-multi-same"), count=16, length=10)
    frames, digits = made.frames[..., 0], made.digits
    fg, bg = made.foreground, made.background
    hidden = (fg > 0) & (digits > 0)
    under = (fg == 0) & (digits > 0) & (bg > 0)
    assert hidden.sum() > 100 and under.sum() > 100
    np.testing.assert_array_equal(frames[fg > 0], fg[fg > 0])  # a fragment hides the digit
    np.testing.assert_array_equal(frames[under], digits[under])  # the digit hides the background
    rest = (fg == 0) & (digits == 0)
    np.testing.assert_array_equal(frames[rest], bg[rest])
    assert (bg[:, 0] != bg[:, -1]).any(axis=(1, 2)).all()  # every clutter window moves
    still = scene(dataset(clutter_move_prob=0.0), count=4, length=10)
    assert (still.background == still.background[:, :1]).all()


def test_the_code_draws_only_a_layer_s_pixels_above_a_quarter_of_its_maximum(dataset):
    assert dataset().params["draw_threshold"] == 0.25  # the card: the released code's Overlap
    # digits with a faint rim, as MNIST's antialiased strokes have
    digits = load_mnist(dataset().params["mnist_dir"]).train[:100]
    rim = np.zeros_like(digits, dtype=bool)
    rim[:, 1:-1, 1:-1] = (digits[:, :-2, 1:-1] > 0) & (digits[:, 1:-1, 1:-1] == 0)
    digits = np.where(rim, 40, digits).astype(np.uint8)

    def generator(threshold: float) -> GanMnistGenerator:
        params = {**dataset(**STILL).params, "draw_threshold": threshold}
        return GanMnistGenerator(
            digits, mnist2=False, **{key: params[key] for key in GENERATOR_PARAMS}
        )

    faint, drawn = (
        generator(threshold).scene(np.random.default_rng(0), 30, 1) for threshold in (0.0, 0.25)
    )  # the same draws: the threshold takes none
    for n, (top, left) in enumerate(faint.corners[:, 0, 0]):
        patch = faint.digits[n, 0, top : top + 28, left : left + 28]
        expected = np.where(patch > patch.max() / 4, patch, 0)
        np.testing.assert_array_equal(
            drawn.digits[n, 0, top : top + 28, left : left + 28], expected
        )
    assert (faint.digits > 0).sum() > (drawn.digits > 0).sum()
    np.testing.assert_array_equal(faint.boxes, drawn.boxes)  # the box was always a quarter's
    # each clutter fragment is drawn above a quarter of its own maximum
    one = {"clutter_fragments": 1, "clutter_size_min": 8, "clutter_size_max": 8}
    images = {
        threshold: dataset(**one, draw_threshold=threshold)
        .generator("train")
        .clutter(np.random.default_rng(1), 40)
        for threshold in (0.0, 0.25)
    }
    peak = images[0.0].max(axis=(1, 2), keepdims=True)
    expected = np.where(images[0.0] > peak / 4, images[0.0], 0)
    np.testing.assert_array_equal(images[0.25], expected)
    # the foreground window likewise, above a quarter of the window's maximum
    fg = scene(dataset("mnist-multi-same"), count=8, length=5).foreground.astype(float)
    kept = fg > 0
    assert (fg > fg.max(axis=(2, 3), keepdims=True) / 4)[kept].all() and kept.sum() > 100


def test_clutter_fragments_are_digit_crops_of_the_given_sizes(dataset):
    adapter = dataset(clutter_fragments=1, clutter_size_min=6, clutter_size_max=6)
    images = adapter.generator("train").clutter(np.random.default_rng(0), 50)
    drawn = [np.nonzero(image) for image in images if image.any()]
    assert len(drawn) > 10
    for rows, cols in drawn:
        assert np.ptp(rows) < 6 and np.ptp(cols) < 6


def test_intensities_are_scaled_by_a_uniform_64_to_255(dataset):
    adapter = dataset(**STILL)
    made = scene(adapter, count=300, length=1)
    pool = load_mnist(adapter.params["mnist_dir"]).train
    source = pool[made.shapes[:, 0]].astype(np.float64)
    top, left = made.corners[:, 0, 0, 0], made.corners[:, 0, 0, 1]
    patches = np.stack(
        [made.digits[n, 0, t : t + 28, x : x + 28] for n, (t, x) in enumerate(zip(top, left))]
    )
    scale = patches.max(axis=(1, 2)) / source.max(axis=(1, 2))
    assert scale.min() >= 64 / 255 - 0.01 and scale.max() <= 1
    assert scale.min() < 64 / 255 + 0.05 and scale.max() > 1 - 0.05  # the whole range is used
    np.testing.assert_allclose(patches, source * scale[:, None, None], atol=1.5)


def test_mnist2_overlaps_two_downscaled_digits():
    rng = np.random.default_rng(0)
    first = rng.integers(0, 256, (3, 28, 28)).astype(np.uint8)
    second = (rng.random((3, 28, 28)) < 0.4) * rng.integers(1, 256, (3, 28, 28)).astype(np.uint8)
    shapes = mnist2_shapes(first, second)
    for shape, a, b in zip(shapes, first, second):
        small_a, small_b = resize_bilinear(a, 18, 18), resize_bilinear(b, 18, 18)
        corner = shape[10:, 10:]
        np.testing.assert_array_equal(corner[small_b > 0], small_b[small_b > 0])  # B over A
        overlap_a = small_a[10:, 10:]
        np.testing.assert_array_equal(
            corner[:8, :8][small_b[:8, :8] == 0], overlap_a[small_b[:8, :8] == 0]
        )
        np.testing.assert_array_equal(shape[:10, :18], small_a[:10])
        np.testing.assert_array_equal(shape[:18, :10], small_a[:, :10])
        assert not shape[:10, 18:].any() and not shape[18:, :10].any()


def test_diff_test_shapes_are_mnist2_and_its_training_shapes_plain_digits(dataset):
    adapter = dataset("mnist-single-diff", **STILL)
    tested, trained = scene(adapter, "test", count=20, length=1), scene(adapter, count=20, length=1)
    for made, empty in ((tested, True), (trained, False)):
        top, left = made.corners[:, 0, 0, 0], made.corners[:, 0, 0, 1]
        patches = [
            made.digits[n, 0, t : t + 28, x : x + 28] for n, (t, x) in enumerate(zip(top, left))
        ]
        off_corners = [p[:10, 18:].any() or p[18:, :10].any() for p in patches]
        assert not any(off_corners) if empty else any(off_corners)
    # MNIST-2 shapes keep the intensity they are composed with (the released code does not scale
    # them): every peak stays near its digits' (~190-250 here); scaled by U(64, 255)/255, some of
    # 20 would fall far below
    assert min(tested.digits[n, 0].max() for n in range(20)) > 150


def test_ground_truth_is_the_tight_box_of_pixels_above_a_quarter_of_the_maximum(dataset):
    made = scene(dataset(clutter_fragments=0), count=6, length=12)
    for n, t in np.ndindex(made.boxes.shape[:2]):
        expected = reference_tight_box(made.digits[n, t])
        expected[:2] += 1  # 1-based
        np.testing.assert_array_equal(made.boxes[n, t], expected)


def test_multi_target_is_the_topmost_last_drawn_digit(dataset):
    made = scene(dataset("mnist-multi-same", **STILL), count=30, length=40)
    overlaps = 0
    for n in range(len(made.boxes)):
        corners = made.corners[n]
        apart = (np.abs(corners[:, 0] - corners[:, 1]) >= 28).any(axis=-1)
        if not apart.any():
            continue
        first = int(np.argmax(apart))
        top, left = corners[first, 1]
        patch = made.digits[n, first, top : top + 28, left : left + 28]  # the target alone
        for t in range(len(apart)):
            top, left = corners[t, 1]
            expected = reference_tight_box(patch) + [left + 1, top + 1, 0, 0]
            np.testing.assert_array_equal(made.boxes[n, t], expected)
            seen = made.digits[n, t, top : top + 28, left : left + 28]
            np.testing.assert_array_equal(seen[patch > 0], patch[patch > 0])  # drawn on top
            overlaps += not apart[t]
    assert overlaps > 0


def test_generation_is_deterministic_by_seed(dataset):
    adapter = dataset("mnist-multi-diff")
    first, again = scene(adapter, "test", seed=3), scene(adapter, "test", seed=3)
    other = scene(adapter, "test", seed=4)
    np.testing.assert_array_equal(first.frames, again.frames)
    np.testing.assert_array_equal(first.boxes, again.boxes)
    assert not np.array_equal(first.frames, other.frames)


def test_stream_gives_batches_and_resumes_from_its_state(dataset):
    stream = dataset().stream(batch=3, length=5, seed=7)
    batch = stream.next_batch()
    assert batch.frames.shape == (3, 5, 100, 100, 1) and batch.frames.dtype == np.uint8
    assert batch.boxes.shape == (3, 5, 4)
    state = stream.state_dict()
    following = stream.next_batch()
    resumed = dataset().stream(batch=3, length=5, seed=0)
    resumed.load_state_dict(state)
    again = resumed.next_batch()
    np.testing.assert_array_equal(again.frames, following.frames)
    np.testing.assert_array_equal(again.boxes, following.boxes)
    assert not np.array_equal(following.frames, batch.frames)


def test_test_digits_come_from_the_test_part_and_training_digits_from_the_train_part(dataset):
    adapter = dataset(**STILL)
    mnist = load_mnist(adapter.params["mnist_dir"])
    for split, part, other in (
        ("test", mnist.test, mnist.train),
        ("train", mnist.train, mnist.test),
    ):
        made = scene(adapter, split, count=20, length=1)
        top, left = made.corners[:, 0, 0, 0], made.corners[:, 0, 0, 1]
        for n, (t, x) in enumerate(zip(top, left)):
            ink = made.digits[n, 0, t : t + 28, x : x + 28] > 0
            np.testing.assert_array_equal(ink, part[made.shapes[n, 0]] > 0)
            assert not np.array_equal(ink, other[made.shapes[n, 0] % len(other)] > 0)


def test_test_split_is_cached_once_and_read_back_lazily(dataset, monkeypatch):
    adapter = dataset(sequences=3, length=6)
    samples = adapter.samples("test")
    assert [s.name for s in samples] == [f"mnist-single-same-test-{i:04d}/1@1" for i in range(3)]
    made = adapter.generator("test").scene(np.random.default_rng(adapter.params["eval_seed"]), 3, 6)
    for n, sample in enumerate(samples):
        np.testing.assert_array_equal(sample.frames, np.arange(1, 7))
        np.testing.assert_array_equal(sample.boxes, made.boxes[n])
        for t in (1, 6):
            np.testing.assert_array_equal(sample.sequence.frame(t), made.frames[n, t - 1])

    val = adapter.samples("val")  # training-like sequences of train digits, their own seed
    made = adapter.generator("val").scene(np.random.default_rng(adapter.params["val_seed"]), 3, 6)
    np.testing.assert_array_equal(val[1].boxes, made.boxes[1])
    assert adapter.cache_dir("val") != adapter.cache_dir("test")

    def fail(*args):
        raise AssertionError("the cache was written again")

    monkeypatch.setattr(GanMnist, "_write_cache", fail)
    again = dataset(sequences=3, length=6).samples("test")
    np.testing.assert_array_equal(again[2].sequence.frame(4), samples[2].sequence.frame(4))
    assert dataset(sequences=3, length=6).cache_dir("test") != dataset(length=7).cache_dir("test")
    with pytest.raises(AssertionError, match="written again"):
        dataset(sequences=3, length=7).samples("test")


def test_a_missing_mnist_copy_says_how_to_provide_it(tmp_path):
    adapter = load_dataset("mnist-single-same", tmp_path, mnist_dir=str(tmp_path / "missing"))
    with pytest.raises(ConfigError) as error:
        adapter.samples("test")
    assert HOW_TO_FIX in str(error.value) and "\n" not in str(error.value)


def test_train_split_is_a_stream(dataset):
    with pytest.raises(ConfigError, match="adapter.stream"):
        dataset().sequences("train")


GAN = """
name: gan
datasets:
  - name: mnist-single-same
    split: test
    root: {root}
    params: {{sequences: 2, mnist_dir: {mnist_dir}}}
    axes: {{length: [20, 40]}}
methods: [constant-box, ground-truth-box]
"""


def test_a_length_axis_runs_end_to_end_with_the_baselines(tmp_path, mnist_dir):
    text = GAN.format(root=tmp_path / "data", mnist_dir=mnist_dir)
    store = run(write(tmp_path, text), tmp_path)
    metrics = store.metrics_frame()
    combined = metrics[metrics.sequence == COMBINED].pivot_table(
        index=["axes", "method"], columns="metric", values="value"
    )
    assert sorted(set(metrics["axes"])) == ["length=20", "length=40"]
    assert (combined.xs("ground-truth-box", level="method").IoU == 1.0).all()
    assert (combined.xs("constant-box", level="method").IoU < 1.0).all()
    curves = store.curves_frame()
    over_time = curves[(curves.curve == "iou_over_time") & (curves.method == "constant-box")]
    assert over_time.groupby("axes").size().to_dict() == {"length=20": 20, "length=40": 40}
    assert Path(tmp_path / "data" / "mnist-single-same").is_dir()
