"""MNIST digits from the four IDX files (LeCun et al.), or from the Hugging Face hub when online.

The digit pool of the synthetic datasets is train (60,000) followed by test (10,000), as TBA's
``gen_mnist.py`` concatenates them (He et al. 2019, §4.1). A folder may hold fewer digits per part
(the tests' stand-in digits); the pool is then that train part followed by that test part. MNIST is
CC BY-SA 3.0 (Y. LeCun, C. Cortes, C. J. C. Burges); trackbench never ships or copies the files.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import os
import socket
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.errors import ConfigError, FormatError

ENV_VAR = "TRACKBENCH_MNIST"
HUB_ID = "ylecun/mnist"
IDX_UBYTE = 0x08
DIGIT_SIZE = 28
# (images, labels, digits in the full set) per part, in pool order.
PARTS = (
    ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", 60000),
    ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", 10000),
)
FULL_SIZE = sum(count for _, _, count in PARTS)
FILE_NAMES = tuple(name for images, labels, _ in PARTS for name in (images, labels))
HOW_TO_FIX = (
    f"set {ENV_VAR}=PATH or pass --mnist PATH (the dataset param 'mnist_dir'), where PATH is a "
    f"folder with the four MNIST IDX files {', '.join(n + '.gz' for n in FILE_NAMES)} "
    "(gzip-compressed or not)"
)


@dataclass(frozen=True)
class MnistDigits:
    """The digit pool: ``images`` (N, 28, 28) uint8, ``labels`` (N,) uint8; N = 70,000 for the
    full set. The first ``train_size`` digits are the train part, the rest the test part."""

    images: np.ndarray
    labels: np.ndarray
    train_size: int

    @property
    def train(self) -> np.ndarray:
        """The train part's images."""
        return self.images[: self.train_size]

    @property
    def test(self) -> np.ndarray:
        """The test part's images."""
        return self.images[self.train_size :]

    @property
    def full(self) -> bool:
        return len(self.images) == FULL_SIZE

    @functools.cached_property
    def fingerprint(self) -> str:
        """md5 of the images and labels, so a cache made from other digits is never reused."""
        return hashlib.md5(self.images.tobytes() + self.labels.tobytes()).hexdigest()


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file of unsigned bytes (gzip-compressed when the name ends in .gz).

    Layout: magic 0x0000 0x08 ndim, then ndim big-endian uint32 sizes, then the bytes.
    """
    path = Path(path)
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise FormatError(f"cannot read IDX file: {exc}", path) from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise FormatError("not an IDX file (bad magic number)", path)
    if raw[2] != IDX_UBYTE:
        raise FormatError(
            f"unsupported IDX element type 0x{raw[2]:02x} (expected 0x08, ubyte)", path
        )
    ndim = raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise FormatError("truncated IDX header", path)
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    if len(raw) - header != int(np.prod(shape)):
        raise FormatError(
            f"IDX size mismatch: header says {shape} = {int(np.prod(shape))} bytes, "
            f"file holds {len(raw) - header}",
            path,
        )
    return np.frombuffer(raw, np.uint8, offset=header).reshape(shape)


def _idx_path(folder: Path, name: str) -> Path:
    for candidate in (folder / f"{name}.gz", folder / name):
        if candidate.is_file():
            return candidate
    raise ConfigError(f"MNIST file {name}[.gz] not found in {folder}; {HOW_TO_FIX}")


@functools.lru_cache(maxsize=2)
def _load_folder(folder: Path) -> MnistDigits:
    images, labels = [], []
    for images_name, labels_name, count in PARTS:
        image_path, label_path = _idx_path(folder, images_name), _idx_path(folder, labels_name)
        part_images, part_labels = read_idx(image_path), read_idx(label_path)
        n = len(part_images)
        if not 0 < n <= count or part_images.shape[1:] != (DIGIT_SIZE, DIGIT_SIZE):
            raise FormatError(
                f"expected up to {count} digits of {DIGIT_SIZE}x{DIGIT_SIZE},"
                f" got {part_images.shape}",
                image_path,
            )
        if part_labels.shape != (n,):
            raise FormatError(f"expected {n} labels, got shape {part_labels.shape}", label_path)
        images.append(part_images)
        labels.append(part_labels)
    return MnistDigits(np.concatenate(images), np.concatenate(labels), len(images[0]))


def _hub_reachable() -> bool:
    """True when the hub may be used: not in offline mode and its host answers within 2 s."""
    import datasets

    if datasets.config.HF_HUB_OFFLINE:
        return False
    try:
        socket.create_connection(("huggingface.co", 443), timeout=2).close()
    except OSError:
        return False
    return True


def _load_hub() -> MnistDigits:
    import datasets

    parts = datasets.load_dataset(HUB_ID)
    images, labels = [], []
    for split in ("train", "test"):
        images.append(np.stack([np.asarray(img, np.uint8) for img in parts[split]["image"]]))
        labels.append(np.asarray(parts[split]["label"], np.uint8))
    return MnistDigits(np.concatenate(images), np.concatenate(labels), len(images[0]))


def load_mnist(folder: str | Path | None = None) -> MnistDigits:
    """The digit pool from ``folder``, else ``$TRACKBENCH_MNIST``, else the hub when online.

    Raises ConfigError saying how to point trackbench at the files when none of these works.
    """
    folder = folder or os.environ.get(ENV_VAR)
    if folder:
        folder = Path(folder).expanduser().resolve()
        if not folder.is_dir():
            raise ConfigError(f"MNIST folder {folder} does not exist; {HOW_TO_FIX}")
        return _load_folder(folder)
    if _hub_reachable():
        return _load_hub()
    raise ConfigError(
        f"no MNIST folder given and the Hugging Face hub is unreachable; {HOW_TO_FIX}"
    )
