"""Stand-in digits for the tests, written in MNIST's IDX layout; no MNIST data is in the project.

Each "digit" is a few bright strokes on black, 28x28 uint8, drawn from a seed: enough for the
loader, the MNIST-MOT generator and the trackers, which only need digit-sized patches. Tests that
need the real 70,000 digits are marked ``full_mnist`` and read the folder ``$TRACKBENCH_MNIST``
names.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from harness.datasets.mnist_idx import DIGIT_SIZE, PARTS


def idx_bytes(array: np.ndarray, type_code: int = 0x08) -> bytes:
    """``array`` as an IDX file: magic 0x0000, element type, ndim, big-endian sizes, bytes."""
    header = bytes([0, 0, type_code, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    return header + array.astype(np.uint8).tobytes()


def stroke_digits(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``count`` stand-in digits (count, 28, 28) uint8 of 2-4 strokes each, and labels 0-9."""
    rng = np.random.default_rng(seed)
    images = np.zeros((count, DIGIT_SIZE, DIGIT_SIZE), np.uint8)
    steps = np.linspace(0, 1, 40)[:, None]
    for image in images:
        for _ in range(rng.integers(2, 5)):
            start, end = rng.uniform(4, DIGIT_SIZE - 5, (2, 2))
            points = np.round(start + steps * (end - start)).astype(int)
            for dy in (0, 1):
                for dx in (0, 1):
                    image[points[:, 0] + dy, points[:, 1] + dx] = rng.integers(128, 256)
    return images, rng.integers(0, 10, count).astype(np.uint8)


def write_digit_folder(folder: Path, counts: tuple[int, int] = (400, 100)) -> Path:
    """The four gzip-compressed IDX files of ``stroke_digits`` (train, test counts) in
    ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for seed, ((images_name, labels_name, _), count) in enumerate(zip(PARTS, counts)):
        images, labels = stroke_digits(count, seed)
        (folder / f"{images_name}.gz").write_bytes(gzip.compress(idx_bytes(images), mtime=0))
        (folder / f"{labels_name}.gz").write_bytes(gzip.compress(idx_bytes(labels), mtime=0))
    return folder
