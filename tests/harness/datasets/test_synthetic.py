"""Sprites-MOT / MNIST-MOT generators against TBA's gen_sprite.py / gen_mnist.py, the adapters and
the eval cache."""

from __future__ import annotations

import json
import os
import time

import numpy as np
import pytest

from harness.datasets import load_dataset, synthetic
from harness.datasets.synthetic import (
    Chunk,
    MnistGenerator,
    Objects,
    resize_bilinear,
    shape_templates,
    sprite_colours,
)
from harness.errors import ConfigError

SEED = 7


def sprites_generator():
    return load_dataset("sprites-mot").generator


def concat_objects(chunks: list[Chunk]) -> Objects:
    return Objects(
        *(
            np.concatenate([getattr(c.objects, f) for c in chunks])
            for f in ("stream", "frame", "slot", "id", "box", "appearance", "visibility")
        )
    )


@pytest.fixture(scope="module")
def sprites() -> Chunk:
    return next(sprites_generator().stream(1, 1500, SEED))


@pytest.fixture(scope="module")
def mnist_adapter(mnist_dir):
    return load_dataset("mnist-mot", mnist_dir=str(mnist_dir), eval_frames=200)


@pytest.fixture(scope="module")
def mnist(mnist_adapter) -> Chunk:
    return next(mnist_adapter.generator.stream(1, 1500, SEED))


@pytest.fixture(scope="module")
def long_objects() -> Objects:
    """Objects of 12,000 frames of one stream (frames dropped), for process statistics."""
    chunks = sprites_generator().stream(1, 1000, SEED + 1)
    return concat_objects([Chunk(np.empty(0), next(chunks).objects) for _ in range(12)])


# -- appearance ----------------------------------------------------------------------------------


def test_shape_templates():
    circle, square, triangle, diamond = shape_templates(21) // 255
    assert square.all()
    assert circle[10].all() and circle[:, 10].all() and not circle[0, 0] and circle.sum() == 349
    assert diamond[10].all() and diamond[0, 10] and not diamond[0, 9] and diamond.sum() == 221
    # Isosceles triangle, apex at the top: one pixel in row 0, a full bottom row, symmetric.
    assert triangle[0].sum() == 1 and triangle[0, 10] and triangle[20].all()
    assert np.array_equal(triangle, triangle[:, ::-1])
    assert (np.diff(triangle.sum(axis=1)) >= 0).all()


def test_colours_are_the_six_rgb_corners():
    names = {
        (0, 0, 255): "blue",
        (0, 255, 0): "green",
        (0, 255, 255): "cyan",
        (255, 0, 0): "red",
        (255, 0, 255): "magenta",
        (255, 255, 0): "yellow",
    }
    assert [names[tuple(c)] for c in sprite_colours().tolist()] == list(names.values())


def test_bilinear_resize_matches_cv2():
    cv2 = pytest.importorskip("cv2")
    for template in shape_templates(21):
        for height, width in [(17, 26), (25, 17), (21, 21), (19, 23)]:
            ours = resize_bilinear(template, height, width).astype(int)
            theirs = cv2.resize(template, (width, height), interpolation=cv2.INTER_LINEAR)
            assert np.abs(ours - theirs).max() <= 1


def test_bilinear_resize_identity_and_constant():
    image = np.random.default_rng(0).integers(0, 256, (9, 7)).astype(np.uint8)
    assert np.array_equal(resize_bilinear(image, 9, 7), image)
    assert (resize_bilinear(np.full((21, 21), 200, np.uint8), 17, 26) == 200).all()


# -- frames and process (TBA's gen_sprite.py / gen_mnist.py) ---------------------------------------


def test_frame_format(sprites, mnist):
    assert sprites.frames.shape == (1, 1500, 128, 128, 3) and sprites.frames.dtype == np.uint8
    assert mnist.frames.shape == (1, 1500, 128, 128, 1) and mnist.frames.dtype == np.uint8


def test_at_most_three_objects_and_none_before_frame_7(long_objects):
    per_frame = np.bincount(long_objects.frame)
    assert per_frame.max() == 3
    # Waits 5 frames (1..5), may give birth from frame 6 on, draws from the frame after birth.
    assert long_objects.frame.min() >= 7
    assert per_frame[7] > 0 or per_frame[8] > 0
    assert len(np.unique(np.stack([long_objects.frame, long_objects.slot]), axis=1)[0]) == len(
        long_objects.frame
    )


def test_tracks_are_contiguous_straight_and_at_5_3_px_per_frame(long_objects):
    obj = long_objects
    lengths = []
    for track in np.unique(obj.id):
        rows = obj.id == track
        frames, box = obj.frame[rows], obj.box[rows]
        assert np.array_equal(frames, np.arange(frames[0], frames[0] + len(frames)))
        assert (box[:, 2:] == box[0, 2:]).all() and len(np.unique(obj.slot[rows])) == 1
        assert len(np.unique(obj.appearance[rows])) == 1
        # left/top = rounded centre - const; the centre is start + k * v rounded: |residual| <= 0.5.
        k = np.arange(len(frames))
        velocity = np.linalg.lstsq(np.stack([np.ones_like(k), k], 1), box[:, :2], rcond=None)[0][1]
        residual = box[:, :2] - box[0, :2] - k[:, None] * velocity
        assert np.abs(residual).max() <= 1.0
        if len(frames) >= 15:
            assert abs(np.hypot(*velocity) - 5.3) < 0.1
        if frames[-1] < obj.frame.max():
            lengths.append(len(frames))
    # A finished track crossed the whole centre band, from one border to the other: >= 107 / 5.3.
    assert min(lengths) >= 20


def test_birth_waits_5_frames_then_has_probability_one_half(long_objects):
    obj = long_objects
    failures = []  # frames at counter == 5 without a birth (geometric, p = 0.5)
    for slot in range(3):
        rows = obj.slot == slot
        ids, first = np.unique(obj.id[rows], return_index=True)
        starts = obj.frame[rows][first]
        ends = np.array([obj.frame[rows][obj.id[rows] == i].max() for i in ids])
        failures.append(starts[0] - 7)  # stream start: first drawn frame = 7 + failures
        # death frame = last + 1, then 5 waiting frames, births possible from last + 7 on,
        # first drawn one frame after the birth.
        failures.extend(starts[1:] - ends[:-1] - 8)
    failures = np.array(failures)
    n = len(failures)
    assert n > 600 and failures.min() == 0
    p0 = (failures == 0).mean()
    assert abs(p0 - 0.5) < 4 * np.sqrt(0.25 / n)
    # Geometric(1/2) failures: mean 1, variance 2.
    assert abs(failures.mean() - 1) < 4 * np.sqrt(2 / n)


def test_sizes_colours_and_shapes(long_objects, mnist):
    box = long_objects.box
    h_lo, h_hi = round(21 * 0.9 * np.sqrt(0.8)), round(21 * 1.1 * np.sqrt(1.2))
    w_lo, w_hi = round(21 * 0.9 / np.sqrt(1.2)), round(21 * 1.1 / np.sqrt(0.8))
    assert (h_lo, h_hi, w_lo, w_hi) == (17, 25, 17, 26)
    assert box[:, 3].min() >= h_lo and box[:, 3].max() <= h_hi
    assert box[:, 2].min() >= w_lo and box[:, 2].max() <= w_hi
    assert len(np.unique(box[:, 2:], axis=0)) > 20
    assert set(np.unique(long_objects.appearance)) == set(range(24))  # 6 colours x 4 shapes
    assert (mnist.objects.box[:, 2:] == 28).all()
    assert len(np.unique(mnist.objects.appearance)) > 50


def test_gt_is_one_based_patch_boxes(sprites):
    gt = sprites.gt(0)
    assert np.array_equal(gt.frame, sprites.objects.frame)
    assert gt.id.min() == 1 and (gt.conf == 1).all() and (gt.cls == -1).all()
    centre_x = gt.box[:, 0] - 1 + np.ceil((gt.box[:, 2] - 1) / 2)  # back to the 0-based centre
    assert centre_x.min() >= 10 and centre_x.max() <= 117
    assert gt.box[:, 0].min() <= 0  # patches may stick out of the frame: GT is not clipped


def reference_frames(objects: Objects, num_frames: int, channels: int, paint) -> np.ndarray:
    """Paste every object with plain loops in slot order, cropped (gen_*.py written naively)."""
    frames = np.zeros((num_frames, 128, 128, channels), np.uint8)
    order = np.lexsort((objects.slot, objects.frame))
    for i in order:
        left, top, width, height = objects.box[i].astype(int)
        left, top = left - 1, top - 1
        frame = frames[objects.frame[i] - 1]
        y0, x0 = max(top, 0), max(left, 0)
        y1, x1 = min(top + height, 128), min(left + width, 128)
        patch = paint(objects.appearance[i], height, width)[
            y0 - top : y1 - top, x0 - left : x1 - left
        ]
        frame[y0:y1, x0:x1] = patch(frame[y0:y1, x0:x1])
    return frames


def test_sprites_pixels_match_gt_boxes_blending_and_layers(sprites):
    colours, templates = sprite_colours().astype(np.float32), shape_templates(21)

    def paint(appearance, height, width):
        alpha = resize_bilinear(templates[appearance % 4], height, width).astype(np.float32) / 255
        colour = colours[appearance // 4]

        class Patch:
            def __getitem__(self, crop):
                a = alpha[crop][..., None]
                return lambda old: np.rint(old + a * (colour - old.astype(np.float32))).astype(
                    np.uint8
                )

        return Patch()

    expected = reference_frames(sprites.objects, 1500, 3, paint)
    assert np.array_equal(sprites.frames[0], expected)
    # Layering: somewhere a higher slot covers a lower one and shows its own colour.
    obj = sprites.objects
    covered = 0
    for frame in np.unique(obj.frame):
        rows = np.flatnonzero(obj.frame == frame)
        for a in rows:
            for b in rows:
                if obj.slot[b] <= obj.slot[a] or obj.appearance[a] // 4 == obj.appearance[b] // 4:
                    continue
                if obj.appearance[b] % 4 != 1:  # use full squares on top: every pixel opaque
                    continue
                (la, ta, wa, ha), (lb, tb, wb, hb) = (
                    obj.box[a] - [1, 1, 0, 0],
                    obj.box[b] - [1, 1, 0, 0],
                )
                y, x = int(max(ta, tb)), int(max(la, lb))
                if (
                    y < min(ta + ha, tb + hb)
                    and x < min(la + wa, lb + wb)
                    and 0 <= y < 128
                    and 0 <= x < 128
                ):
                    assert tuple(sprites.frames[0, frame - 1, y, x]) == tuple(
                        colours[obj.appearance[b] // 4]
                    )
                    covered += 1
    assert covered > 0


def test_mnist_pixels_are_saturating_sums_of_digits(mnist, mnist_adapter):
    digits = mnist_adapter.digits.images

    def paint(appearance, height, width):
        class Patch:
            def __getitem__(self, crop):
                digit = digits[appearance][crop][..., None].astype(np.int32)
                return lambda old: np.minimum(old + digit, 255).astype(np.uint8)

        return Patch()

    expected = reference_frames(mnist.objects, 1500, 1, paint)
    assert np.array_equal(mnist.frames[0], expected)
    # Overlaps happen and saturate: pixels at 255 covered by two digits both > 0.
    unclamped = np.zeros((1500, 128 + 64, 128 + 64), np.int32)
    for i in range(len(mnist.objects.id)):
        left, top = mnist.objects.box[i, :2].astype(int) - 1 + 32
        unclamped[mnist.objects.frame[i] - 1, top : top + 28, left : left + 28] += digits[
            mnist.objects.appearance[i]
        ]
    assert (unclamped[:, 32:160, 32:160] > 255).sum() > 0


def test_same_seed_same_data_other_seed_differs(sprites):
    again = next(sprites_generator().stream(1, 1500, SEED))
    assert np.array_equal(again.frames, sprites.frames)
    assert again.gt(0).equals(sprites.gt(0))
    other = next(sprites_generator().stream(1, 1500, SEED + 100))
    assert not np.array_equal(other.frames, sprites.frames)


def test_stream_is_continuous_across_chunks():
    generator = sprites_generator()
    whole = next(generator.stream(4, 60, SEED))
    chunks = generator.stream(4, 20, SEED)
    parts = [next(chunks) for _ in range(3)]
    assert np.array_equal(np.concatenate([p.frames for p in parts], axis=1), whole.frames)
    for stream in range(4):
        joined = parts[0].gt(stream).concat([p.gt(stream) for p in parts])
        assert joined.sorted().equals(whole.gt(stream).sorted())
    assert parts[2].objects.frame.min() > 40
    # Streams are independent videos with their own ids.
    assert not np.array_equal(whole.frames[0], whole.frames[1])
    assert all(whole.gt(n).id.min() == 1 for n in range(4))


def test_mnist_generator_rejects_jitter():
    with pytest.raises(ConfigError, match="zeta"):
        MnistGenerator(
            np.zeros((3, 28, 28), np.uint8),
            height=128,
            width=128,
            channels=1,
            objects=3,
            template_size=28,
            margin=9,
            zeta_s=0.1,
            zeta_r=0,
            speed=5.3,
            birth_prob=0.5,
            wait=5,
        )


# -- adapters and cache ---------------------------------------------------------------------------


def test_eval_split_is_one_cached_video(tmp_path, monkeypatch):
    adapter = load_dataset("sprites-mot", tmp_path, eval_frames=300)
    assert adapter.splits() == ["train", "eval"]
    (sequence,) = adapter.sequences("eval")
    assert (sequence.name, sequence.num_frames, sequence.width, sequence.height) == (
        "sprites-mot-eval",
        300,
        128,
        128,
    )
    assert sequence.fps == adapter.params["fps"]
    reference = next(adapter.generator.stream(1, 300, adapter.params["eval_seed"]))
    frames = np.stack([sequence.frame(i) for i in range(1, 301)])
    assert frames.dtype == np.uint8 and np.array_equal(frames, reference.frames[0])
    assert sequence.gt.sorted().equals(reference.gt(0).sorted())
    cache = adapter.cache_dir
    assert cache.parent == tmp_path / "sprites-mot" and (cache / "params.json").is_file()
    assert [p.name for p in tmp_path.joinpath("sprites-mot").iterdir()] == [cache.name]

    # A hit reads the cache without generating anything.
    def no_generation(*args, **kwargs):
        raise AssertionError("cache miss")

    monkeypatch.setattr(synthetic.SyntheticMOT, "_write_cache", no_generation)
    (again,) = load_dataset("sprites-mot", tmp_path, eval_frames=300).sequences("eval")
    assert np.array_equal(again.frame(123), sequence.frame(123))
    assert again.gt.equals(sequence.gt)
    # Other params, other folder.
    assert load_dataset("sprites-mot", tmp_path, eval_frames=301).cache_dir != cache
    assert load_dataset("sprites-mot", tmp_path, eval_seed=1, eval_frames=300).cache_dir != cache


def test_a_cache_miss_removes_temporary_folders_of_killed_writers(tmp_path):
    adapter = load_dataset("sprites-mot", tmp_path, eval_frames=5)
    parent, name = adapter.cache_dir.parent, adapter.cache_dir.name
    parent.mkdir(parents=True)
    abandoned, recent = parent / f".tmp-{name}-dead", parent / f".tmp-{name}-writing"
    for folder in (abandoned, recent):
        folder.mkdir()
    old = time.time() - synthetic.ABANDONED_AFTER_S - 60
    os.utime(abandoned, (old, old))
    adapter.sequences("eval")
    assert not abandoned.exists() and recent.is_dir()  # a concurrent writer's folder is kept
    assert (adapter.cache_dir / "params.json").is_file()


def test_a_video_without_objects_is_cached_and_read_back(tmp_path):
    # the first object is drawn at frame 7 at the earliest (wait 5 frames, birth, next frame)
    for _ in range(2):  # written, then read from the cache
        (sequence,) = load_dataset("sprites-mot", tmp_path, eval_frames=5).sequences("eval")
        assert sequence.num_frames == 5 and len(sequence.gt) == 0
        assert not sequence.frame(5).any()


def test_cache_write_is_atomic_and_verified(tmp_path, monkeypatch):
    real_stream = synthetic.TbaGenerator.stream

    def dying_stream(self, *args):
        chunks = real_stream(self, *args)
        yield next(chunks)
        raise KeyboardInterrupt  # killed in the middle of writing

    monkeypatch.setattr(synthetic.TbaGenerator, "stream", dying_stream)
    adapter = load_dataset("sprites-mot", tmp_path, eval_frames=1200)
    with pytest.raises(KeyboardInterrupt):
        adapter.sequences("eval")
    assert not adapter.cache_dir.exists()
    assert list((tmp_path / "sprites-mot").iterdir()) == []
    monkeypatch.undo()

    (sequence,) = adapter.sequences("eval")
    first = sequence.frame(1200)
    # A stamp that does not match the params is not trusted: the video is rebuilt.
    stamp = adapter.cache_dir / "params.json"
    stamp.write_text(json.dumps({"tampered": True}))
    (rebuilt,) = adapter.sequences("eval")
    assert json.loads(stamp.read_text())["eval_frames"] == 1200
    assert np.array_equal(rebuilt.frame(1200), first)


def test_mnist_eval_video_and_cache_key(mnist_adapter, tmp_path):
    adapter = load_dataset(
        "mnist-mot", tmp_path, mnist_dir=mnist_adapter.params["mnist_dir"], eval_frames=50
    )
    (sequence,) = adapter.sequences("eval")
    assert sequence.frame(50).shape == (128, 128, 1)
    assert json.loads((adapter.cache_dir / "params.json").read_text())["mnist_md5"] == (
        mnist_adapter.digits.fingerprint
    )


def test_train_split_is_a_stream():
    adapter = load_dataset("sprites-mot")
    with pytest.raises(ConfigError, match="stream"):
        adapter.sequences("train")
    chunk = next(adapter.stream(batch=2, length=5))
    assert chunk.frames.shape == (2, 5, 128, 128, 3)
    assert np.array_equal(next(adapter.stream(batch=2, length=5)).frames, chunk.frames)
    with pytest.raises(ConfigError):
        next(adapter.stream(batch=0, length=5))


def test_param_overrides_are_checked():
    with pytest.raises(ConfigError, match="eval_frame"):
        load_dataset("sprites-mot", eval_frame=10)
    with pytest.raises(ConfigError, match="no split"):
        load_dataset("sprites-mot").sequences("test")
