"""Seeded test workloads: synthetic MOT sequences (gt + noisy predictions) for parity tests and
benchmarks, and the textured scene KCF follows (``render_scene``).

Objects random-walk with random lifespans; predictions miss some boxes, jitter the rest, swap
ids between tracks, restart tracks under new ids, and add false positives. ``mot17`` style gt
also has non-pedestrian and distractor classes, zero-marked rows and visibilities, and
predictions also cover distractors (which the ``mot1x`` protocols must remove).
"""

from __future__ import annotations

import numpy as np

from harness.data import BoxTable

MOT17_CLASSES = np.array([1, 2, 3, 4, 6, 7, 8, 12])
MOT17_CLASS_WEIGHTS = np.array([0.65, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05])


def random_sequence(
    seed: int,
    num_frames: int,
    num_objects: int,
    style: str = "mot15",
    image_size: tuple[int, int] = (1920, 1080),
    miss_rate: float = 0.1,
    jitter: float = 0.05,
    id_swaps: int = 3,
    false_positives: float = 0.05,
    decimals: int = 2,
) -> tuple[BoxTable, BoxTable]:
    """A (gt, pred) pair; boxes rounded to ``decimals`` as MOTChallenge files store them."""
    rng = np.random.default_rng(seed)
    width, height = image_size
    start = rng.integers(0, num_frames, num_objects)
    end = np.minimum(start + rng.integers(1, num_frames + 1, num_objects), num_frames)
    alive = (np.arange(num_frames)[:, None] >= start) & (np.arange(num_frames)[:, None] < end)
    size = rng.uniform(20, 120, num_objects)
    origin = rng.uniform([0, 0], [width, height], (num_objects, 2))
    steps = rng.normal(0, 3, (num_frames, num_objects, 2))
    centre = origin + np.cumsum(steps, axis=0)
    wh = np.stack([size, 2.5 * size], axis=-1)
    boxes = np.round(
        np.concatenate([centre - wh / 2, np.broadcast_to(wh, centre.shape)], -1), decimals
    )

    t, obj = np.nonzero(alive)
    if style == "mot17":
        cls = rng.choice(MOT17_CLASSES, num_objects, p=MOT17_CLASS_WEIGHTS)[obj]
        conf = (rng.random(len(t)) > 0.05).astype(float)
        visibility = np.round(rng.random(len(t)), 2)
    elif style == "mot15":
        cls, conf, visibility = None, np.ones(len(t)), None
    else:
        raise ValueError(f"unknown style {style!r}")
    gt = BoxTable.build(
        frame=t + 1, box=boxes[t, obj], id=obj + 1, conf=conf, cls_=cls, visibility=visibility
    )

    track = np.broadcast_to(np.arange(1, num_objects + 1), (num_frames, num_objects)).copy()
    for _ in range(id_swaps if num_objects > 1 else 0):
        i, j = rng.choice(num_objects, 2, replace=False)
        s = rng.integers(num_frames)
        track[s:, [i, j]] = track[s:, [j, i]]
        track[rng.integers(num_frames) :, rng.integers(num_objects)] += 1000
    seen = alive & (rng.random(alive.shape) > miss_rate)
    t, obj = np.nonzero(seen)
    noise = rng.normal(0, jitter, (len(t), 4)) * np.repeat(wh[obj], 2, axis=1)
    n_fp = int(false_positives * len(t))
    fp_wh = rng.uniform(20, 120, (n_fp, 1)) * [1, 2.5]
    fp_box = np.concatenate([rng.uniform([0, 0], [width, height], (n_fp, 2)), fp_wh], axis=1)
    pred = BoxTable.build(
        frame=np.concatenate([t + 1, rng.integers(1, num_frames + 1, n_fp)]),
        box=np.round(np.concatenate([boxes[t, obj] + noise, fp_box]), decimals),
        id=np.concatenate([track[t, obj], 100_000 + np.arange(n_fp)]),
        conf=np.round(rng.random(len(t) + n_fp), 3),
    )
    pred = pred.select(np.argsort(pred.frame, kind="stable"))
    return gt, pred.select((pred.box[:, 2] > 0) & (pred.box[:, 3] > 0))


SIZE, BOX = 100, 28


def render_scene(left: float, top: float, size: int = SIZE, seed: int = 0) -> np.ndarray:
    """A (size, size, 1) uint8 frame: a flat grey background and a textured patch, 40 Gaussian
    blobs of random sign and width 1.5-3 px inside a BOX-sized square at 1-based (left, top); any
    real shift renders exactly (up to uint8 rounding)."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(3, BOX - 3, (40, 2))
    widths = rng.uniform(1.5, 3, 40)
    signs = rng.choice([-1.0, 1.0], 40)
    y, x = np.mgrid[1 : size + 1, 1 : size + 1] + 0.5  # pixel centres, 1-based continuous
    dy = y[..., None] - top - centres[:, 1]
    dx = x[..., None] - left - centres[:, 0]
    blobs = (signs * np.exp(-(dx**2 + dy**2) / (2 * widths**2))).sum(-1)
    return np.clip(128 + 90 * blobs, 0, 255).astype(np.uint8)[..., None]
