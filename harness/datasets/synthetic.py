"""Sprites-MOT and MNIST-MOT: the synthetic videos of Tracking by Animation (He et al. 2019, §4.1
and Appendix A.1), made as the released code's scripts/gen_sprite.py and scripts/gen_mnist.py
(zhen-he/tracking-by-animation) make them.

Every stream runs the TBA per-slot process: a slot waits ``wait`` frames, then gives birth with
probability ``birth_prob`` per frame; the newborn object moves on a straight line between opposite
borders of the centre band [m, size-1-m] at ``speed`` px/frame, is drawn from the frame after its
birth on, and dies (nothing drawn, the slot waits again) once its rounded centre leaves the band.
Slots are drawn in order 0, 1, 2, ... (a higher slot on top). Unlike the original (torch.rand in a
thread pool, no seed), generation is deterministic: one numpy generator per stream batch, seeded.

Everything is vectorised over streams and slots; the only Python loop is over frames, on (N, O)
state arrays, and pasting is a gather/blend/scatter per slot layer over a whole chunk. Each object's
visible fraction (its mask's pixels inside the frame and under no higher slot's mask) is counted
the same way, layer by layer from the top.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.data import BoxTable, Sequence
from harness.datasets.base import DatasetAdapter
from harness.datasets.mnist_idx import load_mnist
from harness.errors import ConfigError, FormatError

# A rounded centre is an integer, so any 0 < EPS < 1 gives the same deaths; 1e-5 is the original's.
log = logging.getLogger(__name__)
EPS = 1e-5
# Per (frame, stream, slot) uniforms, drawn whether or not a birth happens (chunking-invariant).
U_BIRTH, U_DIRECTION, U_P0, U_P1, U_SCALE, U_RATIO, U_APPEAR_A, U_APPEAR_B = range(8)
NUM_UNIFORMS = 8
# Columns of the per-slot object attributes.
X0, Y0, VX, VY, HEIGHT, WIDTH, APPEARANCE, PATCH, ID = range(9)
NUM_ATTRS = 9
# A cache is written in seconds: a temporary folder this old was left by a killed writer.
ABANDONED_AFTER_S = 3600
CACHE_VERSION = 2  # bump when the generated content changes, so old caches are not reused


def shape_templates(size: int) -> np.ndarray:
    """The 4 binary sprite masks (4, size, size) in {0, 255}: circle, square, triangle, diamond.

    Circle (i-c)^2+(j-c)^2 <= (size/2)^2 and diamond |i-c|+|j-c| <= size/2 with c = (size-1)/2;
    the isosceles triangle has its apex at the top (TBA ``gen_sprite.py``'s slope rule).
    """
    i, j = np.mgrid[0:size, 0:size].astype(np.float64)
    centre, radius = (size - 1) / 2, size / 2
    circle = (i - centre) ** 2 + (j - centre) ** 2 <= radius**2
    square = np.ones((size, size), bool)
    left_half = j <= size / 2 - 1
    slope = np.where(left_half, (size - i) / (j + 1), (size - i) / (size - j))
    triangle = slope <= 2
    diamond = np.abs(i - centre) + np.abs(j - centre) <= radius
    return np.stack([circle, square, triangle, diamond]).astype(np.uint8) * 255


def sprite_colours() -> np.ndarray:
    """The 6 colours (6, 3) uint8 RGB: R = floor(j/4), G = floor((j mod 4)/2), B = j mod 2, j = i+1.

    That is blue, green, cyan, red, magenta, yellow. The original stored frames in BGR order; ours
    are RGB like every trackbench image.
    """
    j = np.arange(1, 7)
    return (np.stack([j // 4, (j % 4) // 2, j % 2], axis=1) * 255).astype(np.uint8)


def interpolation_matrix(source: int, target: int) -> np.ndarray:
    """(target, source) weights of linear interpolation: pixel centres aligned, edges clamped."""
    x = np.clip((np.arange(target) + 0.5) * (source / target) - 0.5, 0, source - 1)
    lo = np.floor(x).astype(np.int64)
    hi = np.minimum(lo + 1, source - 1)
    frac = x - lo
    weights = np.zeros((target, source))
    rows = np.arange(target)
    np.add.at(weights, (rows, lo), 1 - frac)
    np.add.at(weights, (rows, hi), frac)
    return weights


def resize_bilinear(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize a 2-D uint8 image like ``cv2.resize(..., INTER_LINEAR)`` (float weights, rounded)."""
    rows = interpolation_matrix(image.shape[0], height)
    cols = interpolation_matrix(image.shape[1], width)
    return np.clip(np.rint(rows @ image.astype(np.float64) @ cols.T), 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class Objects:
    """The visible objects of a chunk, one row per object per frame, by (frame, stream, slot).

    ``box`` is (left, top, width, height) of the whole pasted patch, left/top 1-based as TBA's GT
    (0-based pixel + 1, as gen_sprite.py and gen_mnist.py write it), not clipped to the frame.
    ``appearance`` is colour*4 + shape (Sprites) or the digit's index in the 70,000-digit pool
    (MNIST). ``visibility`` is the share of the object's mask (the pixels its patch paints: alpha
    or digit > 0) inside the frame and not under the mask of a higher slot in the same frame.
    """

    stream: np.ndarray
    frame: np.ndarray
    slot: np.ndarray
    id: np.ndarray
    box: np.ndarray
    appearance: np.ndarray
    visibility: np.ndarray


@dataclass(frozen=True)
class Chunk:
    """``frames`` (N, T, H, W, D) uint8 of N streams and the objects visible in them."""

    frames: np.ndarray
    objects: Objects

    def gt(self, stream: int = 0) -> BoxTable:
        """Ground truth of one stream in MOTChallenge form (conf 1, class -1, visible fraction)."""
        rows = self.objects.stream == stream
        return BoxTable.build(
            frame=self.objects.frame[rows],
            box=self.objects.box[rows],
            id=self.objects.id[rows],
            visibility=self.objects.visibility[rows],
        )


@dataclass
class StreamState:
    """What carries over between chunks: per (stream, slot) wait counter, steps drawn and object."""

    counter: np.ndarray
    steps: np.ndarray
    attrs: np.ndarray
    births: np.ndarray
    frames_done: int = 0


class TbaGenerator:
    """The birth / straight-line motion / death process of both TBA datasets (gen_*.py)."""

    def __init__(
        self,
        *,
        height: int,
        width: int,
        channels: int,
        objects: int,
        template_size: int,
        margin: int,
        zeta_s: float,
        zeta_r: float,
        speed: float,
        birth_prob: float,
        wait: int,
    ):
        if not (0 <= zeta_s < 1 and 0 <= zeta_r < 1):
            raise ConfigError(f"zeta_s and zeta_r must be in [0, 1), got {zeta_s}, {zeta_r}")
        if not 0 <= birth_prob <= 1:
            raise ConfigError(f"birth_prob must be in [0, 1], got {birth_prob}")
        if not 0 <= margin < min(height, width) / 2:
            raise ConfigError(f"margin {margin} leaves no room in a {height}x{width} frame")
        self.height, self.width, self.channels = height, width, channels
        self.objects, self.template_size, self.margin = objects, template_size, margin
        self.zeta_s, self.zeta_r = zeta_s, zeta_r
        self.speed, self.birth_prob, self.wait = speed, birth_prob, wait
        # Patch sides are round(size * s * r) and round(size * s / r): bound them over the ranges.
        scales = 1 + np.array([-zeta_s, zeta_s])
        ratios = np.sqrt(1 + np.array([-zeta_r, zeta_r]))
        sides = template_size * np.concatenate(
            [np.outer(scales, ratios), np.outer(scales, 1 / ratios)]
        )
        self.min_size = int(np.rint(sides.min()))
        self.max_size = int(np.rint(sides.max()))

    # -- appearance, specialised per dataset ------------------------------------------------------

    def _appearance(self, u: np.ndarray, height: np.ndarray, width: np.ndarray):
        """(appearance code, patch index) of newborn objects from their uniforms ``u``."""
        raise NotImplementedError

    def _compose(self, pixels: np.ndarray, patch: np.ndarray, appearance: np.ndarray) -> np.ndarray:
        """Paint patches (k, P, P) onto ``pixels`` (k, P, P, D) uint8; zero padding is a no-op."""
        raise NotImplementedError

    def _masks(self, patch: np.ndarray, appearance: np.ndarray) -> np.ndarray:
        """(k, P, P) bool: the pixels that each patch paints (False on the zero padding)."""
        raise NotImplementedError

    # -- the process ------------------------------------------------------------------------------

    def new_state(self, streams: int) -> StreamState:
        shape = (streams, self.objects)
        return StreamState(
            counter=np.zeros(shape, np.int64),
            steps=np.zeros(shape, np.int64),
            attrs=np.zeros((*shape, NUM_ATTRS)),
            births=np.zeros(streams, np.int64),
        )

    def _birth_attributes(self, u: np.ndarray) -> np.ndarray:
        """Attributes (..., NUM_ATTRS) an object would get if born at each (frame, stream, slot)."""
        m, H, W = self.margin, self.height, self.width
        # 0: top->bottom, 1: bottom->top, 2: left->right, 3: right->left
        direction = np.floor(u[..., U_DIRECTION] * 4)
        vertical = direction < 2
        band = np.where(vertical, W - 2 * m, H - 2 * m)
        p0 = np.floor(u[..., U_P0] * band) + m
        p1 = np.floor(u[..., U_P1] * band) + m
        x0 = np.where(vertical, p0, np.where(direction == 2, m, W - 1 - m))
        x1 = np.where(vertical, p1, np.where(direction == 2, W - 1 - m, m))
        y0 = np.where(vertical, np.where(direction == 0, m, H - 1 - m), p0)
        y1 = np.where(vertical, np.where(direction == 0, H - 1 - m, m), p1)
        theta = np.arctan2(y1 - y0, x1 - x0)
        scale = 1 + self.zeta_s * (2 * u[..., U_SCALE] - 1)
        ratio = np.sqrt(1 + self.zeta_r * (2 * u[..., U_RATIO] - 1))
        height = np.rint(self.template_size * scale * ratio)
        width = np.rint(self.template_size * scale / ratio)
        appearance, patch = self._appearance(u, height, width)
        attrs = np.zeros((*u.shape[:-1], NUM_ATTRS))
        attrs[..., X0], attrs[..., Y0] = x0, y0
        attrs[..., VX], attrs[..., VY] = self.speed * np.cos(theta), self.speed * np.sin(theta)
        attrs[..., HEIGHT], attrs[..., WIDTH] = height, width
        attrs[..., APPEARANCE], attrs[..., PATCH] = appearance, patch
        return attrs

    def advance(self, state: StreamState, rng: np.random.Generator, length: int) -> Chunk:
        """Generate the next ``length`` frames of every stream of ``state`` (updated in place)."""
        streams, slots = state.counter.shape
        u = rng.random((length, streams, slots, NUM_UNIFORMS))
        newborn = self._birth_attributes(u)
        born_now = u[..., U_BIRTH] < self.birth_prob
        low = self.margin - EPS
        high = np.array([self.width - 1 - self.margin, self.height - 1 - self.margin]) + EPS
        visible = np.zeros((length, streams, slots), bool)
        centres = np.zeros((length, streams, slots, 2))
        attrs_seen = np.zeros((length, streams, slots, NUM_ATTRS))
        counter, steps, attrs = state.counter, state.steps, state.attrs
        for t in range(length):
            alive = counter > self.wait
            centre = np.rint(attrs[..., X0 : Y0 + 1] + steps[..., None] * attrs[..., VX : VY + 1])
            inside = ((centre >= low) & (centre <= high)).all(axis=-1)
            drawn = alive & inside
            born = (counter == self.wait) & born_now[t]
            counter = np.where(
                alive, np.where(inside, counter, 0), np.minimum(counter + 1, self.wait)
            )
            steps = steps + drawn
            visible[t], centres[t], attrs_seen[t] = drawn, centre, attrs
            if born.any():
                counter[born] = self.wait + 1
                steps[born] = 0
                attrs[born] = newborn[t][born]
                ids = state.births[:, None] + np.cumsum(born, axis=1)
                attrs[born, ID] = ids[born]
                state.births = state.births + born.sum(axis=1)
        state.counter, state.steps, state.attrs = counter, steps, attrs

        t_idx, n_idx, o_idx = np.nonzero(visible)
        seen = attrs_seen[t_idx, n_idx, o_idx]
        centre = centres[t_idx, n_idx, o_idx]
        height, width = seen[:, HEIGHT].astype(np.int64), seen[:, WIDTH].astype(np.int64)
        top = np.floor(centre[:, 1] - (height - 1) / 2).astype(np.int64)
        left = np.floor(centre[:, 0] - (width - 1) / 2).astype(np.int64)
        pixel = self._windows(streams * length, n_idx * length + t_idx, top, left)
        patch, appearance = seen[:, PATCH].astype(np.int64), seen[:, APPEARANCE].astype(np.int64)
        frames = self._paint((streams, length), pixel, o_idx, patch, appearance)
        objects = Objects(
            stream=n_idx,
            frame=state.frames_done + t_idx + 1,
            slot=o_idx,
            id=seen[:, ID].astype(np.int64),
            box=np.stack([left + 1, top + 1, width, height], axis=1).astype(np.float64),
            appearance=appearance,
            visibility=self._visible_fraction(streams * length, pixel, o_idx, patch, appearance),
        )
        state.frames_done += length
        return Chunk(frames, objects)

    def _windows(self, frames: int, flat_frame, top, left) -> np.ndarray:
        """Flat pixel indices (k, P, P) of each object's P x P window (P = largest patch) at its
        top-left corner in ``frames`` stacked frames; pixels outside the frame all go to index
        ``frames * H * W``, one scratch pixel, so cropping costs nothing."""
        H, W = self.height, self.width
        offsets = np.arange(self.max_size)
        rows = top[:, None] + offsets
        cols = left[:, None] + offsets
        inside = ((rows >= 0) & (rows < H))[:, :, None] & ((cols >= 0) & (cols < W))[:, None, :]
        pixel = ((flat_frame[:, None] * H + rows) * W)[:, :, None] + cols[:, None, :]
        return np.where(inside, pixel, frames * H * W)

    def _paint(self, batch_shape, pixel, slot, patch, appearance) -> np.ndarray:
        """Frames (*batch_shape, H, W, D) with every object pasted at its ``_windows`` indices,
        layer by layer (slot 0 first)."""
        H, W = self.height, self.width
        flat = np.zeros((int(np.prod(batch_shape)) * H * W + 1, self.channels), np.uint8)
        scratch = len(flat) - 1
        cells = flat.view(np.dtype((np.void, self.channels))).reshape(-1)  # one item per pixel
        for layer in range(self.objects):
            on = slot == layer
            where = pixel[on]
            painted = self._compose(np.take(flat, where, axis=0), patch[on], appearance[on])
            cells[where] = painted.view(cells.dtype)[..., 0]
        return flat[:scratch].reshape(*batch_shape, H, W, self.channels)

    def _visible_fraction(self, frames: int, pixel, slot, patch, appearance) -> np.ndarray:
        """Per object, the share of its mask inside the frame and under no higher slot's mask,
        counted layer by layer from the top slot down (``Objects.visibility``)."""
        hidden = np.zeros(frames * self.height * self.width + 1, bool)
        hidden[-1] = True  # the scratch pixel: outside the frame
        masks = self._masks(patch, appearance)
        shown = np.zeros(len(slot), np.int64)
        for layer in reversed(range(self.objects)):
            on = np.flatnonzero(slot == layer)
            where, mask = pixel[on], masks[on]
            shown[on] = (mask & ~hidden[where]).sum(axis=(1, 2))
            hidden[where[mask]] = True
        return shown / np.maximum(masks.sum(axis=(1, 2)), 1)

    def stream(self, batch: int, length: int, seed: int) -> Iterator[Chunk]:
        """N = ``batch`` independent endless streams, cut into chunks of ``length`` frames.

        State carries across chunks (in the original gen_*.py the 64 training streams are
        continuous across files), so the frames do not depend on ``length``.
        """
        if batch < 1 or length < 1:
            raise ConfigError(f"stream batch and length must be >= 1, got {batch}, {length}")
        rng = np.random.default_rng(seed)
        state = self.new_state(batch)
        while True:
            yield self.advance(state, rng, length)


class SpritesGenerator(TbaGenerator):
    """Sprites-MOT: 6 colours x 4 shapes, scale/ratio jitter, alpha blending (gen_sprite.py)."""

    def __init__(self, **params: Any):
        super().__init__(**params)
        templates = shape_templates(self.template_size)
        sizes = range(self.min_size, self.max_size + 1)
        P = self.max_size
        alpha = np.zeros((len(templates), len(sizes), len(sizes), P, P), np.float32)
        for s, template in enumerate(templates):
            for a, height in enumerate(sizes):
                for b, width in enumerate(sizes):
                    mask = resize_bilinear(template, height, width)
                    alpha[s, a, b, :height, :width] = mask.astype(np.float32) / np.float32(255)
        self._alpha = alpha.reshape(-1, P, P)
        self._drawn = self._alpha > 0
        self._num_sizes = len(sizes)
        self._colours = sprite_colours().astype(np.float32)

    def _appearance(self, u, height, width):
        colour = np.floor(u[..., U_APPEAR_A] * len(self._colours))
        shape = np.floor(u[..., U_APPEAR_B] * 4)
        S = self._num_sizes
        patch = (shape * S + (height - self.min_size)) * S + (width - self.min_size)
        return colour * 4 + shape, patch

    def _compose(self, pixels, patch, appearance):
        """new = old + mask/255 * (colour - old), rounded (float32 as the original)."""
        old = pixels.astype(np.float32)
        new = self._colours[appearance // 4][:, None, None, :] - old
        new *= self._alpha[patch][..., None]
        new += old
        return np.rint(new, out=new).astype(np.uint8)

    def _masks(self, patch, appearance):
        return self._drawn[patch]


class MnistGenerator(TbaGenerator):
    """MNIST-MOT: raw 28x28 digits of the 70,000-digit pool, added with saturation
    (gen_mnist.py)."""

    def __init__(self, digits: np.ndarray, **params: Any):
        super().__init__(**params)
        if self.zeta_s or self.zeta_r:
            raise ConfigError("MNIST-MOT pastes raw digits: zeta_s and zeta_r must be 0")
        if digits.shape[1:] != (self.template_size, self.template_size):
            raise ConfigError(
                f"digits are {digits.shape[1:]}, template_size is {self.template_size}"
            )
        self._digits = digits

    def _appearance(self, u, height, width):
        digit = np.floor(u[..., U_APPEAR_A] * len(self._digits))
        return digit, digit

    def _compose(self, pixels, patch, appearance):
        """new = min(old + digit, 255)."""
        total = pixels.astype(np.uint16) + self._digits[patch][..., None]
        return np.minimum(total, 255).astype(np.uint8)

    def _masks(self, patch, appearance):
        return self._digits[patch] > 0


# -- adapters -------------------------------------------------------------------------------------

GENERATOR_PARAMS = (
    "height",
    "width",
    "channels",
    "objects",
    "template_size",
    "margin",
    "zeta_s",
    "zeta_r",
    "speed",
    "birth_prob",
    "wait",
)


def default_cache_root() -> Path:
    return Path(os.environ.get("TRACKBENCH_CACHE", Path.home() / ".cache" / "trackbench"))


def cache_folder(root: Path | None, name: str, content: dict[str, Any]) -> Path:
    """Where the generated data of dataset ``name`` described by ``content`` (everything that
    determines it) is cached: ``<root or $TRACKBENCH_CACHE>/<name>/<hash of content>``."""
    digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:16]
    return (root or default_cache_root()) / name / digest


def train_split_is_a_stream(name: str) -> ConfigError:
    """The error for asking a generated dataset's training stream for sequences."""
    return ConfigError(
        f"the train split of {name!r} is an endless generated stream; "
        "use adapter.stream(batch, length, seed) for training"
    )


def cached_folder(
    final: Path,
    params: dict[str, Any],
    write: Callable[[Path, dict[str, Any]], None],
    name: str,
    what: str,
) -> Path:
    """The cache folder ``final`` made by ``write(folder, params)``, reused when its
    ``params.json`` equals ``params``; written to a temporary folder and renamed into place, logged
    (``name``: the dataset, ``what``: the content), with Hugging Face progress bars off."""
    import datasets

    stamp = final / "params.json"
    if is_cached(final, params):
        return final
    if stamp.is_file():
        shutil.rmtree(final)  # only a hash collision or a hand edit gets here
    final.parent.mkdir(parents=True, exist_ok=True)
    for abandoned in final.parent.glob(f".tmp-{final.name}-*"):  # left by killed writers
        if time.time() - abandoned.stat().st_mtime > ABANDONED_AFTER_S:
            shutil.rmtree(abandoned, ignore_errors=True)
    tmp = final.parent / f".tmp-{final.name}-{uuid.uuid4().hex}"
    bars_were_off = datasets.utils.are_progress_bars_disabled()
    datasets.utils.disable_progress_bars()
    log.info("%s: generating and caching %s in %s", name, what, final)
    started = time.perf_counter()
    try:
        write(tmp, params)
        (tmp / "params.json").write_text(json.dumps(params, sort_keys=True))
        size = sum(f.stat().st_size for f in tmp.rglob("*") if f.is_file())
        log.info("%s: cached %.0f MB in %.1f s", name, size / 1e6, time.perf_counter() - started)
        try:
            os.rename(tmp, final)
        except OSError:
            if not stamp.is_file():  # a concurrent writer did not win either
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if not bars_were_off:
            datasets.utils.enable_progress_bars()
    return final


def is_cached(final: Path, params: dict[str, Any]) -> bool:
    """Whether the cache folder ``final`` holds the content ``params`` describe."""
    stamp = final / "params.json"
    return stamp.is_file() and json.loads(stamp.read_text()) == params


def image_rows(table: Any, shape: tuple[int, int, int]) -> Callable[[int], np.ndarray]:
    """The image of 0-based row ``i`` of a cached Hugging Face ``table`` whose ``image`` column is
    Array2D (H, W*D), as (H, W, D) uint8: zero-copy views of the memory-mapped arrow chunks, so an
    image is read only when asked for."""
    chunks = [
        chunk.storage.flatten().flatten().to_numpy(zero_copy_only=True).reshape(-1, *shape)
        for chunk in table.data.column("image").chunks
    ]
    starts = np.cumsum([0] + [len(chunk) for chunk in chunks])

    def image_at(row: int) -> np.ndarray:
        index = int(np.searchsorted(starts, row, side="right")) - 1
        return chunks[index][row - starts[index]].copy()

    return image_at


class SyntheticMOT(DatasetAdapter):
    """A TBA synthetic dataset: ``eval`` is one cached video, ``train`` an endless stream.

    ``root`` is the cache folder (default ``$TRACKBENCH_CACHE`` or ``~/.cache/trackbench``).
    """

    generated = True
    frames_param = "eval_frames"
    generator_version = CACHE_VERSION

    def _make_generator(self) -> TbaGenerator:
        raise NotImplementedError

    def _content_params(self) -> dict[str, Any]:
        """Everything that determines the eval video's content (hashed into the cache path)."""
        params = {key: self.params[key] for key in (*GENERATOR_PARAMS, "eval_frames", "eval_seed")}
        return {"dataset": self.card["name"], "version": CACHE_VERSION, **params}

    @functools.cached_property
    def generator(self) -> TbaGenerator:
        return self._make_generator()

    def stream(
        self, batch: int | None = None, length: int | None = None, seed: int | None = None
    ) -> Iterator[Chunk]:
        """The training stream (card defaults: train_batch, train_length, train_seed)."""

        def default(value, key):
            return self.params[key] if value is None else value

        return self.generator.stream(
            default(batch, "train_batch"),
            default(length, "train_length"),
            default(seed, "train_seed"),
        )

    def sequences(self, split: str) -> list[Sequence]:
        self.check_split(split)
        if split == "train":
            raise train_split_is_a_stream(self.card["name"])
        return [self.eval_sequence()]

    @property
    def cache_dir(self) -> Path:
        return cache_folder(self.root, self.card["name"], self._content_params())

    def cache_bytes(self, split: str) -> int:
        """The evaluation video's frames in bytes (uint8); the train stream is not cached."""
        return (
            0
            if split == "train"
            else self.params["eval_frames"] * int(np.prod(self._frame_shape()))
        )

    def cached(self, split: str) -> bool:
        return split == "train" or is_cached(self.cache_dir, self._content_params())

    def eval_sequence(self) -> Sequence:
        """The evaluation video, frames memory-mapped from the cache (built on first use)."""
        import datasets  # Hugging Face's, imported when needed: it is slow to import

        path = self._ensure_cache()
        parts = datasets.load_from_disk(str(path / "dataset"))
        H, W, D = self.params["height"], self.params["width"], self.params["channels"]
        total = self.params["eval_frames"]
        numbers = parts["frames"].data.column("frame").to_numpy()
        if not np.array_equal(numbers, np.arange(1, total + 1)):
            raise FormatError(f"cached frames are not 1..{total}; delete the folder", path)
        image_at = image_rows(parts["frames"], (H, W, D))
        gt = BoxTable.empty()
        if "gt" in parts:
            table = parts["gt"].data  # arrow keeps float64 (the numpy format gives float32)
            columns = {name: table.column(name).to_numpy() for name in table.column_names}
            box = np.stack([columns[key] for key in ("left", "top", "width", "height")], axis=1)
            gt = BoxTable.build(
                frame=columns["frame"],
                id=columns["id"],
                box=box,
                visibility=columns["visibility"],
            )

        return Sequence(
            name=f"{self.card['name']}-eval",
            num_frames=self.params["eval_frames"],
            width=W,
            height=H,
            fps=float(self.params["fps"]),
            gt=gt,
            load_frame=lambda number: image_at(number - 1),
            meta={"cache": str(path), "seed": self.params["eval_seed"]},
        )

    def _ensure_cache(self) -> Path:
        """The verified cache folder of the evaluation video (``cached_folder``)."""
        frames, (H, W, D) = self.params["eval_frames"], self._frame_shape()
        if frames < 1:
            raise ConfigError(f"eval_frames must be >= 1, got {frames}")
        what = (
            f"the {frames:,}-frame evaluation video ({H}x{W}x{D}, "
            f"about {self.cache_bytes('eval') / 1e6:.0f} MB)"
        )
        return cached_folder(
            self.cache_dir, self._content_params(), self._write_cache, self.card["name"], what
        )

    def _frame_shape(self) -> tuple[int, int, int]:
        return self.params["height"], self.params["width"], self.params["channels"]

    def _write_cache(self, folder: Path, params: dict[str, Any]) -> None:
        """Save frames (one row per frame) and GT (one row per box) with Hugging Face datasets.

        An image is stored as Array2D (H, W*D): a nested Array3D would store an offset per pixel.
        """
        import datasets

        H, W, D = self._frame_shape()
        total = self.params["eval_frames"]
        chunk_frames = 500
        gts: list[BoxTable] = []

        def rows():
            chunks = self.generator.stream(1, chunk_frames, self.params["eval_seed"])
            done = 0
            while done < total:
                chunk = next(chunks)
                count = min(chunk_frames, total - done)
                gt = chunk.gt(0)
                gts.append(gt.select(gt.frame <= total))
                for t in range(count):
                    yield {"frame": done + t + 1, "image": chunk.frames[0, t].reshape(H, W * D)}
                done += count

        features = datasets.Features(
            {"frame": datasets.Value("int32"), "image": datasets.Array2D((H, W * D), "uint8")}
        )
        frames = datasets.Dataset.from_generator(
            rows,
            features=features,
            cache_dir=str(folder / "build"),
            fingerprint=hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest(),
        )
        gt = BoxTable.concat(gts)
        gt_columns = {
            "frame": gt.frame,
            "id": gt.id,
            "left": gt.box[:, 0],
            "top": gt.box[:, 1],
            "width": gt.box[:, 2],
            "height": gt.box[:, 3],
            "visibility": gt.visibility,
        }
        parts = {"frames": frames}
        if len(gt.frame):  # datasets cannot load an empty table back: no objects, no "gt" part
            parts["gt"] = datasets.Dataset.from_dict(gt_columns)
        datasets.DatasetDict(parts).save_to_disk(str(folder / "dataset"))
        shutil.rmtree(folder / "build")


class SpritesMOT(SyntheticMOT):
    """Sprites-MOT (TBA ``gen_sprite.py``), 128x128 RGB."""

    def _make_generator(self) -> TbaGenerator:
        return SpritesGenerator(**{key: self.params[key] for key in GENERATOR_PARAMS})


class MnistMOT(SyntheticMOT):
    """MNIST-MOT (TBA ``gen_mnist.py``), 128x128 grey; digits from ``mnist_dir`` (see mnist_idx)."""

    @functools.cached_property
    def digits(self):
        return load_mnist(self.params.get("mnist_dir"))

    def _content_params(self) -> dict[str, Any]:
        return {**super()._content_params(), "mnist_md5": self.digits.fingerprint}

    def _make_generator(self) -> TbaGenerator:
        return MnistGenerator(
            self.digits.images, **{key: self.params[key] for key in GENERATOR_PARAMS}
        )
