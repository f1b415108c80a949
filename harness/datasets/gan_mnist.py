"""MNIST-{Single,Multi}-{Same,Diff}: the cluttered moving-digit tracking datasets of Gan, Guo,
Zhang and Cho (2015), "First Step toward Model-Free, Anonymous Object Tracking with RNNs", §4.

A sequence is ``length`` grey 100x100 frames of three layers, each later one over the earlier
(a layer's pixels above ``draw_threshold`` times its maximum replace what is under them; the
released code's ``Overlap`` uses a quarter, for each clutter fragment, each digit patch and each
foreground clutter window):

1. background clutter: a 100x100 window moving over a 200x200 image of digit fragments;
2. the digits: ``objects`` (1: Single, 2: Multi) 28x28 shapes, drawn in order, each moving in the
   unit square by §4's process (``bouncing_walk``), its top-left corner at
   floor(p * (100 - side)) so that the whole patch stays inside, and rescaled each frame by a
   cumulative random factor; a shape is an MNIST digit, or for the Diff test sets an "MNIST-2"
   shape (``mnist2_shapes``, unscaled as in the released code); a digit's intensity is scaled by
   U(64, 255) / 255;
3. foreground clutter, the same kind of window over a second fragment image, over the digits
   (occluding them).

The target is the last-drawn (topmost) digit, as in the released code (BarclayII/tracking-with-rnn,
``data_handler.py``, where the label is overwritten in the digit loop). Its ground truth is the
tight box of its patch's pixels above a quarter of the patch's maximum, as (left, top, width,
height), 1-based. Training digits come from MNIST train, test digits from MNIST test.

The defaults generate what the released code generated, since it produced the paper's numbers:
velocity noise of standard deviation 0.1 (``velocity_noise_var`` 0.01; the paper prints
N(0, v'I) with v' = 0.1, the card's option) and faint pixels dropped (``draw_threshold`` 0.25; 0
draws every nonzero pixel). Where the paper is silent and the code's choice is not followed, it
is named here: scale factor exp(p * U(-0.5, 0.5)), p = 0.1, per frame and cumulative,
clipped to [scale_min, scale_max] (the paper gives no bound; the code restores the original size
whenever the patch would cross the right or bottom border); fresh clutter per sequence (the code
samples from a pack of 10,000 pre-made images); bouncing mirrors the overshoot (the code clamps to
the border); the initial speed is N(0, speed_std) per digit in a uniform direction (the code
draws one speed per batch).
"""

from __future__ import annotations

import functools
import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from harness.data import BoxTable, Sequence, SingleObjectSample
from harness.datasets.base import DatasetAdapter
from harness.datasets.mnist_idx import DIGIT_SIZE, load_mnist
from harness.datasets.synthetic import (
    cache_folder,
    cached_folder,
    image_rows,
    interpolation_matrix,
    is_cached,
    train_split_is_a_stream,
)
from harness.errors import ConfigError, FormatError
from harness.training import numpy_rng, numpy_rng_state

FRAME_SIZE = 100  # §4: "each frame is 100 x 100 large"
CLUTTER_SIZE = 2 * FRAME_SIZE  # the clutter image a window moves over (the released code's)
MNIST2_PART = 18  # MNIST-2: two digits, each downscaled to 18x18, overlapping in a 28x28 canvas
MNIST2_OFFSET = DIGIT_SIZE - MNIST2_PART
CACHE_VERSION = 3  # bump when the generated content changes, so old caches are not reused
CHUNK_SEQUENCES = 16  # sequences generated at once when a split is cached
SHAPES = ("digits", "mnist-2")
GENERATOR_PARAMS = (
    "objects",
    "step",
    "speed_std",
    "velocity_noise_var",
    "draw_threshold",
    "scale_change",
    "scale_min",
    "scale_max",
    "intensity_min",
    "intensity_max",
    "clutter_fragments",
    "clutter_size_min",
    "clutter_size_max",
    "clutter_step",
    "clutter_move_prob",
)


def bouncing_walk(
    rng: np.random.Generator,
    count: int,
    length: int,
    step: float,
    speed_std: float,
    noise_var: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Positions and velocities (length, count, 2), (x, y) in the unit square (§4):
    p_t = p_{t-1} + k v_{t-1}, v_t = v_{t-1} + N(0, v'I), k = ``step``, v' = ``noise_var``.

    p_0 is uniform, v_0 has a N(0, speed_std) speed in a uniform direction. A coordinate that
    leaves [0, 1] is mirrored back in and that velocity component reversed (bouncing).
    """
    position = rng.random((count, 2))
    angle = rng.uniform(0, 2 * np.pi, count)
    speed = rng.normal(0, speed_std, count)
    velocity = speed[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    noise = rng.normal(0, np.sqrt(noise_var), (length, count, 2))
    positions = np.empty((length, count, 2))
    velocities = np.empty((length, count, 2))
    positions[0], velocities[0] = position, velocity
    for t in range(1, length):
        position = position + step * velocity
        below, above = position < 0, position > 1
        position = np.clip(
            np.where(below, -position, np.where(above, 2 - position, position)), 0, 1
        )
        velocity = np.where(below | above, -velocity, velocity) + noise[t]
        positions[t], velocities[t] = position, velocity
    return positions, velocities


def mnist2_shapes(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """MNIST-2 shapes (n, 28, 28) uint8 from digit pairs (n, 28, 28): ``first`` downscaled to
    18x18 at [0:18, 0:18], ``second`` downscaled to 18x18 at [10:28, 10:28] over it (§4, "two
    randomly selected normal MNIST digits overlapping"; the layout is the released code's)."""
    down = interpolation_matrix(DIGIT_SIZE, MNIST2_PART)

    def shrink(digits: np.ndarray) -> np.ndarray:
        resized = down @ digits.astype(np.float64) @ down.T
        return np.clip(np.rint(resized), 0, 255).astype(np.uint8)

    shapes = np.zeros((len(first), DIGIT_SIZE, DIGIT_SIZE), np.uint8)
    shapes[:, :MNIST2_PART, :MNIST2_PART] = shrink(first)
    over = shrink(second)
    corner = shapes[:, MNIST2_OFFSET:, MNIST2_OFFSET:]
    np.copyto(corner, over, where=over > 0)
    return shapes


def tight_boxes(patches: np.ndarray) -> np.ndarray:
    """(..., 4) boxes (left, top, width, height), 0-based in the patch, of each patch's pixels
    above a quarter of its maximum (the paper's tight box)."""
    mask = patches > patches.max(axis=(-2, -1), keepdims=True) / 4
    rows, cols = mask.any(axis=-1), mask.any(axis=-2)
    side = patches.shape[-1]
    top, left = rows.argmax(axis=-1), cols.argmax(axis=-1)
    bottom = side - 1 - rows[..., ::-1].argmax(axis=-1)
    right = side - 1 - cols[..., ::-1].argmax(axis=-1)
    return np.stack([left, top, right - left + 1, bottom - top + 1], axis=-1)


@dataclass(frozen=True)
class Scene:
    """N generated sequences of T frames with M digits, and how they were made.

    ``frames`` (N, T, 100, 100, 1) uint8; ``boxes`` (N, T, 4) the target's ltwh, 1-based.
    ``positions``, ``velocities`` (N, T, M, 2): the unit-square walk of each digit, ``scales``
    (N, T, M) its cumulative scale, ``corners`` (N, T, M, 2) the (top, left) pixel of its patch
    and ``sides`` (N, T, M) the patch side.
    ``background``, ``digits``, ``foreground`` (N, T, 100, 100) uint8: the three layers.
    ``shapes`` (N, M) the index of each digit in the generator's pool (the first of an MNIST-2).
    """

    frames: np.ndarray
    boxes: np.ndarray
    positions: np.ndarray
    velocities: np.ndarray
    scales: np.ndarray
    corners: np.ndarray
    sides: np.ndarray
    background: np.ndarray
    digits: np.ndarray
    foreground: np.ndarray
    shapes: np.ndarray


class GanMnistGenerator:
    """Sequences of §4 from a pool of 28x28 ``digits`` (uint8); ``mnist2`` makes every moving
    shape an MNIST-2 one (``mnist2_shapes``). Clutter fragments are crops of the same pool."""

    def __init__(
        self,
        digits: np.ndarray,
        *,
        mnist2: bool,
        objects: int,
        step: float,
        speed_std: float,
        velocity_noise_var: float,
        draw_threshold: float,
        scale_change: float,
        scale_min: float,
        scale_max: float,
        intensity_min: float,
        intensity_max: float,
        clutter_fragments: int,
        clutter_size_min: int,
        clutter_size_max: int,
        clutter_step: float,
        clutter_move_prob: float,
    ):
        if objects < 1:
            raise ConfigError(f"objects must be >= 1, got {objects}")
        if not 0 < scale_min <= 1 <= scale_max or round(DIGIT_SIZE * scale_max) > FRAME_SIZE:
            raise ConfigError(
                f"need 0 < scale_min <= 1 <= scale_max <= {FRAME_SIZE / DIGIT_SIZE:.2f},"
                f" got {scale_min}, {scale_max}"
            )
        if not 1 <= clutter_size_min <= clutter_size_max < DIGIT_SIZE:
            raise ConfigError(
                f"need 1 <= clutter_size_min <= clutter_size_max < {DIGIT_SIZE},"
                f" got {clutter_size_min}, {clutter_size_max}"
            )
        if not 0 <= draw_threshold < 1:
            raise ConfigError(f"draw_threshold must be in [0, 1), got {draw_threshold}")
        if not 0 <= intensity_min <= intensity_max <= 255:
            raise ConfigError(
                f"intensities must be in [0, 255], got {intensity_min}, {intensity_max}"
            )
        self.digits, self.mnist2, self.objects = digits, mnist2, objects
        self.step, self.speed_std, self.velocity_noise_var = step, speed_std, velocity_noise_var
        self.draw_threshold = draw_threshold
        self.scale_change, self.scale_min, self.scale_max = scale_change, scale_min, scale_max
        self.intensity = (intensity_min, intensity_max)
        self.clutter_fragments = clutter_fragments
        self.clutter_sizes = (clutter_size_min, clutter_size_max)
        self.clutter_step, self.clutter_move_prob = clutter_step, clutter_move_prob
        # Resampling matrices (side, P, 28) of every patch side, zero below the side: a patch of
        # side s is M[s] @ shape @ M[s].T in a P x P array, P the largest side.
        self.min_side = int(round(DIGIT_SIZE * scale_min))
        self.max_side = int(round(DIGIT_SIZE * scale_max))
        resample = np.zeros((self.max_side + 1, self.max_side, DIGIT_SIZE), np.float32)
        for side in range(self.min_side, self.max_side + 1):
            resample[side, :side] = interpolation_matrix(DIGIT_SIZE, side)
        self._resample = resample

    def _walk(self, rng: np.random.Generator, count: int, length: int, step: float):
        return bouncing_walk(rng, count, length, step, self.speed_std, self.velocity_noise_var)

    def _scales(self, rng: np.random.Generator, count: int, length: int) -> np.ndarray:
        """(length, count) cumulative scales: s_t = clip(s_{t-1} exp(p f), scale_min, scale_max),
        f ~ U(-0.5, 0.5), s_0 = 1 (§4; the paper's "f = p exp(f~)" read as the code's factor)."""
        factors = np.exp(self.scale_change * (rng.random((length, count)) - 0.5))
        scales = np.empty((length, count))
        scale = np.ones(count)
        scales[0] = scale
        for t in range(1, length):
            scale = np.clip(scale * factors[t], self.scale_min, self.scale_max)
            scales[t] = scale
        return scales

    def _shapes(self, rng: np.random.Generator, count: int) -> tuple[np.ndarray, np.ndarray]:
        """(pool index (count,), shapes (count, 28, 28) float32 in [0, 255]): digits with
        intensity U(64, 255)/255; MNIST-2 shapes as composed, unscaled, as the released code's
        ``double_mnist`` branch draws them (the paper says nothing of their intensity)."""
        index = rng.integers(0, len(self.digits), count)
        shapes = self.digits[index]
        intensity = rng.uniform(*self.intensity, count).astype(np.float32) / np.float32(255)
        if self.mnist2:
            second = self.digits[rng.integers(0, len(self.digits), count)]
            return index, mnist2_shapes(shapes, second).astype(np.float32)
        return index, shapes.astype(np.float32) * intensity[:, None, None]

    def clutter(self, rng: np.random.Generator, count: int) -> np.ndarray:
        """(count, 200, 200) uint8 clutter images of ``clutter_fragments`` fragments each, later
        ones over earlier ones: a random size x size crop (size uniform in [clutter_size_min,
        clutter_size_max]) of a random digit, intensity U(64, 255)/255, at a random place."""
        fragments, (low, high) = self.clutter_fragments, self.clutter_sizes
        shape = (fragments, count)
        digit = rng.integers(0, len(self.digits), shape)
        size = rng.integers(low, high + 1, shape)
        crop = rng.integers(0, DIGIT_SIZE - size[..., None] + 1, (*shape, 2))
        place = rng.integers(0, CLUTTER_SIZE - size[..., None] + 1, (*shape, 2))
        intensity = rng.uniform(*self.intensity, shape) / 255
        images = np.zeros((count, CLUTTER_SIZE, CLUTTER_SIZE), np.uint8)
        offsets = np.arange(high)
        for f in range(fragments):
            rows = np.minimum(crop[f, :, 0, None] + offsets, DIGIT_SIZE - 1)
            cols = np.minimum(crop[f, :, 1, None] + offsets, DIGIT_SIZE - 1)
            piece = self.digits[digit[f][:, None, None], rows[:, :, None], cols[:, None, :]]
            values = np.rint(piece * intensity[f][:, None, None]).astype(np.uint8)
            inside = offsets < size[f][:, None]
            inside = inside[:, :, None] & inside[:, None, :]
            image, i, j = np.nonzero(inside & self._drawn(np.where(inside, values, 0), (1, 2)))
            top, left = place[f, image, 0], place[f, image, 1]
            images[image, top + i, left + j] = values[image, i, j]
        return images

    def _drawn(self, layer: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
        """Where ``layer`` is drawn over what lies under it: above ``draw_threshold`` times its
        maximum over ``axes`` (the released code's ``Overlap``: a quarter)."""
        return layer > self.draw_threshold * layer.max(axis=axes, keepdims=True)

    def _windows(self, rng: np.random.Generator, count: int, length: int) -> np.ndarray:
        """(count, length, 2) top-left corners of the 100x100 clutter window: the same bouncing
        walk with step ``clutter_step``; a sequence's window stands still at its first corner
        unless it moves (probability ``clutter_move_prob``)."""
        positions, _ = self._walk(rng, count, length, self.clutter_step)
        moves = rng.random(count) < self.clutter_move_prob
        positions = np.where(moves[None, :, None], positions, positions[:1])
        return np.floor(positions * (CLUTTER_SIZE - FRAME_SIZE)).astype(np.int64).swapaxes(0, 1)

    def scene(self, rng: np.random.Generator, count: int, length: int) -> Scene:
        """``count`` sequences of ``length`` frames (see the module docstring)."""
        if count < 1 or length < 1:
            raise ConfigError(f"need >= 1 sequence of >= 1 frame, got {count} of {length}")
        N, T, M, S = count, length, self.objects, FRAME_SIZE  # M moving digits
        index, shapes = self._shapes(rng, N * M)
        positions, velocities = self._walk(rng, N * M, T, self.step)
        scales = self._scales(rng, N * M, T)
        windows = self._windows(rng, N, T)
        clutter = self.clutter(rng, 2 * N)

        def per_object(array: np.ndarray) -> np.ndarray:  # (T, N*M, ...) -> (N, T, M, ...)
            return array.reshape(T, N, M, *array.shape[2:]).swapaxes(0, 1)

        positions, velocities, scales = map(per_object, (positions, velocities, scales))
        sides = np.rint(DIGIT_SIZE * scales).astype(np.int64)
        corners = np.floor(positions[..., ::-1] * (S - sides[..., None])).astype(np.int64)
        resample = self._resample[sides]  # (N, T, M, P, 28)
        shapes = shapes.reshape(N, 1, M, DIGIT_SIZE, DIGIT_SIZE)
        patches = resample @ shapes @ resample.swapaxes(-1, -2)  # convex weights: in [0, 255]
        patches = np.add(patches, 0.5, out=patches).astype(np.uint8)  # rounded

        digits = np.zeros((N, T, S, S), np.uint8)
        for n, t, o in np.ndindex(N, T, M):  # in drawing order: a later digit is on top
            (top, left), side = corners[n, t, o], sides[n, t, o]
            patch = patches[n, t, o, :side, :side]
            drawn = self._drawn(patch, (0, 1))
            np.copyto(digits[n, t, top : top + side, left : left + side], patch, where=drawn)
        view = np.lib.stride_tricks.sliding_window_view(clutter, (S, S), axis=(1, 2))
        rows, cols = windows[..., 0], windows[..., 1]
        background = view[np.arange(N)[:, None], rows, cols]
        foreground = view[np.arange(N, 2 * N)[:, None], rows, cols]
        if self.draw_threshold:
            foreground = foreground * self._drawn(foreground, (2, 3))
        # b over a where b > 0, as a * (b == 0) + b (uint8 arithmetic is faster than np.where)
        frames = background * (digits == 0) + digits
        frames = frames * (foreground == 0) + foreground

        box = tight_boxes(patches[:, :, -1]).astype(np.float64)
        box[..., :2] += corners[:, :, -1, ::-1] + 1
        return Scene(
            frames=frames[..., None],
            boxes=box,
            positions=positions,
            velocities=velocities,
            scales=scales,
            corners=corners,
            sides=sides,
            background=background,
            digits=digits,
            foreground=foreground,
            shapes=index.reshape(N, M),
        )


class TrainingBatch(NamedTuple):
    """``frames`` (N, T, 100, 100, 1) uint8 and the target's ``boxes`` (N, T, 4) ltwh, 1-based."""

    frames: np.ndarray
    boxes: np.ndarray


class GanMnistStream:
    """Endless training batches of ``batch`` fresh sequences of ``length`` frames, seeded, whose
    position can be saved (``harness.training.Stream``)."""

    def __init__(self, generator: GanMnistGenerator, batch: int, length: int, seed: int):
        self.generator, self.batch, self.length = generator, batch, length
        self.rng = np.random.default_rng(seed)

    def next_batch(self) -> TrainingBatch:
        scene = self.generator.scene(self.rng, self.batch, self.length)
        return TrainingBatch(scene.frames, scene.boxes)

    def state_dict(self) -> dict[str, Any]:
        return {"rng": numpy_rng_state(self.rng)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng = numpy_rng(state["rng"])


class GanMnist(DatasetAdapter):
    """The four datasets of Gan et al. (2015), one card each: ``objects`` 1 or 2 (Single, Multi),
    ``test_shapes`` digits or mnist-2 (Same, Diff).

    ``test``: ``sequences`` sequences of ``length`` frames of MNIST test digits (seed
    ``eval_seed``), ``val``: the same of MNIST train digits as in training (seed ``val_seed``);
    each cached under ``root`` (default ``$TRACKBENCH_CACHE`` or ``~/.cache/trackbench``) and one
    single-object sample per sequence. ``train``: ``stream(batch, length, seed)``.
    """

    generated = True
    frames_param = "length"
    generator_version = CACHE_VERSION

    @functools.cached_property
    def mnist(self):
        return load_mnist(self.params.get("mnist_dir"))

    def generator(self, split: str) -> GanMnistGenerator:
        """The generator of ``split``: test digits and ``test_shapes`` for test, else train."""
        self.check_split(split)
        shapes = self.params["test_shapes"]
        if shapes not in SHAPES:
            raise ConfigError(f"test_shapes must be one of {list(SHAPES)}, got {shapes!r}")
        test = split == "test"
        return GanMnistGenerator(
            self.mnist.test if test else self.mnist.train,
            mnist2=test and shapes == "mnist-2",
            **{key: self.params[key] for key in GENERATOR_PARAMS},
        )

    def stream(self, batch: int = 32, length: int = 20, seed: int = 0) -> GanMnistStream:
        """The training stream: batches of ``batch`` sequences of ``length`` frames (§4: 20)."""
        if batch < 1 or length < 1:
            raise ConfigError(f"stream batch and length must be >= 1, got {batch}, {length}")
        return GanMnistStream(self.generator("train"), batch, length, seed)

    def _content_params(self, split: str) -> dict[str, Any]:
        """Everything that determines a cached split (hashed into its folder's name)."""
        keys = (*GENERATOR_PARAMS, "test_shapes", "length", "sequences")
        return {
            "dataset": self.card["name"],
            "version": CACHE_VERSION,
            "split": split,
            "seed": self.params["eval_seed" if split == "test" else "val_seed"],
            "mnist_md5": self.mnist.fingerprint,
            **{key: self.params[key] for key in keys},
        }

    def cache_dir(self, split: str) -> Path:
        return cache_folder(self.root, self.card["name"], self._content_params(split))

    def cache_bytes(self, split: str) -> int:
        """The split's frames in bytes (uint8); the train stream is not cached."""
        return (
            0
            if split == "train"
            else self.params["sequences"] * self.params["length"] * FRAME_SIZE**2
        )

    def cached(self, split: str) -> bool:
        return split == "train" or is_cached(self.cache_dir(split), self._content_params(split))

    def sequences(self, split: str) -> list[Sequence]:
        """One sequence per generated sequence of ``split``, frames read lazily from the cache."""
        import datasets  # Hugging Face's, imported when needed: it is slow to import

        self.check_split(split)
        if split == "train":
            raise train_split_is_a_stream(self.card["name"])
        count, length = self.params["sequences"], self.params["length"]
        if count < 1 or length < 1:
            raise ConfigError(f"sequences and length must be >= 1, got {count}, {length}")
        what = (
            f"{count:,} {split} sequences of {length} frames"
            f" (about {self.cache_bytes(split) / 1e6:.0f} MB)"
        )
        path = cached_folder(
            self.cache_dir(split),
            self._content_params(split),
            functools.partial(self._write_cache, split),
            self.card["name"],
            what,
        )
        parts = datasets.load_from_disk(str(path / "dataset"))
        boxes = parts["boxes"].with_format("numpy")[:]
        if len(boxes["left"]) != count * length:
            raise FormatError(
                f"cache holds {len(boxes['left'])} boxes, expected {count * length};"
                " delete the folder",
                path,
            )
        box = np.stack([boxes[key] for key in ("left", "top", "width", "height")], axis=1)
        image_at = image_rows(parts["frames"], (FRAME_SIZE, FRAME_SIZE, 1))
        numbers = np.arange(1, length + 1)
        return [
            Sequence(
                name=f"{self.card['name']}-{split}-{i:04d}",
                num_frames=length,
                width=FRAME_SIZE,
                height=FRAME_SIZE,
                fps=float(self.params["fps"]),
                gt=BoxTable.build(
                    frame=numbers, box=box[i * length : (i + 1) * length], id=np.ones(length)
                ),
                load_frame=_frame_loader(image_at, i * length - 1),
                meta={"cache": str(path), "seed": self._content_params(split)["seed"]},
            )
            for i in range(count)
        ]

    def samples(self, split: str) -> list[SingleObjectSample]:
        """One sample per sequence: the target (id 1) over all its frames."""
        return [
            SingleObjectSample(sequence, 1, sequence.gt.frame, sequence.gt.box)
            for sequence in self.sequences(split)
        ]

    def _write_cache(self, split: str, folder: Path, params: dict[str, Any]) -> None:
        """Frames (one row each: sequence, frame, image) and the target's boxes, saved with
        Hugging Face datasets, generated ``CHUNK_SEQUENCES`` sequences at a time."""
        import datasets

        generator = self.generator(split)
        rng = np.random.default_rng(params["seed"])
        count, length = params["sequences"], params["length"]
        boxes: list[np.ndarray] = []

        def rows():
            for start in range(0, count, CHUNK_SEQUENCES):
                scene = generator.scene(rng, min(CHUNK_SEQUENCES, count - start), length)
                boxes.append(scene.boxes.reshape(-1, 4))
                for (n, t), image in zip(
                    np.ndindex(scene.frames.shape[:2]),
                    scene.frames.reshape(-1, FRAME_SIZE, FRAME_SIZE),
                ):
                    yield {"sequence": start + n, "frame": t + 1, "image": image}

        features = datasets.Features(
            {
                "sequence": datasets.Value("int32"),
                "frame": datasets.Value("int32"),
                "image": datasets.Array2D((FRAME_SIZE, FRAME_SIZE), "uint8"),
            }
        )
        frames = datasets.Dataset.from_generator(
            rows,
            features=features,
            cache_dir=str(folder / "build"),
            fingerprint=hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest(),
        )
        box = np.concatenate(boxes)
        columns = {key: box[:, k] for k, key in enumerate(("left", "top", "width", "height"))}
        datasets.DatasetDict(
            {"frames": frames, "boxes": datasets.Dataset.from_dict(columns)}
        ).save_to_disk(str(folder / "dataset"))
        shutil.rmtree(folder / "build")


def _frame_loader(
    image_at: Callable[[int], np.ndarray], offset: int
) -> Callable[[int], np.ndarray]:
    """The loader of 1-based frame ``number`` of the sequence whose frame 1 is row offset + 1."""
    return lambda number: image_at(offset + number)
